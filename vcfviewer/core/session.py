"""ReviewSession: the reader's editable copy of a Proposal, with undo, measurements and events.

Pure numpy, no Qt: the GUI subscribes to changes and calls the edit methods; the CLI and tests use
the same object. Every edit is ONE undo step, marks the findings it touches ``reader_edited`` and
stamps ``provenance.modified``; an invalid edit raises ``EditError`` and changes nothing.

Decisions (documented for the GUI):

* ``move_landmark`` CLAMPS points into the image (a drag that overshoots the edge stops at it);
  ``add_finding`` REFUSES points outside the image, since they are typed or clicked on purpose.
* ``accept_all`` means "the reader has reviewed every finding and takes responsibility for the
  read": it needs a reader name, sets ``provenance.reader`` and ``provenance.source = "reader"``,
  and leaves the findings untouched (untouched ones stay AUTOMATIC in DICOM SEG; the SR is
  written as VERIFIED by that reader). ``is_accepted`` reports it.
* ``set_grade`` with a grade ≥ 1 and no type uses the measured type; the model's probability is
  cleared once the reader decides by hand (``VertebraFinding.fracture_probability`` contract).
* ``swap_anterior_posterior`` is the one-action fix for a film whose facing the model got wrong:
  every body's anterior and posterior landmarks trade places (Ha and Hp with them), and a wedge
  becomes a crush and back, since the type names the height that fell. Grades stay: the Genant
  loss compares each height with the same kind of height on the neighbours, all swapped alike.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from vcfviewer.core import levels as _levels
from vcfviewer.core.annotation import (
    LANDMARK_NAMES,
    AnnotationError,
    FractureType,
    Grade,
    Lookalike,
    Proposal,
    StudyAnnotation,
    VertebraFinding,
    now_iso,
)
from vcfviewer.core.history import DEFAULT_LIMIT, History
from vcfviewer.core.morphometry import StudyMeasurements, measure_study

Listener = Callable[[StudyAnnotation], None]


class EditError(ValueError):
    """An edit the annotation cannot take (unknown finding, duplicate level, bad point, ...)."""


class ReviewSession:
    """The proposal (frozen), the current annotation, its undo history and its measurements."""

    def __init__(self, proposal: Proposal, annotation: StudyAnnotation | None = None,
                 history_limit: int = DEFAULT_LIMIT) -> None:
        self._proposal = proposal
        self._history: History[StudyAnnotation] = History(
            annotation if annotation is not None else proposal.annotation, history_limit)
        self._listeners: list[Listener] = []
        self._cache: tuple[StudyAnnotation, StudyMeasurements] | None = None

    # --- state ---------------------------------------------------------------------------

    @property
    def proposal(self) -> Proposal:
        return self._proposal

    @property
    def annotation(self) -> StudyAnnotation:
        return self._history.current

    @property
    def measurements(self) -> StudyMeasurements:
        """Measurements of the current annotation (computed once per annotation object)."""
        current = self.annotation
        if self._cache is None or self._cache[0] is not current:
            self._cache = (current, measure_study(current))
        return self._cache[1]

    @property
    def dirty(self) -> bool:
        return self._history.dirty

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    @property
    def undo_label(self) -> str | None:
        return self._history.undo_label

    @property
    def redo_label(self) -> str | None:
        return self._history.redo_label

    @property
    def is_accepted(self) -> bool:
        """True once ``accept_all`` recorded the reader's sign-off."""
        prov = self.annotation.provenance
        return prov.source == "reader" and bool(prov.reader)

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(annotation)`` after every change; returns an unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def mark_saved(self) -> None:
        """The current annotation has been written: ``dirty`` turns False until the next edit."""
        self._history.mark_saved()

    def undo(self) -> bool:
        """Revert the last edit; False when there is nothing to undo."""
        if not self._history.can_undo:
            return False
        self._history.undo()
        self._notify()
        return True

    def redo(self) -> bool:
        """Re-apply the last undone edit; False when there is nothing to redo."""
        if not self._history.can_redo:
            return False
        self._history.redo()
        self._notify()
        return True

    # --- edits ---------------------------------------------------------------------------

    def move_landmark(self, finding_id: str, index: int | str, xy: Sequence[float],
                      drag_id: Hashable | None = None) -> None:
        """Move one landmark (clamped into the image); moves sharing ``drag_id`` are one step."""
        finding = self._finding(finding_id)
        if finding.landmarks is None:
            raise EditError(f"{finding.level} has no landmarks to move")
        i = _landmark_index(index)
        point = self._clamped(_as_point(xy))
        points = finding.landmarks.copy()
        points[i] = point
        key = None if drag_id is None else ("move", finding_id, drag_id)
        self._commit(self.annotation.with_finding(finding.edited(landmarks=points)),
                     f"move {LANDMARK_NAMES[i].replace('_', ' ')} of {finding.level}", key)

    def end_drag(self) -> None:
        """The running drag ended: a later move with the same drag_id starts a new step."""
        self._history.end_coalescing()

    def relabel(self, finding_id: str, level: str) -> None:
        """Give one body another level name (refused when another body already has it)."""
        finding = self._finding(finding_id)
        name = _valid_level(level)
        if name == finding.level:
            return
        other = self.annotation.by_level(name)
        if other is not None and other.finding_id != finding_id:
            raise EditError(f"level {name} is already taken by another body")
        self._commit(self.annotation.with_finding(finding.edited(level=name)),
                     f"relabel {finding.level} as {name}")

    def renumber_column(self, steps: int) -> None:
        """Shift every level by ``steps`` (positive = caudal); the sacrum stays put."""
        current = self.annotation
        try:
            names = _levels.renumber(current.levels, int(steps))
        except _levels.LevelError as exc:
            raise EditError(str(exc)) from None
        self._commit(_renamed(current, names), f"renumber column by {int(steps):+d}")

    def name_l6(self) -> None:
        """Six lumbar bodies above the sacrum: the one named L5 becomes L6, the rest one lower."""
        current = self.annotation
        try:
            names = _levels.with_l6(current.levels)
        except _levels.LevelError as exc:
            raise EditError(str(exc)) from None
        self._commit(_renamed(current, names), "name the body above the sacrum L6")

    def swap_anterior_posterior(self) -> None:
        """The patient faces the other way: swap every body's anterior and posterior points."""
        current = self.annotation
        findings = tuple(_facing_swapped(f) if f.landmarks is not None else f
                         for f in current.findings)
        self._commit(_rebuilt(current, findings), "swap anterior and posterior")

    def set_grade(self, finding_id: str, grade: Grade | int,
                  fracture_type: FractureType | str | None = None) -> None:
        """Set the decided Genant grade and type of one body."""
        finding = self._finding(finding_id)
        try:
            g = Grade(int(grade))
            t = FractureType(fracture_type) if fracture_type is not None else None
        except ValueError as exc:
            raise EditError(f"{finding.level}: {exc}") from None
        if t is None:
            t = FractureType.NONE if g == Grade.NORMAL else self._measured_type(finding)
        if (g == Grade.NORMAL) != (t == FractureType.NONE):
            raise EditError(f"{finding.level}: grade {g.name} and type {t.value} disagree")
        changed = finding.edited(grade=g, fracture_type=t, fracture_probability=None)
        self._commit(self.annotation.with_finding(changed), f"grade {finding.level} as {int(g)}")

    def clear_fracture(self, finding_id: str) -> None:
        """Call the body normal (grade 0, no type)."""
        self.set_grade(finding_id, Grade.NORMAL, FractureType.NONE)

    def set_lookalikes(self, finding_id: str, lookalikes: Iterable[Lookalike | str]) -> None:
        """Replace the look-alike flags of one body."""
        finding = self._finding(finding_id)
        try:
            flags = frozenset(Lookalike(x) for x in lookalikes)
        except ValueError as exc:
            raise EditError(f"{finding.level}: {exc}") from None
        self._commit(self.annotation.with_finding(finding.edited(lookalikes=flags)),
                     f"flag look-alikes of {finding.level}")

    def add_finding(self, level: str, landmarks: Sequence[Sequence[float]] | np.ndarray,
                    plane_index: int | None = None) -> str:
        """Add a body the model missed (six points inside the image; on a CT, on sagittal plane
        ``plane_index``); returns its finding id."""
        name = _valid_level(level)
        if self.annotation.by_level(name) is not None:
            raise EditError(f"level {name} is already taken by another body")
        try:
            finding = VertebraFinding(level=name, landmarks=landmarks, reader_edited=True,
                                      added_by_reader=True, plane_index=plane_index)
            added = self.annotation.with_finding(finding)
        except AnnotationError as exc:
            raise EditError(f"{name}: {exc}") from None
        if finding.landmarks is not None:
            self._check_inside(finding.landmarks, name)
        self._commit(added, f"add {name}")
        return finding.finding_id

    def delete_finding(self, finding_id: str) -> None:
        """Remove a body (a false positive)."""
        finding = self._finding(finding_id)
        self._commit(self.annotation.without_finding(finding_id), f"delete {finding.level}")

    def set_reader(self, name: str | None) -> None:
        """Record who is reading (never logged); empty clears it."""
        reader = (name or "").strip() or None
        prov = replace(self.annotation.provenance, reader=reader)
        self._commit(replace(self.annotation, provenance=prov), "set reader")

    def accept_all(self, reader: str | None = None) -> None:
        """The reader signs off every finding as it stands (see module docstring)."""
        name = (reader or "").strip() or self.annotation.provenance.reader
        if not name:
            raise EditError("set the reader's name before accepting the findings")
        prov = replace(self.annotation.provenance, reader=name, source="reader")
        self._commit(replace(self.annotation, provenance=prov), "accept all findings")

    # --- internals -----------------------------------------------------------------------

    def _finding(self, finding_id: str) -> VertebraFinding:
        try:
            return self.annotation.finding(finding_id)
        except KeyError:
            raise EditError(f"no finding with id {finding_id!r}") from None

    def _measured_type(self, finding: VertebraFinding) -> FractureType:
        m = self.measurements.by_id.get(finding.finding_id)
        if m is None or m.measured_type == FractureType.NONE:
            raise EditError(f"{finding.level}: give a fracture type (none can be measured)")
        return m.measured_type

    def _clamped(self, point: np.ndarray) -> np.ndarray:
        image = self.annotation.image
        return np.clip(point, [0.0, 0.0], [image.columns - 1.0, image.rows - 1.0])

    def _check_inside(self, points: np.ndarray, level: str) -> None:
        if not np.array_equal(np.vstack([self._clamped(p) for p in points]), points):
            image = self.annotation.image
            raise EditError(f"{level}: landmarks must lie inside the "
                            f"{image.columns}×{image.rows} image")

    def _commit(self, new: StudyAnnotation, label: str, key: Hashable | None = None) -> None:
        if new == self.annotation:
            return  # nothing changed: no undo step, no event
        stamped = replace(new, provenance=replace(new.provenance, modified=now_iso()))
        self._history.push(stamped, label, key)
        self._notify()

    def _notify(self) -> None:
        current = self.annotation
        for callback in list(self._listeners):
            callback(current)


def _rebuilt(annotation: StudyAnnotation, findings: tuple[VertebraFinding, ...]) -> StudyAnnotation:
    try:
        return replace(annotation, findings=findings)
    except AnnotationError as exc:
        raise EditError(str(exc)) from None


def _other_side(name: str) -> str:
    """The landmark on the same endplate at the opposite wall (middle points stay)."""
    if "anterior" in name:
        return name.replace("anterior", "posterior")
    return name.replace("posterior", "anterior")


# Landmark order after the swap: each anterior point takes its posterior partner's place.
_FACING_ORDER = [LANDMARK_NAMES.index(_other_side(name)) for name in LANDMARK_NAMES]
_FACING_TYPE = {FractureType.WEDGE: FractureType.CRUSH, FractureType.CRUSH: FractureType.WEDGE}


def _facing_swapped(finding: VertebraFinding) -> VertebraFinding:
    ftype = _FACING_TYPE.get(finding.fracture_type, finding.fracture_type)
    return finding.edited(landmarks=finding.landmarks[_FACING_ORDER], fracture_type=ftype)


def _renamed(annotation: StudyAnnotation, names: Sequence[str]) -> StudyAnnotation:
    """The annotation with its findings (in order) renamed; renamed ones marked edited."""
    findings = tuple(f if f.level == n else f.edited(level=n)
                     for f, n in zip(annotation.findings, names, strict=True))
    return _rebuilt(annotation, findings)


def _valid_level(level: str) -> str:
    try:
        return _levels.validate(level)
    except _levels.LevelError as exc:
        raise EditError(str(exc)) from None


def _landmark_index(index: int | str) -> int:
    if isinstance(index, str):
        if index not in LANDMARK_NAMES:
            raise EditError(f"unknown landmark {index!r}; expected one of {LANDMARK_NAMES}")
        return LANDMARK_NAMES.index(index)
    if not 0 <= int(index) < len(LANDMARK_NAMES):
        raise EditError(f"landmark index {index} outside 0..5")
    return int(index)


def _as_point(xy: Sequence[float]) -> np.ndarray:
    point = np.asarray(xy, dtype=np.float64).reshape(-1)
    if point.shape != (2,) or not np.all(np.isfinite(point)):
        raise EditError(f"a landmark position is two finite numbers [x, y], got {xy!r}")
    return point

"""Six-point vertebral morphometry: heights, ratios, reference height, Genant grade, VC, SDI.

``measure_study`` is the ONE function every displayed or exported number comes from (GUI, CSV,
DICOM SR, CLI). Rules and sources: ``CLINICAL.md`` §2–3. Decisions taken where the sources leave
room (all documented in ``docs/annotation-schema.md`` too):

* Heights are straight distances between paired landmarks using anisotropic spacing
  (dx · column spacing, dy · row spacing) when the image has pixel spacing; pixels otherwise.
* A *fractured neighbour* is one whose DECIDED grade (``finding.grade``, the model's proposal or
  the reader's choice) is ≥ 1. The nearest non-fractured, measurable, non-sacral body above and
  below serve as neighbours; at the ends of the column (or when every body on one side is
  fractured) the single remaining neighbour is used. The same neighbours serve the crush ratio,
  the reference height and VC.
* Reference height = max(own Hp, mean of the neighbours' *corresponding* height), where the
  corresponding height is the same kind (anterior/middle/posterior) as the body's smallest height.
* Grade cut-offs on height loss L (after rounding to 1e-9): L < 20 % → 0; 20 % ≤ L < 25 % → 1;
  25 % ≤ L ≤ 40 % → 2; L > 40 % → 3. Borderline: |L − c| ≤ 3 points for c in 20/25/40 %.
* Type (grade ≥ 1 only): crush when the body kept its shape (smallest/largest own height ≥ 0.85,
  i.e. height lost evenly against the neighbours); otherwise the smallest height names it:
  anterior → wedge, middle → biconcave, posterior → crush.
* Flattening (``flattening``): the tallest of the body's own Ha, Hm, Hp as a share of the same
  height's mean over its normal neighbours, only with one above AND one below. A body flattened
  as a whole (every height well below both neighbours') has lost height though its own shape
  ratios look normal: they compare the body with itself.
* SDI = sum of DECIDED grades over the vertebral bodies (sacrum excluded); ``sdi_measured`` is the
  same sum over measured grades of the measurable bodies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vcfviewer.core import levels as _levels
from vcfviewer.core.annotation import (
    HEIGHT_PAIRS,
    LANDMARK_NAMES,
    FractureType,
    Grade,
    StudyAnnotation,
    VertebraFinding,
)

GRADE_CUTOFFS: tuple[float, float, float] = (0.20, 0.25, 0.40)
BORDERLINE_MARGIN = 0.03  # ±3 percentage points around each cut-off
SHAPE_KEPT_RATIO = 0.85  # smallest/largest own height at or above this: whole-body (crush) loss
INCIDENT_FRACTION = 0.20  # follow-up: ≥ 20 % ...
INCIDENT_MM = 4.0  # ... and ≥ 4 mm height decrease versus the prior study
EXPECTED_LUMBAR = 5
_MIN_LENGTH_PX = 1e-6  # distances below this are "coincident points"
_ROUND = 9  # cut-off comparisons after rounding, so 1 - 0.8 counts as 20 %


class MorphometryError(ValueError):
    """A study-level measurement that cannot be made (e.g. incident fractures without mm)."""


@dataclass(frozen=True)
class VertebraMeasurement:
    """Every number shown for one body; ``measurable`` False carries the reason instead."""

    finding_id: str
    level: str
    measurable: bool
    reason: str = ""
    unit: str = "px"  # "mm" with pixel spacing, else "px" (ratios only are meaningful)
    ha: float | None = None
    hm: float | None = None
    hp: float | None = None
    wedge_ratio: float | None = None  # Ha/Hp
    biconcave_ratio: float | None = None  # Hm/Hp
    crush_ratio: float | None = None  # Hp / mean Hp of vc_levels; None without a neighbour
    reference_height: float | None = None
    reference_levels: tuple[str, ...] = ()  # neighbours that set the reference; () = own Hp
    height_loss: float | None = None  # 0..1
    measured_grade: Grade = Grade.NORMAL
    measured_type: FractureType = FractureType.NONE
    borderline: bool = False
    vc: float | None = None  # Seo 2021 anterior compression vs neighbours (signed fraction)
    vc_levels: tuple[str, ...] = ()  # neighbours used for VC and the crush ratio
    height_loss_mm: float | None = None  # reference − smallest height, only when unit is mm
    smallest_height: str | None = None  # "anterior", "middle" or "posterior"
    # tallest own height / the same height's mean over a normal neighbour above and one below
    flattening: float | None = None

    def __post_init__(self) -> None:
        if self.unit not in ("mm", "px"):
            raise ValueError(f"{self.level}: unit must be 'mm' or 'px', got {self.unit!r}")
        if self.measurable == bool(self.reason):
            raise ValueError(f"{self.level}: a reason is given exactly when not measurable")
        for name in ("ha", "hm", "hp", "wedge_ratio", "biconcave_ratio", "crush_ratio",
                     "reference_height", "height_loss", "vc", "height_loss_mm", "flattening"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{self.level}: {name} is not a finite number")

    @property
    def heights(self) -> dict[str, float | None]:
        return {"anterior": self.ha, "middle": self.hm, "posterior": self.hp}

    @property
    def grade_label(self) -> str:
        """The measured grade as shown on badges: "2", or "2?" when borderline."""
        return f"{int(self.measured_grade)}{'?' if self.borderline else ''}"


@dataclass(frozen=True)
class StudyMeasurements:
    """Measurements of every finding in a study, keyed by finding id, plus study-level figures."""

    by_id: dict[str, VertebraMeasurement]
    sdi: int  # sum of DECIDED grades over the vertebral bodies
    sdi_measured: int  # sum of measured grades over the measurable bodies
    lumbar_count: int
    unit: str
    warnings: tuple[str, ...] = ()
    by_level: dict[str, VertebraMeasurement] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.by_level:
            object.__setattr__(self, "by_level", {m.level: m for m in self.by_id.values()})

    def __getitem__(self, finding_id: str) -> VertebraMeasurement:
        return self.by_id[finding_id]

    @property
    def measured(self) -> list[VertebraMeasurement]:
        """Measurable bodies, cranial → caudal."""
        ms = [m for m in self.by_id.values() if m.measurable]
        return sorted(ms, key=lambda m: _levels.rank(m.level))


@dataclass(frozen=True)
class IncidentFracture:
    """A body whose height fell by ≥ 20 % and ≥ 4 mm since the prior study (CLINICAL §3)."""

    level: str
    height: str  # which height fell most: "anterior", "middle" or "posterior"
    prior_mm: float
    current_mm: float
    decrease_mm: float
    decrease_fraction: float


@dataclass(frozen=True)
class _Shape:
    """Own heights of a measurable body, before the neighbours are consulted."""

    finding: VertebraFinding
    heights: dict[str, float]


def measured_grade(height_loss: float) -> tuple[Grade, bool]:
    """Genant grade for a height-loss fraction, and whether it is within ±3 points of a cut-off."""
    if height_loss is None or not math.isfinite(height_loss):
        raise MorphometryError(f"height loss must be a finite number, got {height_loss!r}")
    loss = round(float(height_loss), _ROUND)
    mild, moderate, severe = GRADE_CUTOFFS
    if loss < mild:
        grade = Grade.NORMAL
    elif loss < moderate:
        grade = Grade.MILD
    elif loss <= severe:
        grade = Grade.MODERATE
    else:
        grade = Grade.SEVERE
    borderline = any(round(abs(loss - c), _ROUND) <= BORDERLINE_MARGIN for c in GRADE_CUTOFFS)
    return grade, borderline


def fracture_type(heights: dict[str, float], grade: Grade) -> FractureType:
    """Genant type from the body's own heights (see module docstring for the rule)."""
    if grade == Grade.NORMAL:
        return FractureType.NONE
    smallest = min(heights.values())
    if smallest / max(heights.values()) >= SHAPE_KEPT_RATIO:
        return FractureType.CRUSH
    # ties go to crush, then wedge: the order the reader checks posterior, then anterior
    for kind, ftype in (("posterior", FractureType.CRUSH), ("anterior", FractureType.WEDGE),
                        ("middle", FractureType.BICONCAVE)):
        if heights[kind] == smallest:
            return ftype
    raise AssertionError("unreachable")  # pragma: no cover


def landmark_problem(points: np.ndarray | None) -> str:
    """Why six landmarks cannot be measured ("" when they can): NaN, coincident, out of order."""
    if points is None:
        return "no landmarks"
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape != (6, 2):
        return f"six landmarks are needed, got shape {pts.shape}"
    if not np.all(np.isfinite(pts)):
        return "a landmark is not a finite number"
    for sup, inf in HEIGHT_PAIRS.values():
        if np.hypot(*(pts[inf] - pts[sup])) < _MIN_LENGTH_PX:
            return f"coincident points: {LANDMARK_NAMES[sup]} and {LANDMARK_NAMES[inf]}"
        # image rows grow downwards: the inferior endplate must lie below the superior one
        if pts[inf, 1] <= pts[sup, 1]:
            return (f"landmarks out of order: {LANDMARK_NAMES[inf]} is not below "
                    f"{LANDMARK_NAMES[sup]}")
    return _endplate_problem(pts, 0) or _endplate_problem(pts, 3)


def _endplate_problem(pts: np.ndarray, first: int) -> str:
    ant, mid, post = pts[first], pts[first + 1], pts[first + 2]
    axis = post - ant
    length2 = float(axis @ axis)
    if length2 < _MIN_LENGTH_PX ** 2:
        return f"coincident points: {LANDMARK_NAMES[first]} and {LANDMARK_NAMES[first + 2]}"
    # the middle point must sit between the corners along the endplate, not beyond either
    t = float((mid - ant) @ axis) / length2
    if not 0.0 < t < 1.0:
        return (f"landmarks out of order: {LANDMARK_NAMES[first + 1]} is not between "
                f"{LANDMARK_NAMES[first]} and {LANDMARK_NAMES[first + 2]}")
    if first == 3:
        sup_axis = pts[2] - pts[0]
        if float(sup_axis @ axis) <= 0.0:
            return "landmarks out of order: anterior and posterior swapped on one endplate"
    return ""


def body_heights(points: np.ndarray, spacing: tuple[float, float] | None) -> dict[str, float]:
    """Ha, Hm, Hp as {"anterior", "middle", "posterior"}; mm with (row, col) spacing, else px."""
    row_mm, col_mm = spacing if spacing is not None else (1.0, 1.0)
    pts = np.asarray(points, dtype=np.float64)
    out: dict[str, float] = {}
    for kind, (sup, inf) in HEIGHT_PAIRS.items():
        dx, dy = pts[inf] - pts[sup]
        out[kind] = float(math.hypot(dx * col_mm, dy * row_mm))
    return out


def body_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(centre, posterior unit vector, inferior unit vector, depth, height) of a body from its
    six landmarks (superior anterior/middle/posterior, inferior anterior/middle/posterior)."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(6, 2)
    anterior = (lm[0] + lm[3]) / 2.0
    posterior = (lm[2] + lm[5]) / 2.0
    superior = lm[:3].mean(axis=0)
    inferior = lm[3:].mean(axis=0)
    back, down = posterior - anterior, inferior - superior
    depth, height = float(np.linalg.norm(back)), float(np.linalg.norm(down))
    if depth <= 0 or height <= 0:
        raise ValueError("degenerate landmarks: the body has no depth or no height")
    return lm.mean(axis=0), back / depth, down / height, depth, height


def _shapes(annotation: StudyAnnotation) -> tuple[dict[str, _Shape], dict[str, str]]:
    spacing = annotation.image.pixel_spacing
    shapes: dict[str, _Shape] = {}
    problems: dict[str, str] = {}
    for finding in annotation.findings:
        if finding.is_sacrum:
            problems[finding.finding_id] = "the sacrum anchors numbering and is not measured"
            continue
        problem = landmark_problem(finding.landmarks)
        if problem:
            problems[finding.finding_id] = problem
        else:
            shapes[finding.finding_id] = _Shape(finding, body_heights(finding.landmarks, spacing))
    return shapes, problems


def _neighbours(own: _Shape, shapes: Sequence[_Shape]) -> tuple[_Shape, ...]:
    """Nearest non-fractured measurable body above and below (either may be missing)."""
    rank = _levels.rank(own.finding.level)
    usable = [s for s in shapes if not s.finding.is_fractured and s is not own]
    above = [s for s in usable if _levels.rank(s.finding.level) < rank]
    below = [s for s in usable if _levels.rank(s.finding.level) > rank]
    picked = []
    if above:
        picked.append(max(above, key=lambda s: _levels.rank(s.finding.level)))
    if below:
        picked.append(min(below, key=lambda s: _levels.rank(s.finding.level)))
    return tuple(picked)


def _mean(shapes: Sequence[_Shape], kind: str) -> float:
    return float(sum(s.heights[kind] for s in shapes) / len(shapes))


def _measure_one(own: _Shape, neighbours: tuple[_Shape, ...], unit: str) -> VertebraMeasurement:
    h = own.heights
    smallest_kind = min(("posterior", "anterior", "middle"), key=lambda k: h[k])
    smallest = h[smallest_kind]
    reference, reference_levels = h["posterior"], ()
    if neighbours and _mean(neighbours, smallest_kind) > reference:
        reference = _mean(neighbours, smallest_kind)
        reference_levels = tuple(s.finding.level for s in neighbours)
    loss = 1.0 - smallest / reference
    grade, borderline = measured_grade(loss)
    names = tuple(s.finding.level for s in neighbours)
    vc = crush = flattening = None
    if neighbours:
        mean_ha = _mean(neighbours, "anterior")
        vc = (mean_ha - h["anterior"]) / mean_ha
        crush = h["posterior"] / _mean(neighbours, "posterior")
    if len(neighbours) == 2:  # one above and one below (``_neighbours`` picks at most one each)
        flattening = max(h[k] / _mean(neighbours, k) for k in h)
    return VertebraMeasurement(
        finding_id=own.finding.finding_id, level=own.finding.level, measurable=True, unit=unit,
        ha=h["anterior"], hm=h["middle"], hp=h["posterior"],
        wedge_ratio=h["anterior"] / h["posterior"], biconcave_ratio=h["middle"] / h["posterior"],
        crush_ratio=crush, reference_height=reference, reference_levels=reference_levels,
        height_loss=loss, measured_grade=grade, measured_type=fracture_type(h, grade),
        borderline=borderline, vc=vc, vc_levels=names,
        height_loss_mm=(reference - smallest) if unit == "mm" else None,
        smallest_height=smallest_kind, flattening=flattening,
    )


def _lumbar_count_doubtful(annotation: StudyAnnotation, count: int) -> bool:
    """Is ``count`` lumbar bodies a doubt where this film lets one count? More than five always;
    fewer only with a thoracic body above and the sacrum below (a film that starts at L2 shows
    four)."""
    if count > EXPECTED_LUMBAR:
        return True
    framed = (any(_levels.region(f.level) == "thoracic" for f in annotation.findings)
              and any(f.is_sacrum for f in annotation.findings))
    return 0 < count < EXPECTED_LUMBAR and framed


def _study_warnings(annotation: StudyAnnotation, problems: dict[str, str], unit: str,
                    lumbar: int) -> list[str]:
    out: list[str] = []
    if _lumbar_count_doubtful(annotation, lumbar):
        out.append(f"lumbar count {lumbar} (expected {EXPECTED_LUMBAR})")
    transitional = [f.level for f in annotation.findings if _levels.is_transitional(f.level)]
    if transitional:
        out.append(f"transitional level(s) {', '.join(transitional)}: check the numbering")
    if unit == "px":
        out.append("no pixel spacing: heights in pixels, ratios only")
    for finding in annotation.findings:
        if finding.finding_id in problems and not finding.is_sacrum:
            out.append(f"{finding.level} not measurable: {problems[finding.finding_id]}")
    return out


def measure_study(annotation: StudyAnnotation) -> StudyMeasurements:
    """Measure every finding of ``annotation`` by the rules of CLINICAL.md §2–3."""
    unit = "mm" if annotation.image.pixel_spacing is not None else "px"
    shapes, problems = _shapes(annotation)
    ordered = list(shapes.values())
    by_id: dict[str, VertebraMeasurement] = {}
    for finding in annotation.findings:
        fid = finding.finding_id
        if fid in shapes:
            by_id[fid] = _measure_one(shapes[fid], _neighbours(shapes[fid], ordered), unit)
        else:
            by_id[fid] = VertebraMeasurement(fid, finding.level, False, problems[fid], unit)
    sdi = sum(int(f.grade) for f in annotation.vertebrae)
    sdi_measured = sum(int(m.measured_grade) for m in by_id.values() if m.measurable)
    lumbar = sum(1 for f in annotation.findings if _levels.region(f.level) == "lumbar")
    warnings = tuple(_study_warnings(annotation, problems, unit, lumbar))
    return StudyMeasurements(by_id=by_id, sdi=sdi, sdi_measured=sdi_measured, lumbar_count=lumbar,
                             unit=unit, warnings=warnings)


def incident_fractures(
    prior: StudyAnnotation | StudyMeasurements, current: StudyAnnotation | StudyMeasurements
) -> list[IncidentFracture]:
    """Bodies (matched by level) whose Ha, Hm or Hp fell by ≥ 20 % and ≥ 4 mm since ``prior``."""
    before = prior if isinstance(prior, StudyMeasurements) else measure_study(prior)
    after = current if isinstance(current, StudyMeasurements) else measure_study(current)
    for name, study in (("prior", before), ("current", after)):
        if study.unit != "mm":
            raise MorphometryError(f"the {name} study has no pixel spacing: the 4 mm rule needs mm")
    found: list[IncidentFracture] = []
    for level, now in after.by_level.items():
        was = before.by_level.get(level)
        if was is None or not (was.measurable and now.measurable):
            continue
        hit = _incident(level, was, now)
        if hit is not None:
            found.append(hit)
    return sorted(found, key=lambda f: _levels.rank(f.level))


def _incident(level: str, was: VertebraMeasurement,
              now: VertebraMeasurement) -> IncidentFracture | None:
    best: IncidentFracture | None = None
    for kind in ("anterior", "middle", "posterior"):
        before, after = was.heights[kind], now.heights[kind]
        assert before is not None and after is not None
        drop = before - after
        fraction = drop / before
        if round(fraction, _ROUND) >= INCIDENT_FRACTION and round(drop, _ROUND) >= INCIDENT_MM:
            candidate = IncidentFracture(level, kind, before, after, drop, fraction)
            if best is None or candidate.decrease_fraction > best.decrease_fraction:
                best = candidate
    return best

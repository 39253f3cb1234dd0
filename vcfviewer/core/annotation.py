"""The annotation model: what the model proposes and what the reader corrects and exports.

Everything here is an immutable dataclass; an edit makes a new object with ``dataclasses.replace``
(see ``core.session``), so a Proposal stays frozen and undo keeps whole snapshots cheaply
(numpy arrays are shared, never copied, between snapshots).

Coordinates are source-image pixels, x = column, y = row, for radiographs. On a CT every sagittal
reformat plane has the same pixel grid, so coordinates are reformat pixels and a plane index says
which plane: each body of a whole-volume CT analysis lies on its own mid-sagittal plane
(``VertebraFinding.plane_index``); an annotation of one plane names it in ``ImageRef.plane_index``.
``StudyAnnotation.plane_of`` resolves either.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum, IntEnum

import numpy as np

from vcfviewer.core import levels as _levels
from vcfviewer.core.image import Radiograph

LANDMARK_NAMES: tuple[str, ...] = (
    "superior_anterior",
    "superior_middle",
    "superior_posterior",
    "inferior_anterior",
    "inferior_middle",
    "inferior_posterior",
)
# Index pairs (superior, inferior) whose distances are Ha, Hm, Hp.
HEIGHT_PAIRS: dict[str, tuple[int, int]] = {"anterior": (0, 3), "middle": (1, 4), "posterior": (2, 5)}


class Grade(IntEnum):
    """Genant semiquantitative grade."""

    NORMAL = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3


class FractureType(str, Enum):
    NONE = "none"
    WEDGE = "wedge"  # anterior height lost most
    BICONCAVE = "biconcave"  # middle height lost most
    CRUSH = "crush"  # posterior / whole body


class Lookalike(str, Enum):
    """Findings that mimic a fracture and must not be called one (CLINICAL.md §9)."""

    SCHMORL_NODE = "schmorl_node"
    SHORT_BODY = "short_body"
    PHYSIOLOGICAL_WEDGE = "physiological_wedge"
    OSTEOPHYTE = "osteophyte"
    CEMENT = "cement"
    TRANSITIONAL = "transitional"
    CUT_AT_EDGE = "cut_at_edge"


class AnnotationError(ValueError):
    """A finding or annotation that breaks the model's invariants."""


def new_finding_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, eq=False)
class BodyMask:
    """A binary mask stored as its bounding box to keep whole-film masks cheap.

    ``array`` is boolean of shape (h, w); its top-left pixel is (row=top, column=left) of the image.
    """

    top: int
    left: int
    array: np.ndarray

    def __post_init__(self) -> None:
        if self.array.ndim != 2 or self.array.dtype != np.bool_:
            raise AnnotationError("a body mask is a 2-D boolean array")
        if self.top < 0 or self.left < 0:
            raise AnnotationError("a body mask must start inside the image")

    @classmethod
    def from_full(cls, full: np.ndarray) -> "BodyMask":
        """Crop a full-image boolean mask to its bounding box."""
        full = np.asarray(full, dtype=bool)
        rows = np.flatnonzero(full.any(axis=1))
        cols = np.flatnonzero(full.any(axis=0))
        if rows.size == 0:
            raise AnnotationError("empty mask")
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return cls(int(top), int(left), full[top:bottom, left:right].copy())

    def to_full(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, dtype=bool)
        h = min(self.array.shape[0], shape[0] - self.top)
        w = min(self.array.shape[1], shape[1] - self.left)
        if h > 0 and w > 0:
            out[self.top: self.top + h, self.left: self.left + w] = self.array[:h, :w]
        return out

    @property
    def area(self) -> int:
        return int(self.array.sum())

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BodyMask)
            and (self.top, self.left) == (other.top, other.left)
            and np.array_equal(self.array, other.array)
        )

    __hash__ = None  # type: ignore[assignment]


def _as_landmarks(points: object) -> np.ndarray:
    arr = np.array(points, dtype=np.float64)
    if arr.shape != (6, 2):
        raise AnnotationError(f"six landmarks as [x, y] are needed, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise AnnotationError("landmarks must be finite numbers")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class VertebraFinding:
    """One vertebral body: where it is, what level it is, and what was decided about it.

    ``landmarks`` are the six points of LANDMARK_NAMES as a read-only (6, 2) array of [x, y], or
    None for the sacrum (which anchors numbering but is not measured). ``grade`` and
    ``fracture_type`` are the decision (model proposal or reader's choice); the measured grade
    comes from ``core.morphometry`` and is shown beside it.
    """

    level: str
    landmarks: np.ndarray | None
    grade: Grade = Grade.NORMAL
    fracture_type: FractureType = FractureType.NONE
    fracture_probability: float | None = None  # the model's, None once a reader sets it by hand
    mask: BodyMask | None = None
    lookalikes: frozenset[Lookalike] = frozenset()
    reader_edited: bool = False
    finding_id: str = field(default_factory=new_finding_id)
    # True for a body the reader placed by hand (DICOM SEG algorithm type MANUAL).
    added_by_reader: bool = False
    # CT: the sagittal reformat plane this body's landmarks and mask lie on (its own mid-sagittal
    # plane, CLINICAL §2). None on radiographs and when the whole annotation is on one plane.
    plane_index: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _levels.validate(self.level))
        if self.landmarks is not None:
            object.__setattr__(self, "landmarks", _as_landmarks(self.landmarks))
        elif self.level != _levels.SACRUM:
            raise AnnotationError(f"{self.level}: a vertebral body needs six landmarks")
        object.__setattr__(self, "grade", Grade(self.grade))
        object.__setattr__(self, "fracture_type", FractureType(self.fracture_type))
        object.__setattr__(self, "lookalikes", frozenset(Lookalike(x) for x in self.lookalikes))
        p = self.fracture_probability
        if p is not None and not (np.isfinite(p) and 0.0 <= p <= 1.0):
            raise AnnotationError(f"{self.level}: fracture probability {p} outside [0, 1]")
        if self.plane_index is not None:
            if int(self.plane_index) != self.plane_index or self.plane_index < 0:
                raise AnnotationError(f"{self.level}: plane index {self.plane_index} is not a "
                                      "non-negative integer")
            object.__setattr__(self, "plane_index", int(self.plane_index))
        if (self.grade == Grade.NORMAL) != (self.fracture_type == FractureType.NONE):
            raise AnnotationError(f"{self.level}: grade {self.grade.name} and type "
                                  f"{self.fracture_type.value} disagree")

    @property
    def is_sacrum(self) -> bool:
        return self.level == _levels.SACRUM

    @property
    def is_fractured(self) -> bool:
        return self.grade >= Grade.MILD

    def landmark(self, name: str) -> np.ndarray:
        if self.landmarks is None:
            raise AnnotationError(f"{self.level} has no landmarks")
        return self.landmarks[LANDMARK_NAMES.index(name)]

    def centre(self) -> np.ndarray:
        """Centre [x, y]: mean of the landmarks, else the mask's centre of mass."""
        if self.landmarks is not None:
            return self.landmarks.mean(axis=0)
        if self.mask is not None:
            rows, cols = np.nonzero(self.mask.array)
            return np.array([cols.mean() + self.mask.left, rows.mean() + self.mask.top])
        raise AnnotationError(f"{self.level} has neither landmarks nor a mask")

    def edited(self, **changes: object) -> "VertebraFinding":
        """A copy with ``changes`` applied and marked as changed by the reader."""
        return replace(self, reader_edited=True, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VertebraFinding):
            return NotImplemented
        same_points = (
            (self.landmarks is None and other.landmarks is None)
            or (self.landmarks is not None and other.landmarks is not None
                and np.array_equal(self.landmarks, other.landmarks))
        )
        return same_points and all(
            getattr(self, f) == getattr(other, f)
            for f in ("level", "grade", "fracture_type", "fracture_probability", "mask",
                      "lookalikes", "reader_edited", "finding_id", "added_by_reader",
                      "plane_index")
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ImageRef:
    """The image an annotation belongs to; enough for exports to reference it."""

    path: str
    rows: int
    columns: int
    pixel_spacing: tuple[float, float] | None  # (row, column) mm, None = ratios only
    spacing_source: str = "none"
    sop_instance_uid: str | None = None
    sop_class_uid: str | None = None
    series_instance_uid: str | None = None
    study_instance_uid: str | None = None
    frame_number: int | None = None
    modality: str = ""
    plane_index: int | None = None  # CT, one-plane annotation: the plane all landmarks lie on
    plane_count: int | None = None  # CT: sagittal planes in the reformat the annotation lives in

    @property
    def is_reformat(self) -> bool:
        """True when coordinates are CT sagittal-reformat pixels, not a stored image's."""
        return self.plane_index is not None or self.plane_count is not None


def image_ref_for(image: Radiograph, plane_index: int | None = None,
                  plane_count: int | None = None) -> ImageRef:
    """The ImageRef of an annotation drawn on ``image`` (a CT reformat names its plane/planes)."""
    src = image.source
    return ImageRef(path=src.path, rows=image.rows, columns=image.columns,
                    pixel_spacing=image.spacing_mm, spacing_source=image.spacing_source.value,
                    sop_instance_uid=src.sop_instance_uid, sop_class_uid=src.sop_class_uid,
                    series_instance_uid=src.series_instance_uid,
                    study_instance_uid=src.study_instance_uid, frame_number=src.frame_number,
                    modality=image.patient.modality, plane_index=plane_index,
                    plane_count=plane_count)


@dataclass(frozen=True)
class Provenance:
    """Who and what produced an annotation (ARCHITECTURE rule 6)."""

    software_version: str
    model_id: str | None = None
    model_version: str | None = None
    reader: str | None = None
    created: str = field(default_factory=lambda: now_iso())
    modified: str | None = None
    source: str = "model"  # "model", "reader", "simulator"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StudyAnnotation:
    """All findings on one image, ordered cranial → caudal, plus image reference and provenance."""

    image: ImageRef
    findings: tuple[VertebraFinding, ...]
    provenance: Provenance
    flags: tuple[str, ...] = ()  # study-level remarks, e.g. "lumbar count 4 (expected 5)"

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))
        names = [f.level for f in self.findings]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1}, key=_levels.rank)
            raise AnnotationError(f"duplicate levels: {', '.join(dupes)}")
        ids = [f.finding_id for f in self.findings]
        if len(set(ids)) != len(ids):
            raise AnnotationError("duplicate finding ids")
        ordered = tuple(sorted(self.findings, key=lambda f: _levels.rank(f.level)))
        object.__setattr__(self, "findings", ordered)
        count = self.image.plane_count
        for f in self.findings:
            if f.plane_index is not None and count is not None and f.plane_index >= count:
                raise AnnotationError(f"{f.level}: plane {f.plane_index} outside the reformat's "
                                      f"{count} planes")

    def plane_of(self, finding: VertebraFinding) -> int | None:
        """The CT sagittal plane ``finding`` lies on (None on a radiograph)."""
        return finding.plane_index if finding.plane_index is not None else self.image.plane_index

    @property
    def levels(self) -> list[str]:
        return [f.level for f in self.findings]

    @property
    def vertebrae(self) -> tuple[VertebraFinding, ...]:
        """Measured bodies (everything but the sacrum)."""
        return tuple(f for f in self.findings if not f.is_sacrum)

    def finding(self, finding_id: str) -> VertebraFinding:
        for f in self.findings:
            if f.finding_id == finding_id:
                return f
        raise KeyError(finding_id)

    def by_level(self, level: str) -> VertebraFinding | None:
        name = _levels.validate(level)
        return next((f for f in self.findings if f.level == name), None)

    def with_finding(self, finding: VertebraFinding) -> "StudyAnnotation":
        """Replace the finding with the same id (or add it)."""
        others = [f for f in self.findings if f.finding_id != finding.finding_id]
        return replace(self, findings=tuple(others + [finding]))

    def without_finding(self, finding_id: str) -> "StudyAnnotation":
        return replace(self, findings=tuple(f for f in self.findings if f.finding_id != finding_id))

    @property
    def reader_edited(self) -> bool:
        return any(f.reader_edited for f in self.findings)


@dataclass(frozen=True)
class Proposal:
    """The model's output for one image: frozen; the reader edits a copy (``annotation``)."""

    annotation: StudyAnnotation
    device: str = "cpu"
    timings_s: tuple[tuple[str, float], ...] = ()
    study_fracture_probability: float | None = None
    facing: str | None = None  # "left"/"right": the way the patient was taken to face (radiographs)

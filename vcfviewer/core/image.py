"""Images as the product sees them: pixels plus the geometry and provenance that travel with them.

Pure numpy. Loaders in ``vcfviewer.io`` build these; everything downstream (model, morphometry,
exports, drawing) reads geometry from here and never re-derives it from headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class SpacingSource(str, Enum):
    """Which header (if any) the in-plane pixel spacing came from; shown to the reader."""

    PIXEL_SPACING = "PixelSpacing"  # calibrated at the patient plane
    IMAGER_CORRECTED = "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
    IMAGER = "ImagerPixelSpacing"  # at the detector: includes geometric magnification
    NOMINAL = "NominalScannedPixelSpacing"
    VOLUME = "Volume"  # CT/NIfTI voxel spacing
    NONE = "none"  # raster files and stripped headers: ratios only

    @property
    def is_known(self) -> bool:
        return self is not SpacingSource.NONE


@dataclass(frozen=True)
class Window:
    """Display window in the image's stored (post-modality-LUT) values."""

    center: float
    width: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.center) or not np.isfinite(self.width) or self.width <= 0:
            raise ValueError(f"invalid window centre={self.center} width={self.width}")

    @property
    def low(self) -> float:
        return self.center - self.width / 2

    @property
    def high(self) -> float:
        return self.center + self.width / 2

    @classmethod
    def from_range(cls, low: float, high: float) -> "Window":
        width = max(float(high) - float(low), 1e-6)
        return cls(center=(float(high) + float(low)) / 2, width=width)

    @classmethod
    def from_percentiles(cls, pixels: np.ndarray, lo: float = 0.5, hi: float = 99.5) -> "Window":
        """A robust default window when the header offers none."""
        sample = pixels[:: max(1, pixels.shape[0] // 512), :: max(1, pixels.shape[-1] // 512)]
        finite = sample[np.isfinite(sample)]
        if finite.size == 0:
            return cls(0.0, 1.0)
        low, high = np.percentile(finite, [lo, hi])
        return cls.from_range(float(low), float(high))


@dataclass(frozen=True)
class SourceRef:
    """Where an image came from, so exports can reference it (DICOM UIDs when there are any)."""

    path: str
    sop_instance_uid: str | None = None
    sop_class_uid: str | None = None
    series_instance_uid: str | None = None
    study_instance_uid: str | None = None
    frame_number: int | None = None  # 1-based, for multi-frame files


@dataclass(frozen=True)
class PatientInfo:
    """Demographics and study descriptors. Never written to logs."""

    patient_name: str = ""
    patient_id: str = ""
    patient_sex: str = ""
    patient_birth_date: str = ""
    study_date: str = ""
    study_description: str = ""
    series_description: str = ""
    accession_number: str = ""
    modality: str = ""
    series_number: int | None = None


@dataclass(frozen=True)
class Radiograph:
    """A 2-D projection image (CR/DX/secondary capture/raster), or one reformatted CT plane.

    ``pixels`` are float32 in stored values after the modality LUT, shown bone-bright
    (MONOCHROME1 is inverted on load). ``spacing_mm`` is (row, column) spacing in millimetres, or
    None when unknown. Coordinates everywhere are source pixels: x = column, y = row.
    """

    pixels: np.ndarray
    spacing_mm: tuple[float, float] | None
    spacing_source: SpacingSource
    window: Window
    source: SourceRef
    patient: PatientInfo = field(default_factory=PatientInfo)
    photometric: str = "MONOCHROME2"
    inverted_on_load: bool = False  # MONOCHROME1 inverted so bone is bright
    magnification_factor: float | None = None
    notes: tuple[str, ...] = ()  # loader remarks shown to the reader (e.g. "no pixel spacing")

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2:
            raise ValueError(f"a radiograph needs a 2-D array, got shape {self.pixels.shape}")
        if self.pixels.shape[0] < 2 or self.pixels.shape[1] < 2:
            raise ValueError(f"image too small: {self.pixels.shape}")
        if self.spacing_mm is not None:
            if len(self.spacing_mm) != 2 or min(self.spacing_mm) <= 0:
                raise ValueError(f"invalid pixel spacing {self.spacing_mm}")
        if (self.spacing_mm is None) != (self.spacing_source is SpacingSource.NONE):
            raise ValueError("spacing_mm and spacing_source disagree about whether spacing is known")

    @property
    def rows(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def columns(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def has_spacing(self) -> bool:
        return self.spacing_mm is not None


@dataclass(frozen=True)
class Volume:
    """A CT/MR/NIfTI volume in (slice, row, column) order with its patient-space geometry.

    ``spacing_mm`` is (slice, row, column); ``direction`` has the unit vectors of the column,
    row and slice axes as its columns (LPS, DICOM convention); ``origin`` is the LPS position of
    voxel (0, 0, 0). ``slice_sources`` has one SourceRef per slice for DICOM series.
    """

    voxels: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    window: Window
    source: SourceRef
    patient: PatientInfo = field(default_factory=PatientInfo)
    slice_sources: tuple[SourceRef, ...] = ()
    units: str = "HU"
    notes: tuple[str, ...] = ()  # missing/uneven slices, gantry tilt, ...

    def __post_init__(self) -> None:
        if self.voxels.ndim != 3:
            raise ValueError(f"a volume needs a 3-D array, got shape {self.voxels.shape}")
        if len(self.spacing_mm) != 3 or min(self.spacing_mm) <= 0:
            raise ValueError(f"invalid voxel spacing {self.spacing_mm}")
        if np.asarray(self.direction).shape != (3, 3):
            raise ValueError("direction must be a 3x3 matrix")

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.voxels.shape)  # type: ignore[return-value]


Image = Radiograph | Volume

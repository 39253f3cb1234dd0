"""CT/MR series (one file per slice, or one enhanced multi-frame file) and NIfTI → core Volume.

Slices are ordered by their position along the slice normal (ImageOrientationPatient ×
ImagePositionPatient), never by file name or instance number. The result is always a regular,
orthogonal grid, so everything downstream can trust ``Volume.spacing_mm`` and ``direction``:

* gantry tilt (slice positions drifting in-plane) is removed by shifting each slice in-plane onto
  the orthogonal grid (linear interpolation) and reported in ``Volume.notes``;
* uneven spacing or missing slices are resampled (linear, along the normal) to a uniform spacing
  close to the median acquired spacing and reported; ``slice_sources`` then name the nearest
  acquired slice;
* duplicate positions keep the first slice; mixed sizes, orientations or pixel spacings are
  refused with a LoadError.

NIfTI is read with nibabel and its RAS affine converted to LPS.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vcfviewer.core.image import PatientInfo, SourceRef, Volume, Window
from vcfviewer.core.progress import Job, Progress
from vcfviewer.io import dicom_image as dicom
from vcfviewer.io.errors import LoadError, describe

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

BONE_WINDOW = Window(center=400.0, width=1800.0)
_ORIENTATION_TOL = 1e-3  # direction cosines that differ less than this are the same orientation
_DUPLICATE_MM = 0.01
_UNEVEN_REL = 0.02  # spacing deviating more than 2 % (+0.01 mm) from the median is uneven
_TILT_MIN_DEG = 0.05
NIFTI_SUFFIXES = (".nii", ".nii.gz")


class NotAVolume(LoadError):
    """The files do not form one stack (one position only, no dominant orientation...).

    ``loader`` then shows the first image as a 2-D image instead of refusing it.
    """


@dataclass(frozen=True)
class _Slice:
    """Header facts about one slice (a file, or one frame of an enhanced multi-frame file)."""

    path: str
    frame: int | None  # 0-based frame in a multi-frame file; None for single-frame files
    position: np.ndarray  # LPS of the first pixel (ImagePositionPatient)
    orientation: np.ndarray  # six direction cosines (ImageOrientationPatient)
    shape: tuple[int, int]
    spacing: tuple[float, float]  # (row, column) mm
    rescale: tuple[float, float]  # (slope, intercept)
    source: SourceRef


def is_nifti_path(path: str | os.PathLike[str]) -> bool:
    """Whether the file name says NIfTI (.nii or .nii.gz)."""
    return os.fspath(path).lower().endswith(NIFTI_SUFFIXES)


def _floats(value: Any, count: int) -> np.ndarray | None:
    try:
        arr = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (count,) and np.all(np.isfinite(arr)) else None


def _group_item(groups: Any, keyword: str) -> Any:
    try:
        return groups[keyword].value[0]
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _frame_attr(frame_group: Any, shared: Any, sequence: str, keyword: str) -> Any:
    """An attribute from the per-frame functional group, else from the shared one."""
    for groups in (frame_group, shared):
        item = _group_item(groups, sequence) if groups is not None else None
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def _slices_of_enhanced(ds: "Dataset", path: str) -> list[_Slice]:
    """One _Slice per frame of an enhanced CT/MR multi-frame file (per-frame functional groups)."""
    frames = dicom.number_of_frames(ds)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared_seq = ds.get("SharedFunctionalGroupsSequence") or []
    shared = shared_seq[0] if len(shared_seq) else None
    if len(per_frame) < frames:
        raise NotAVolume(path, "multi-frame file without per-frame positions")
    slices = []
    for index in range(frames):
        group = per_frame[index]
        position = _floats(_frame_attr(group, shared, "PlanePositionSequence",
                                       "ImagePositionPatient"), 3)
        orientation = _floats(_frame_attr(group, shared, "PlaneOrientationSequence",
                                          "ImageOrientationPatient"), 6)
        spacing = _floats(_frame_attr(group, shared, "PixelMeasuresSequence", "PixelSpacing"), 2)
        slope = _frame_attr(group, shared, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = _frame_attr(group, shared, "PixelValueTransformationSequence",
                                "RescaleIntercept")
        slices.append(_make_slice(ds, path, index, position, orientation, spacing,
                                  (slope, intercept)))
    return slices


def _make_slice(
    ds: "Dataset", path: str, frame: int | None, position: np.ndarray | None,
    orientation: np.ndarray | None, spacing: np.ndarray | None, rescale: tuple[Any, Any],
) -> _Slice:
    if position is None or orientation is None:
        raise LoadError(path, "no ImagePositionPatient/ImageOrientationPatient: the slices "
                              "cannot be ordered into a volume")
    if spacing is None or np.any(spacing <= 0):
        raise LoadError(path, "no valid PixelSpacing: cannot build a volume")
    try:
        slope = float(rescale[0]) if rescale[0] not in (None, "") else 1.0
        intercept = float(rescale[1]) if rescale[1] not in (None, "") else 0.0
    except (TypeError, ValueError):
        slope, intercept = 1.0, 0.0
    if not (math.isfinite(slope) and math.isfinite(intercept)) or slope == 0:
        slope, intercept = 1.0, 0.0
    return _Slice(
        path=path, frame=frame, position=position, orientation=orientation,
        shape=(int(ds.Rows), int(ds.Columns)), spacing=(float(spacing[0]), float(spacing[1])),
        rescale=(slope, intercept),
        source=dicom.source_ref(ds, path, None if frame is None else frame + 1),
    )


def _slices_of_file(ds: "Dataset", path: str) -> list[_Slice]:
    """The slices one DICOM file contributes to a volume."""
    if int(ds.get("SamplesPerPixel") or 1) != 1:
        raise LoadError(path, "colour images cannot form a volume")
    if "Rows" not in ds or "Columns" not in ds:
        raise LoadError(path, "no image in this file (no Rows/Columns)")
    if dicom.number_of_frames(ds) > 1:
        return _slices_of_enhanced(ds, path)
    return [_make_slice(
        ds, path, None,
        _floats(ds.get("ImagePositionPatient"), 3), _floats(ds.get("ImageOrientationPatient"), 6),
        _floats(ds.get("PixelSpacing"), 2),
        (ds.get("RescaleSlope"), ds.get("RescaleIntercept")),
    )]


def _main_orientation(slices: list[_Slice]) -> tuple[list[_Slice], str | None]:
    """Keep the slices sharing the most common orientation (drops localizers mixed in)."""
    groups: list[list[_Slice]] = []
    for s in slices:
        for group in groups:
            if np.max(np.abs(s.orientation - group[0].orientation)) <= _ORIENTATION_TOL:
                group.append(s)
                break
        else:
            groups.append([s])
    groups.sort(key=len, reverse=True)
    if len(groups) == 1:
        return slices, None
    if len(groups[0]) < 2 or len(groups[0]) == len(groups[1]):
        raise NotAVolume(slices[0].path, "slices have different orientations and no single "
                                         "stack dominates")
    left_out = len(slices) - len(groups[0])
    return groups[0], f"{left_out} slice(s) with another orientation (localizer?) left out"


def _check_consistent(slices: list[_Slice]) -> None:
    """Refuse series whose slices cannot share one grid."""
    sizes = Counter(s.shape for s in slices)
    if len(sizes) > 1:
        listing = ", ".join(f"{r}x{c} ({n} slices)" for (r, c), n in sizes.most_common())
        raise LoadError(slices[0].path, f"mixed image sizes in the series: {listing}")
    ref = slices[0]
    for s in slices[1:]:
        if max(abs(a - b) for a, b in zip(s.spacing, ref.spacing)) > 1e-3 * max(ref.spacing):
            raise LoadError(s.path, f"mixed pixel spacing in the series: {s.spacing} vs "
                                    f"{ref.spacing}")


def _axes(orientation: np.ndarray, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit column direction (along a row), row direction (down a column) and slice normal."""
    along_row, along_col = orientation[:3], orientation[3:]
    norms = np.linalg.norm(along_row), np.linalg.norm(along_col)
    if min(norms) < 1e-6:
        raise LoadError(path, "ImageOrientationPatient is not a pair of directions")
    along_row, along_col = along_row / norms[0], along_col / norms[1]
    normal = np.cross(along_row, along_col)
    if np.linalg.norm(normal) < 1e-3:
        raise LoadError(path, "ImageOrientationPatient rows and columns are parallel")
    return along_row, along_col, normal / np.linalg.norm(normal)


@dataclass(frozen=True)
class _Stack:
    """Sorted, de-duplicated slices and what their positions say about the grid."""

    slices: list[_Slice]
    depths: np.ndarray  # position along the normal, mm, ascending
    axes: tuple[np.ndarray, np.ndarray, np.ndarray]
    notes: tuple[str, ...]


def _sort_stack(slices: list[_Slice]) -> _Stack:
    """Order slices along the normal and drop duplicate positions."""
    slices, orientation_note = _main_orientation(slices)
    _check_consistent(slices)
    axes = _axes(slices[0].orientation, slices[0].path)
    depth = np.array([float(s.position @ axes[2]) for s in slices])
    order = np.argsort(depth, kind="stable")
    kept, depths = [slices[order[0]]], [depth[order[0]]]
    for i in order[1:]:
        if depth[i] - depths[-1] > _DUPLICATE_MM:
            kept.append(slices[i])
            depths.append(depth[i])
    if len(kept) < 2:
        raise NotAVolume(kept[0].path, "all slices share one position")
    notes = [orientation_note] if orientation_note else []
    if len(kept) < len(slices):
        notes.append(f"{len(slices) - len(kept)} slice(s) at duplicate positions ignored")
    return _Stack(kept, np.array(depths), axes, tuple(notes))


def _tilt_shifts(stack: _Stack) -> tuple[np.ndarray, float]:
    """Per-slice in-plane offset (rows, cols) in pixels from the first slice, and the tilt (°)."""
    along_row, along_col, normal = stack.axes
    first = stack.slices[0].position
    row_mm, col_mm = stack.slices[0].spacing
    shifts = np.zeros((len(stack.slices), 2))
    for k, s in enumerate(stack.slices):
        offset = s.position - first
        offset = offset - (offset @ normal) * normal
        shifts[k] = (offset @ along_col) / row_mm, (offset @ along_row) / col_mm
    extent = stack.depths[-1] - stack.depths[0]
    if extent <= 0:
        return shifts, 0.0
    drift = np.hypot(shifts[-1, 0] * row_mm, shifts[-1, 1] * col_mm)
    return shifts, math.degrees(math.atan2(drift, extent))


def _read_headers(files: tuple[str, ...]) -> Job[tuple[list[_Slice], PatientInfo]]:
    slices: list[_Slice] = []
    patient = PatientInfo()
    for i, path in enumerate(files):
        ds = dicom.read_dataset(path, stop_before_pixels=True)
        if i == 0:
            patient = dicom.patient_info(ds)
        slices.extend(_slices_of_file(ds, path))
        if i % 16 == 0:
            yield Progress("read", 0.2 * i / len(files), f"reading headers {i + 1}/{len(files)}")
    if not slices:
        raise LoadError(files[0] if files else "", "no slices in the series")
    return slices, patient


def _decode_stack(stack: _Stack) -> Job[np.ndarray]:
    """Decode every slice into one float32 array in stack order, applying each slice's rescale."""
    rows, cols = stack.slices[0].shape
    voxels = np.empty((len(stack.slices), rows, cols), dtype=np.float32)
    by_path: dict[str, list[tuple[int, _Slice]]] = {}
    for k, s in enumerate(stack.slices):
        by_path.setdefault(s.path, []).append((k, s))
    for done, (path, members) in enumerate(by_path.items()):
        ds = dicom.read_dataset(path)
        frames = dicom.decode_pixels(ds, path)
        for k, s in members:
            data = frames if s.frame is None else frames[s.frame]
            if data.shape != (rows, cols):
                raise LoadError(path, f"decoded pixels have shape {data.shape}, "
                                      f"expected {(rows, cols)}")
            voxels[k] = data
            slope, intercept = s.rescale
            if slope != 1.0:
                voxels[k] *= np.float32(slope)
            if intercept != 0.0:
                voxels[k] += np.float32(intercept)
        yield Progress("decode", 0.2 + 0.7 * (done + 1) / len(by_path),
                       f"decoding {done + 1}/{len(by_path)}")
    return voxels


def _correct_tilt(voxels: np.ndarray, shifts: np.ndarray) -> None:
    """Shift each slice in-plane (in place) so the stack lies on an orthogonal grid."""
    from scipy import ndimage

    fill = float(voxels.min())
    for k in range(voxels.shape[0]):
        if np.any(np.abs(shifts[k]) > 1e-3):
            voxels[k] = ndimage.shift(voxels[k], shifts[k], order=1, mode="constant", cval=fill)


def _regular_depths(depths: np.ndarray) -> tuple[np.ndarray, float, str | None]:
    """Target depths (uniform) for the stack, the spacing, and a note when resampling is needed."""
    gaps = np.diff(depths)
    median = float(np.median(gaps))
    if np.all(np.abs(gaps - median) <= _UNEVEN_REL * median + 0.01):
        return depths, float((depths[-1] - depths[0]) / (len(depths) - 1)), None
    extent = float(depths[-1] - depths[0])
    count = int(round(extent / median)) + 1
    if count > 2 * len(depths):
        raise NotAVolume("", f"slices too sparse to form a volume ({len(depths)} slices over "
                             f"{extent:.0f} mm)")
    spacing = extent / (count - 1)
    missing = int(np.sum(np.round(gaps / median) - 1).clip(0))
    note = (f"uneven slice spacing ({gaps.min():.2f}–{gaps.max():.2f} mm"
            + (f", about {missing} missing slice(s)" if missing else "")
            + f"): resampled to {count} slices at {spacing:.2f} mm (linear); slice references "
            "name the nearest acquired slice")
    return depths[0] + spacing * np.arange(count), spacing, note


def _resample_depths(voxels: np.ndarray, depths: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Linear interpolation between acquired slices at ``targets`` (both ascending, mm)."""
    out = np.empty((len(targets),) + voxels.shape[1:], dtype=np.float32)
    upper = np.clip(np.searchsorted(depths, targets, side="right"), 1, len(depths) - 1)
    for t, (z, hi) in enumerate(zip(targets, upper)):
        lo = hi - 1
        w = np.float32(np.clip((z - depths[lo]) / (depths[hi] - depths[lo]), 0.0, 1.0))
        np.multiply(voxels[lo], np.float32(1.0) - w, out=out[t])
        out[t] += voxels[hi] * w
    return out


def _volume_window(voxels: np.ndarray, units: str) -> Window:
    if units == "HU":
        return BONE_WINDOW
    step = max(1, voxels.shape[0] // 32)
    return Window.from_percentiles(voxels[::step].reshape(-1, voxels.shape[-1]))


def _source_of_series(stack: _Stack) -> SourceRef:
    first = stack.slices[0]
    paths = sorted({s.path for s in stack.slices})
    path = paths[0] if len(paths) == 1 else os.path.commonpath([os.path.dirname(p) for p in paths])
    return SourceRef(path=path, sop_class_uid=first.source.sop_class_uid,
                     series_instance_uid=first.source.series_instance_uid,
                     study_instance_uid=first.source.study_instance_uid)


def load_dicom_volume(files: tuple[str, ...] | list[str]) -> Job[Volume]:
    """Job: build a Volume from the files of one CT/MR series (or one enhanced multi-frame file)."""
    files = tuple(os.fspath(f) for f in files)
    if not files:
        raise LoadError("", "empty series: no files to load")
    slices, patient = yield from _read_headers(files)
    stack = _sort_stack(slices)
    voxels = yield from _decode_stack(stack)
    notes = list(stack.notes)
    shifts, tilt = _tilt_shifts(stack)
    if tilt > _TILT_MIN_DEG:
        _correct_tilt(voxels, shifts)
        notes.append(f"gantry tilt {tilt:.1f}°: slices shifted in-plane onto an orthogonal grid "
                     "(linear interpolation)")
    try:
        targets, slice_mm, depth_note = _regular_depths(stack.depths)
    except NotAVolume as err:
        raise NotAVolume(stack.slices[0].path, err.reason) from None
    sources = tuple(s.source for s in stack.slices)
    if depth_note:
        notes.append(depth_note)
    if len(targets) != len(stack.depths) or not np.allclose(targets, stack.depths):
        voxels = _resample_depths(voxels, stack.depths, targets)
        nearest = np.abs(targets[:, None] - stack.depths[None, :]).argmin(axis=1)
        sources = tuple(stack.slices[i].source for i in nearest)
    yield Progress("decode", 0.95, "building the volume")
    return _assemble(stack, voxels, slice_mm, sources, notes, patient)


def _assemble(stack: _Stack, voxels: np.ndarray, slice_mm: float,
              sources: tuple[SourceRef, ...], notes: list[str], patient: PatientInfo) -> Volume:
    first = stack.slices[0]
    units = "HU" if patient.modality.upper() == "CT" else "signal"
    along_row, along_col, normal = stack.axes
    return Volume(
        voxels=voxels,
        spacing_mm=(float(slice_mm), first.spacing[0], first.spacing[1]),
        origin=tuple(float(v) for v in first.position),  # type: ignore[arg-type]
        direction=np.column_stack([along_row, along_col, normal]),
        window=_volume_window(voxels, units),
        source=_source_of_series(stack),
        patient=patient,
        slice_sources=sources,
        units=units,
        notes=tuple(notes),
    )


def _nifti_image(path: str) -> Any:
    import nibabel as nib

    try:
        return nib.load(path)
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except Exception as exc:  # nibabel: ImageFileError, gzip errors, struct errors
        raise LoadError(path, f"not a readable NIfTI file: {describe(exc)}") from None


def _nifti_voxels(image: Any, path: str) -> tuple[np.ndarray, list[str]]:
    """(i, j, k) float32 data of the first 3-D volume, with a note for 4-D files."""
    shape = tuple(int(n) for n in image.shape)
    if len(shape) < 3 or min(shape[:3]) < 1:
        raise LoadError(path, f"not a 3-D volume (shape {shape})")
    notes = []
    try:
        if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
            notes.append(f"{len(shape)}-D file: showing the first of {int(np.prod(shape[3:]))} "
                         "volumes")
            data = image.dataobj[(slice(None),) * 3 + (0,) * (len(shape) - 3)]
        else:
            data = np.asanyarray(image.dataobj).reshape(shape[:3], order="F")
        return np.asarray(data, dtype=np.float32), notes
    except MemoryError:
        raise LoadError(path, "not enough memory to load the volume") from None
    except Exception as exc:  # truncated or corrupt data blocks
        raise LoadError(path, f"cannot read the NIfTI data: {describe(exc)}") from None


def _looks_like_hu(voxels: np.ndarray) -> bool:
    """CT in HU has air near −1000 and bone above +200; MR and label maps do not."""
    sample = voxels[:: max(1, voxels.shape[0] // 24)]
    low, high = np.percentile(sample, [1, 99.9])
    return bool(low < -500 and high > 200)


def load_nifti(path: str | os.PathLike[str]) -> Job[Volume]:
    """Job: read a NIfTI file as a Volume in LPS (voxel axes (k, j, i) → (slice, row, column))."""
    path = os.fspath(path)
    yield Progress("read", 0.0, "reading NIfTI file")
    image = _nifti_image(path)
    data, notes = _nifti_voxels(image, path)
    yield Progress("decode", 0.8, "building the volume")
    affine = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(image.affine, dtype=np.float64)[:3]
    columns = affine[:, :3]
    spacing = np.linalg.norm(columns, axis=0)  # per voxel axis i, j, k
    if not np.all(np.isfinite(affine)) or np.any(spacing <= 0) or abs(np.linalg.det(columns)) < 1e-9:
        raise LoadError(path, "the NIfTI affine is singular or invalid")
    voxels = np.ascontiguousarray(data.transpose(2, 1, 0))
    units = "HU" if _looks_like_hu(voxels) else "signal"
    name = os.path.basename(path)
    return Volume(
        voxels=voxels,
        spacing_mm=(float(spacing[2]), float(spacing[1]), float(spacing[0])),
        origin=tuple(float(v) for v in affine[:, 3]),  # type: ignore[arg-type]
        direction=columns / spacing,
        window=_volume_window(voxels, units),
        source=SourceRef(path=path),
        patient=PatientInfo(series_description=name, modality="CT" if units == "HU" else ""),
        units=units,
        notes=tuple(notes + ["NIfTI: RAS affine converted to LPS"]),
    )

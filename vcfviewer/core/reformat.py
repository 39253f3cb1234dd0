"""Sagittal reformat of a Volume, with exact maps between plane pixels, voxels and patient mm.

Pure numpy. The plane axes are chosen from the volume's direction matrix, so axial, coronal and
sagittal acquisitions (and NIfTI converted to LPS) all give the same picture:

* plane index runs from the patient's right to left (increasing LPS x);
* plane rows run superior → inferior, columns anterior → posterior, so the patient faces LEFT on
  screen, the convention of lateral radiographs (CLINICAL.md §4);
* pixels are square: the coarser of the two in-plane voxel axes is resampled (linear) to the
  finer spacing, so a 3 mm axial stack with 0.7 mm pixels gives a 0.7 mm × 0.7 mm plane. The
  resampling is a fixed linear map, so ``plane_to_voxel`` / ``voxel_to_plane`` stay exact.

Each voxel axis is matched to the patient axis it is most aligned with; for oblique acquisitions
the "sagittal" plane is the voxel plane closest to sagittal, and ``plane_to_patient`` (which uses
the full direction matrix) still gives exact patient coordinates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from vcfviewer.core.image import Radiograph, SpacingSource, Volume, Window

BONE_WINDOW = Window(center=400.0, width=1800.0)
_BONE_HU = 200.0  # cortical/cancellous bone threshold for finding the spine
_BODY_HU = -300.0  # soft tissue vs air, for the body's left-right centre
_MID_SEARCH = 0.10  # search ±10 % of the planes around the body centre for the spine


@dataclass(frozen=True)
class _PlaneGeometry:
    """How plane (index, row, column) relates to the volume's (slice, row, column) axes."""

    axis_index: int  # array axis the plane index walks along
    axis_row: int  # array axis plane rows walk along
    axis_col: int  # array axis plane columns walk along
    flip_index: bool  # plane index 0 is the last voxel along axis_index
    flip_row: bool
    flip_col: bool
    step_row: float  # voxel units per plane row (≤ 1: upsampled axis)
    step_col: float
    pixel_mm: float
    shape: tuple[int, int, int]  # volume shape (slice, row, col)

    @property
    def count(self) -> int:
        return self.shape[self.axis_index]

    @property
    def plane_shape(self) -> tuple[int, int]:
        rows = int(np.floor((self.shape[self.axis_row] - 1) / self.step_row + 1e-6)) + 1
        cols = int(np.floor((self.shape[self.axis_col] - 1) / self.step_col + 1e-6)) + 1
        return rows, cols


def _axis_vectors(volume: Volume) -> np.ndarray:
    """Rows: LPS unit vector of array axis 0 (slice), 1 (row), 2 (column)."""
    direction = np.asarray(volume.direction, dtype=np.float64)
    return np.stack([direction[:, 2], direction[:, 1], direction[:, 0]])


def _geometry(volume: Volume) -> _PlaneGeometry:
    """Match array axes to patient axes (x: L, y: P, z: S) by the best permutation."""
    vectors = _axis_vectors(volume)
    best = max(itertools.permutations(range(3)),
               key=lambda perm: sum(abs(vectors[perm[p], p]) for p in range(3)))
    ax_x, ax_y, ax_z = best
    spacing = volume.spacing_mm
    pixel = min(spacing[ax_z], spacing[ax_y])
    return _PlaneGeometry(
        axis_index=ax_x, axis_row=ax_z, axis_col=ax_y,
        flip_index=vectors[ax_x, 0] < 0,  # index grows towards patient left (+x)
        flip_row=vectors[ax_z, 2] > 0,  # rows grow towards inferior (−z)
        flip_col=vectors[ax_y, 1] < 0,  # columns grow towards posterior (+y)
        step_row=pixel / spacing[ax_z], step_col=pixel / spacing[ax_y],
        pixel_mm=float(pixel), shape=volume.shape,
    )


def plane_spacing_mm(volume: Volume) -> float:
    """Distance in mm between neighbouring sagittal planes (the left-right voxel spacing)."""
    g = _geometry(volume)
    return float(volume.spacing_mm[g.axis_index])


def sagittal_count(volume: Volume) -> int:
    """Number of sagittal planes (voxels along the left-right axis)."""
    return _geometry(volume).count


def _resample_axis(array: np.ndarray, axis: int, step: float, count: int) -> np.ndarray:
    """Linear interpolation at positions 0, step, 2·step, ... along ``axis``."""
    n = array.shape[axis]
    if abs(step - 1.0) < 1e-9 or n == 1:
        return array
    positions = np.arange(count) * step
    lower = np.clip(np.floor(positions).astype(np.intp), 0, n - 2)
    weight = (positions - lower).astype(np.float32)
    shape = [1, 1]
    shape[axis] = count
    weight = weight.reshape(shape)
    a = np.take(array, lower, axis=axis)
    b = np.take(array, lower + 1, axis=axis)
    return a + (b - a) * weight


def sagittal_plane(volume: Volume, index: int) -> Radiograph:
    """One sagittal plane as a Radiograph: HU, square pixels, bone window, patient facing left."""
    g = _geometry(volume)
    if not 0 <= index < g.count:
        raise IndexError(f"sagittal plane {index} outside 0..{g.count - 1}")
    voxel_index = g.count - 1 - index if g.flip_index else index
    plane = np.take(volume.voxels, voxel_index, axis=g.axis_index)
    if g.axis_row > g.axis_col:  # remaining axes come out in ascending order
        plane = plane.T
    plane = plane[:: -1 if g.flip_row else 1, :: -1 if g.flip_col else 1]
    rows, cols = g.plane_shape
    plane = _resample_axis(plane, 0, g.step_row, rows)
    plane = _resample_axis(plane, 1, g.step_col, cols)
    window = BONE_WINDOW if volume.units == "HU" else volume.window
    notes = (f"sagittal reformat: plane {index + 1} of {g.count}",) + tuple(volume.notes)
    return Radiograph(
        pixels=np.ascontiguousarray(plane, dtype=np.float32),
        spacing_mm=(g.pixel_mm, g.pixel_mm),
        spacing_source=SpacingSource.VOLUME,
        window=window,
        source=volume.source,
        patient=volume.patient,
        notes=notes,
    )


def plane_to_voxel(volume: Volume, index: float, xy: np.ndarray | tuple[float, float]) -> np.ndarray:
    """Plane pixel [x=column, y=row] (array (..., 2)) → voxel [slice, row, column] (..., 3)."""
    g = _geometry(volume)
    xy = np.asarray(xy, dtype=np.float64)
    out = np.empty(xy.shape[:-1] + (3,), dtype=np.float64)
    row = xy[..., 1] * g.step_row
    col = xy[..., 0] * g.step_col
    out[..., g.axis_row] = (g.shape[g.axis_row] - 1) - row if g.flip_row else row
    out[..., g.axis_col] = (g.shape[g.axis_col] - 1) - col if g.flip_col else col
    out[..., g.axis_index] = (g.count - 1) - float(index) if g.flip_index else float(index)
    return out


def voxel_to_plane(volume: Volume, voxel: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Voxel [slice, row, column] (..., 3) → [plane index, x=column, y=row] (..., 3), fractional."""
    g = _geometry(volume)
    voxel = np.asarray(voxel, dtype=np.float64)
    along_row = voxel[..., g.axis_row]
    along_col = voxel[..., g.axis_col]
    along_index = voxel[..., g.axis_index]
    if g.flip_row:
        along_row = (g.shape[g.axis_row] - 1) - along_row
    if g.flip_col:
        along_col = (g.shape[g.axis_col] - 1) - along_col
    if g.flip_index:
        along_index = (g.count - 1) - along_index
    return np.stack([along_index, along_col / g.step_col, along_row / g.step_row], axis=-1)


def voxel_to_patient(volume: Volume, voxel: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Voxel [slice, row, column] (..., 3) → LPS millimetres (..., 3)."""
    voxel = np.asarray(voxel, dtype=np.float64)
    scaled = voxel[..., ::-1] * np.asarray(volume.spacing_mm[::-1], dtype=np.float64)
    direction = np.asarray(volume.direction, dtype=np.float64)
    return np.asarray(volume.origin, dtype=np.float64) + scaled @ direction.T


def patient_to_voxel(volume: Volume, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """LPS millimetres (..., 3) → voxel [slice, row, column] (..., 3), fractional."""
    lps = np.asarray(lps, dtype=np.float64) - np.asarray(volume.origin, dtype=np.float64)
    matrix = np.asarray(volume.direction, dtype=np.float64) * np.asarray(volume.spacing_mm[::-1])
    colrowslice = np.linalg.solve(matrix, lps.reshape(-1, 3).T).T.reshape(lps.shape)
    return colrowslice[..., ::-1]


def plane_to_patient(volume: Volume, index: float, xy: np.ndarray | tuple[float, float]) -> np.ndarray:
    """Plane pixel [x, y] (..., 2) on plane ``index`` → LPS millimetres (..., 3)."""
    return voxel_to_patient(volume, plane_to_voxel(volume, index, xy))


def _profile(volume: Volume, axis: int, threshold: float) -> np.ndarray:
    """Count of voxels above ``threshold`` per position along ``axis`` (subsampled for speed)."""
    strides = [slice(None, None, max(1, n // 96)) for n in volume.shape]
    strides[axis] = slice(None)
    sample = volume.voxels[tuple(strides)]
    others = tuple(a for a in range(3) if a != axis)
    return np.count_nonzero(sample > threshold, axis=others).astype(np.float64)


def mid_sagittal_index(volume: Volume) -> int:
    """The plane through the spine: most bone near the body's left-right centre (CT in HU)."""
    g = _geometry(volume)
    n = g.count
    if volume.units != "HU" or n < 3:
        return n // 2
    body = _profile(volume, g.axis_index, _BODY_HU)
    if body.sum() == 0:
        return n // 2
    centre = float((body * np.arange(n)).sum() / body.sum())
    bone = np.convolve(_profile(volume, g.axis_index, _BONE_HU), np.ones(5) / 5, mode="same")
    half = max(1, int(round(_MID_SEARCH * n)))
    lo, hi = max(0, int(centre) - half), min(n, int(centre) + half + 1)
    voxel = lo + int(np.argmax(bone[lo:hi])) if bone[lo:hi].max() > 0 else int(round(centre))
    return g.count - 1 - voxel if g.flip_index else voxel

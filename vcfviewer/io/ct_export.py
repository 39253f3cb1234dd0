"""CT exports: from a sagittal-reformat annotation back to the acquired CT series.

A whole-volume CT annotation puts each body on its own sagittal reformat plane
(``StudyAnnotation.plane_of``); its coordinates are pixels of ``core.reformat.sagittal_plane``.
DICOM objects must reference what was acquired, so this module maps back:

* ``body_voxels`` — the voxels a body's mask covers (the ONE place a finding becomes voxels, so a
  3-D extent the model may add later only changes this function). A mask on plane p covers voxels
  of that plane's voxel slab; where the reformat upsampled an axis, several plane pixels share a
  voxel, and a voxel belongs to the body when the plane pixel holding its centre is in the mask.
* ``landmark_slices`` — the acquired slices a body's landmarks fall in (nearest slice each).
* ``read_series`` — the series' slice headers, checked, in volume order, for SR and SEG.

NIfTI volumes, enhanced multi-frame files and tilt-corrected stacks are refused with a reason
(``dicom_skip_reason`` / ``ExportError``); the non-DICOM exports do not need this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vcfviewer.core import reformat
from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding
from vcfviewer.core.image import Volume
from vcfviewer.io import body_masks
from vcfviewer.io.atomic import ExportError

_GRID_TOLERANCE = 0.25  # pixels: slice origins off the volume's grid by more cannot be referenced


@dataclass(frozen=True)
class CtSeries:
    """A DICOM CT volume with the headers (no pixels) of the slices SR/SEG reference.

    ``slices`` are the distinct acquired slices in volume order; ``slice_of_voxel[k]`` is the
    index in ``slices`` of voxel slice k (a resampled stack repeats the nearest acquired slice).
    """

    volume: Volume
    slices: tuple[Any, ...]
    slice_of_voxel: np.ndarray
    frame_of_reference_uid: str

    @property
    def series_instance_uid(self) -> str:
        return str(self.slices[0].SeriesInstanceUID)

    def slices_at(self, voxel_slices: list[int]) -> list[Any]:
        """The distinct acquired slices holding these voxel slices, in first-seen order."""
        picked = dict.fromkeys(int(self.slice_of_voxel[k]) for k in voxel_slices)
        return [self.slices[i] for i in picked]


def is_ct_annotation(annotation: StudyAnnotation) -> bool:
    """True when the annotation's coordinates are CT sagittal-reformat pixels."""
    return annotation.image.is_reformat


def plane_findings(annotation: StudyAnnotation) -> dict[int, list[VertebraFinding]]:
    """Findings grouped by their plane (ascending); findings with no plane are left out."""
    out: dict[int, list[VertebraFinding]] = {}
    for finding in annotation.findings:
        plane = annotation.plane_of(finding)
        if plane is not None:
            out.setdefault(plane, []).append(finding)
    return dict(sorted(out.items()))


def middle_plane(annotation: StudyAnnotation) -> int | None:
    """The column's middle plane: the median of the findings' planes (lower of two middles)."""
    planes = sorted(p for f in annotation.findings if (p := annotation.plane_of(f)) is not None)
    return planes[(len(planes) - 1) // 2] if planes else None


def plane_shape(volume: Volume) -> tuple[int, int]:
    """(rows, columns) of every sagittal plane of ``volume``."""
    return tuple(reformat.sagittal_plane(volume, 0).pixels.shape)  # type: ignore[return-value]


def volume_mismatch(annotation: StudyAnnotation, volume: Volume) -> str | None:
    """Why ``volume`` is not the volume ``annotation`` was drawn on (None when it is)."""
    image = annotation.image
    rows, cols = plane_shape(volume)
    if (image.rows, image.columns) != (rows, cols):
        return (f"the annotation's planes are {image.rows}x{image.columns} pixels, the volume's "
                f"{rows}x{cols}")
    count = reformat.sagittal_count(volume)
    if image.plane_count is not None and image.plane_count != count:
        return f"the annotation has {image.plane_count} planes, the volume {count}"
    uid = volume.source.series_instance_uid
    if image.series_instance_uid and uid and image.series_instance_uid != uid:
        return "the volume is another series (Series Instance UIDs differ)"
    return None


def dicom_skip_reason(annotation: StudyAnnotation, volume: Volume | None) -> str | None:
    """Why no SR/SEG can be made for a CT annotation (None when they can)."""
    if volume is None:
        return "a CT annotation needs its volume to reference the CT series"
    if not volume.slice_sources:
        return "no DICOM source (the volume came from a NIfTI file)"
    if (not all(s.sop_instance_uid for s in volume.slice_sources)
            or not volume.source.series_instance_uid or not volume.source.study_instance_uid):
        return ("the CT slices have no SOP/Study/Series Instance UIDs (anonymised): a report or "
                "segmentation cannot reference them")
    if any(s.frame_number is not None for s in volume.slice_sources):
        return "the volume is an enhanced multi-frame file (not referenced by slice yet)"
    return volume_mismatch(annotation, volume)


def _read_header(path: str) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, InvalidDicomError, ValueError) as exc:
        raise ExportError(path, f"cannot read the CT slice ({exc})") from None


def _check_on_grid(volume: Volume, k: int, ds: Any, where: str) -> None:
    """A slice whose in-plane origin left the grid (gantry tilt corrected) cannot carry frames."""
    position = np.asarray(getattr(ds, "ImagePositionPatient", None) or [np.nan] * 3, float)
    offset = position - reformat.voxel_to_patient(volume, (k, 0.0, 0.0))
    direction = np.asarray(volume.direction, float)
    in_plane = np.array([offset @ direction[:, 0] / volume.spacing_mm[2],
                         offset @ direction[:, 1] / volume.spacing_mm[1]])
    if not np.all(np.isfinite(in_plane)) or np.abs(in_plane).max() > _GRID_TOLERANCE:
        raise ExportError(where, "the CT slices are not on the volume's grid (gantry tilt was "
                                 "corrected on load): SR/SEG cannot reference them")


def read_series(volume: Volume) -> CtSeries:
    """The volume's slice headers, checked against the volume, for SR and SEG."""
    from vcfviewer.io import dicom_codes

    where = volume.source.path
    order: dict[str, int] = {}
    slices: list[Any] = []
    index = np.zeros(len(volume.slice_sources), dtype=np.intp)
    for k, ref in enumerate(volume.slice_sources):
        uid = str(ref.sop_instance_uid)
        if uid not in order:
            ds = dicom_codes.usable_source(_read_header(ref.path), ref.path)
            if str(ds.SOPInstanceUID) != uid:
                raise ExportError(ref.path, "the file is no longer the slice that was loaded "
                                            "(SOP Instance UIDs differ)")
            _check_on_grid(volume, k, ds, ref.path)
            order[uid] = len(slices)
            slices.append(ds)
        index[k] = order[uid]
    frames = {str(getattr(ds, "FrameOfReferenceUID", "") or "") for ds in slices}
    if len(frames) != 1 or "" in frames:
        raise ExportError(where, "the CT slices do not share one Frame of Reference UID")
    return CtSeries(volume, tuple(slices), index, frames.pop())


def _axes(volume: Volume, plane: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel position of plane pixel (0, 0) and the voxel steps of one plane column / row."""
    corners = reformat.plane_to_voxel(volume, plane, np.array([[0.0, 0.0], [1.0, 0.0],
                                                                [0.0, 1.0]]))
    return corners[0], corners[1] - corners[0], corners[2] - corners[0]


def _covered(origin: float, step: float, first: int, count: int, size: int) -> tuple[np.ndarray,
                                                                                        np.ndarray]:
    """Voxels along one axis whose centres fall on plane pixels first..first+count-1.

    Returns (voxel indices, plane pixel index of each centre relative to ``first``).
    """
    ends = origin + step * np.array([first - 0.5, first + count - 0.5])
    lo, hi = int(np.floor(ends.min())), int(np.ceil(ends.max()))
    voxels = np.arange(max(lo, 0), min(hi, size - 1) + 1)
    pixel = np.floor((voxels - origin) / step + 0.5).astype(np.intp) - first
    keep = (pixel >= 0) & (pixel < count)
    return voxels[keep], pixel[keep]


def body_voxels(volume: Volume, annotation: StudyAnnotation,
                finding: VertebraFinding) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Voxel indices (slice, row, column arrays) of the body, or None without plane or mask."""
    plane = annotation.plane_of(finding)
    crop = body_masks.finding_crop(finding, (annotation.image.rows, annotation.image.columns))
    if plane is None or crop is None:
        return None
    top, left, mask = crop
    origin, along_x, along_y = _axes(volume, plane)
    ax_x, ax_y = int(np.argmax(np.abs(along_x))), int(np.argmax(np.abs(along_y)))
    ax_i = 3 - ax_x - ax_y
    shape = volume.shape
    ys, py = _covered(origin[ax_y], along_y[ax_y], top, mask.shape[0], shape[ax_y])
    xs, px = _covered(origin[ax_x], along_x[ax_x], left, mask.shape[1], shape[ax_x])
    hit = mask[np.ix_(py, px)]
    rows, cols = np.nonzero(hit)
    out = [np.empty(0, np.intp)] * 3
    out[ax_y], out[ax_x] = ys[rows], xs[cols]
    out[ax_i] = np.full(rows.size, int(round(origin[ax_i])), dtype=np.intp)
    return out[0], out[1], out[2]


def label_volume(volume: Volume, annotation: StudyAnnotation) -> tuple[np.ndarray,
                                                                       list[VertebraFinding]]:
    """Label volume (uint8/uint16): 0 background, k = the k-th body listed; where bodies share
    voxels (two bodies on one plane) the more caudal one wins, as in ``body_masks.label_map``."""
    bodies: list[VertebraFinding] = []
    dtype = np.uint8 if len(annotation.findings) < 255 else np.uint16
    labels = np.zeros(volume.shape, dtype=dtype)
    for finding in annotation.findings:
        where = body_voxels(volume, annotation, finding)
        if where is None or where[0].size == 0:
            continue
        bodies.append(finding)
        labels[where] = len(bodies)
    return labels, bodies


def landmark_slices(volume: Volume, annotation: StudyAnnotation,
                    finding: VertebraFinding) -> list[int]:
    """Voxel slices (array axis 0) nearest to each landmark, distinct, in landmark order."""
    plane = annotation.plane_of(finding)
    if plane is None or finding.landmarks is None:
        return []
    voxel = reformat.plane_to_voxel(volume, plane, finding.landmarks)
    nearest = np.clip(np.floor(voxel[:, 0] + 0.5), 0, volume.shape[0] - 1).astype(int)
    return list(dict.fromkeys(int(k) for k in nearest))


def landmarks_mm(volume: Volume, annotation: StudyAnnotation,
                 finding: VertebraFinding) -> np.ndarray:
    """The six landmarks in patient LPS millimetres, (6, 3)."""
    plane = annotation.plane_of(finding)
    if plane is None or finding.landmarks is None:
        raise ValueError(f"{finding.level}: no CT plane or no landmarks")
    return reformat.plane_to_patient(volume, plane, finding.landmarks)

"""A simulated axial CT volume built from sagittal renders, with truth on each body's own plane.

Every sagittal plane of the slab (one per left-right voxel, ``pixel_mm`` apart) is rendered from
the same phantom and imaged along SI and AP like a training plane; the stack then gets the
left-right point spread, the kernel, streaks and noise that an axial reconstruction has (noise
correlated within each axial slice, independent between slices).

World → patient (LPS) map: x = Z + t_x (Z grows to the patient's left), y = X + t_y (X grows
posterior), z = −Y + t_z (Y grows caudal). The volume's direction is the identity, so slice 0 is
the most inferior, row 0 the most anterior, column 0 the patient's rightmost plane; reformat plane
index = column index, as ``core.reformat`` reads it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from vcfviewer.core.annotation import (
    BodyMask,
    FractureType,
    Grade,
    ImageRef,
    StudyAnnotation,
    VertebraFinding,
)
from vcfviewer.core.image import SourceRef, SpacingSource, Volume
from vcfviewer.core.reformat import BONE_WINDOW
from vcfviewer.synth import ct_acquire as ca
from vcfviewer.synth.ct import (
    CT_IMAGE_STORAGE,
    SyntheticCT,
    _finding_id,
    _fine_grid,
    _noisy,
    _patient,
    _pelvis_y,
    _provenance,
    _rngs,
    _uid,
)
from vcfviewer.synth.ct_patient import Phantom, PlaneRenderer, sample_phantom
from vcfviewer.synth.ct_plan import PlannedCT, _grid, plan_ct
from vcfviewer.synth.ct_soft import skin_x
from vcfviewer.synth.options import SynthOptions

HU_RANGE = (-1024.0, 4000.0)


def _slab(rng: np.random.Generator, planned: PlannedCT, pixel: float, lateral_mm: float) -> tuple[float, int]:
    """(Z of plane 0, plane count): the spine a few mm off the slab's centre, every body's own
    mid-sagittal plane inside the slab."""
    count = max(3, int(round(lateral_mm / pixel)))
    span = (count - 1) * pixel
    reach = max(abs(lat.centre) for lat in planned.lateral.values())
    room = max(0.0, span / 2 - reach - 2.0 * pixel)
    return round(-span / 2 + rng.uniform(-1.0, 1.0) * min(6.0, room), 2), count


def _columns(rng: np.random.Generator, phantom: Phantom, pixel: float) -> np.ndarray:
    """World X of the AP voxels: the patient and the table with a little air around."""
    ys = phantom.planned.scan.slice_y()
    front = float(skin_x(phantom.soft, ys, 0.0).min())
    back = phantom.soft.table + 1.0 + phantom.soft.table_mm
    x0 = round(front - rng.uniform(5.0, 20.0), 2)
    count = int(math.ceil((back + rng.uniform(2.0, 10.0) - x0) / pixel)) + 1
    return x0 + _grid(np.arange(count), pixel)


def _stack(renderer: PlaneRenderer, planned: PlannedCT, acq: ca.Acquisition, z0: float, count: int,
           out_x: np.ndarray, air: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(HU, labels, dense counts): (slices superior first, AP, planes right → left)."""
    scan, grid = planned.scan, renderer.grid
    weights = ca.slice_matrix(grid.y0 + np.arange(grid.rows) * grid.dy, scan.slice_y(), scan.slice_mm)
    fine_x = grid.x0 + np.arange(grid.cols) * grid.dx
    sigma = math.sqrt(acq.psf_mm ** 2 + acq.pixel_mm ** 2 / 12.0)
    hu = np.empty((scan.count, len(out_x), count), dtype=np.float32)
    labels = np.zeros(hu.shape, dtype=np.int16)
    dense = np.zeros(scan.count, dtype=np.float32)
    slice_y = scan.slice_y()[:, None]
    for j in range(count):
        z = z0 + float(_grid(j, acq.pixel_mm))
        fine = renderer.render(z, acq.pixel_mm)
        hu[:, :, j] = ca.sample_plane(fine, weights, fine_x, out_x, sigma, air)
        dense += np.asarray(weights @ (fine > 1500.0).sum(axis=1).astype(np.float32))
        labels[:, :, j] = renderer.labels({lv: z for lv in planned.included}, planned.included,
                                          out_x[None, :], slice_y)
    # the axial reconstruction blurs left-right as it does front-back
    hu = ndimage.gaussian_filter1d(hu, sigma / acq.pixel_mm, axis=2, mode="nearest")
    return hu, labels, dense


def _truth(renderer: PlaneRenderer, planned: PlannedCT, z0: float, count: int, out_x: np.ndarray,
           pixel: float, seed: int, key: str) -> tuple[list[VertebraFinding], int, int] | None:
    """Findings on each body's nearest plane, in reformat pixels; None when one lost its pixels."""
    scan = planned.scan  # its pixel_mm is the reformat's: min(pixel, slice)
    q = scan.pixel_mm
    cols = int(np.floor((len(out_x) - 1) * pixel / q + 1e-6)) + 1
    xs = (out_x[0] + _grid(np.arange(cols), q))[None, :]
    ys = scan.row_y()[:, None]
    findings = []
    for level in planned.included:
        lat = planned.lateral[level]
        plane = int(np.clip(round((lat.centre - z0) / pixel), 0, count - 1))
        mask = renderer.labels({level: z0 + float(_grid(plane, pixel))}, (level,), xs, ys) == 1
        if not mask.any():
            if level != "S1":
                return None
            continue
        plan = planned.shapes[level].body.plan
        landmarks = None
        if level != "S1":
            landmarks = (planned.shapes[level].landmarks_world() - np.array([out_x[0], scan.first])) / q
        edge = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
        findings.append(VertebraFinding(
            level=level, landmarks=landmarks, grade=Grade(plan.grade),
            fracture_type=FractureType(plan.ftype if plan.grade else "none"),
            mask=BodyMask.from_full(mask), finding_id=_finding_id(seed, key, level), plane_index=plane,
            lookalikes=frozenset(set(plan.lookalikes) | ({"cut_at_edge"} if edge else set()))))
    return findings, scan.rows, cols


def volume_attempt(seed: int, attempt: int, options: SynthOptions, pixel: float, slice_mm: float,
                   lateral_mm: float) -> SyntheticCT | None:
    """One try at a volume; None when the drawn column has no unambiguous truth."""
    r = _rngs(seed, attempt)
    acq = ca.sample_acquisition(r["acquire"], pixel, slice_mm)
    result = plan_ct(r["plan"], options, min(pixel, slice_mm), slice_mm, curve_mm=5.0)
    if result is None:
        return None
    planned = result[0]
    phantom = sample_phantom(r["patient"], planned, options, (seed, attempt))
    z0, count = _slab(r["frame"], planned, pixel, lateral_mm)
    out_x = _columns(r["frame"], phantom, pixel)
    grid = _fine_grid(planned, float(out_x[0]) - 2.0, float(out_x[-1]) + 2.0, pixel, slice_mm)
    renderer = PlaneRenderer(phantom, grid)
    key = f"volume|{pixel}|{slice_mm}|{lateral_mm}|{options!r}"
    truth = _truth(renderer, planned, z0, count, out_x, pixel, seed, key)
    if truth is None:
        return None
    hu, labels, dense = _stack(renderer, planned, acq, z0, count, out_x, phantom.soft.hu["air"])
    hu = _noisy(hu, dense, planned, acq, r["noise"], _pelvis_y(planned))
    hu = np.clip(np.rint(hu), *HU_RANGE).astype(np.float32)
    offset = (round(float(r["frame"].uniform(-20, 20)), 2), round(float(-out_x.mean() + r["frame"].uniform(-30, 30)), 2),
              round(float(r["frame"].uniform(-900, -100)), 2))
    return _assemble(seed, key, planned, phantom, acq, hu[::-1], labels[::-1], truth, z0, count,
                     out_x, offset, attempt)


def _assemble(seed: int, key: str, planned: PlannedCT, phantom: Phantom, acq: ca.Acquisition,
              hu: np.ndarray, labels: np.ndarray, truth: tuple[list[VertebraFinding], int, int],
              z0: float, count: int, out_x: np.ndarray, offset: tuple[float, float, float],
              attempt: int) -> SyntheticCT:
    findings, rows, cols = truth
    uids = {k: _uid(seed, key, k) for k in ("study", "series", "frame")}
    origin = (round(z0 + offset[0], 6), round(float(out_x[0]) + offset[1], 6),
              round(float(-planned.scan.last_slice + offset[2]), 6))
    volume = Volume(
        voxels=np.ascontiguousarray(hu), spacing_mm=(acq.slice_mm, acq.pixel_mm, acq.pixel_mm),
        origin=origin, direction=np.eye(3), window=BONE_WINDOW,
        source=SourceRef(path="", sop_class_uid=CT_IMAGE_STORAGE, series_instance_uid=uids["series"],
                         study_instance_uid=uids["study"]),
        patient=_patient(seed, "AX synthetic"), units="HU")
    q = planned.scan.pixel_mm
    ref = ImageRef(path="", rows=rows, columns=cols, pixel_spacing=(q, q),
                   spacing_source=SpacingSource.VOLUME.value, sop_class_uid=CT_IMAGE_STORAGE,
                   series_instance_uid=uids["series"], study_instance_uid=uids["study"],
                   modality="CT", plane_count=count)
    flags = (f"transitional anatomy: {planned.transitional}",) if planned.transitional else ()
    annotation = StudyAnnotation(image=ref, findings=tuple(findings), provenance=_provenance(), flags=flags)
    meta = {
        "seed": seed, "attempt": attempt, "kind": "ct_volume", "pixel_mm": acq.pixel_mm,
        "slice_mm": acq.slice_mm, "planes": count, "frame_of_reference_uid": uids["frame"],
        "lps_offset": list(offset), "plane0_z_mm": z0,
        "body_centres_lps_x": {lv: round(planned.lateral[lv].centre + offset[0], 4) for lv in planned.included},
        "acquisition": acq.as_meta(), "phase": phantom.phase, "top_level": planned.top_level,
        "bottom": planned.bottom, "included": [f.level for f in findings],
        "transitional": planned.transitional, **{k: float(v) for k, v in planned.column.meta.items()},
    }
    return SyntheticCT(volume=volume, annotation=annotation, label_volume=np.ascontiguousarray(labels), meta=meta)

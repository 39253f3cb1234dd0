"""Simulated CT with exact truth: single sagittal planes for training, small volumes for tests.

``simulate_ct_plane(seed)`` cuts the radiograph simulator's phantom column (plus a CT patient
around it) with one sagittal plane and images it as a sagittal reformat of an axial CT: HU,
square pixels, patient facing LEFT, rows superior → inferior, the scan's slice thickness and
noise. ``simulate_ct_volume(seed)`` renders the same kind of patient on every sagittal plane of a
slab and stacks them into an axial Volume whose truth lies on each body's own mid-sagittal plane.
``write_ct_series`` (``ct_writer``) writes a volume as a DICOM CT series or NIfTI with its truth.

Truth conventions (shared with ``simulate``): findings cranial → caudal; label k = index of the
finding + 1, sacrum (S1 segment) included; landmarks are each body's mid-sagittal landmarks, where
heights and grades are defined (CLINICAL §2), even when a training plane cuts the body off-centre.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace

import numpy as np

from vcfviewer import __version__
from vcfviewer.core.annotation import (
    BodyMask,
    FractureType,
    Grade,
    ImageRef,
    Provenance,
    StudyAnnotation,
    VertebraFinding,
)
from vcfviewer.core.image import PatientInfo, Radiograph, SourceRef, SpacingSource, Volume
from vcfviewer.core.reformat import BONE_WINDOW
from vcfviewer.synth import ct_acquire as ca
from vcfviewer.synth.ct_patient import Phantom, PlaneRenderer, sample_phantom
from vcfviewer.synth.ct_plan import OffsetRule, PlannedCT, _grid, plan_ct
from vcfviewer.synth.ct_render import Grid
from vcfviewer.synth.ct_soft import skin_x
from vcfviewer.synth.options import SynthError, SynthOptions
from vcfviewer.synth.simulate import SyntheticStudy

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
_STREAMS = ("acquire", "plan", "patient", "noise", "frame")
_MAX_ATTEMPTS = 12
_FINE_AP = 1.5  # fine-grid oversampling along AP (the PSF does the rest)


@dataclass(frozen=True)
class SyntheticCT:
    """A simulated axial CT volume and its exact truth.

    ``volume``: HU (whole numbers, float32), (slice, row, column) = (inferior → superior,
    anterior → posterior, right → left), identity direction (LPS). ``annotation``: whole-volume
    truth on the sagittal reformat (``ImageRef.plane_count``; each finding on its own plane).
    ``label_volume``: int16, k = index in ``annotation.findings`` + 1 at every voxel of that body.
    """

    volume: Volume
    annotation: StudyAnnotation
    label_volume: np.ndarray
    meta: dict = field(default_factory=dict)


def _uid(seed: int, key: str, what: str) -> str:
    digest = hashlib.sha256(f"vcfviewer-synth-ct|{seed}|{key}|{what}".encode()).hexdigest()
    return "2.25." + str(int(digest[:32], 16))


def _finding_id(seed: int, key: str, level: str) -> str:
    return hashlib.sha256(f"ct|{seed}|{key}|{level}".encode()).hexdigest()[:12]


def _rngs(seed: int, attempt: int) -> dict[str, np.random.Generator]:
    # a stream base of its own: CT seed n is unrelated to radiograph seed n
    return {name: np.random.default_rng([seed, attempt, 7100 + i]) for i, name in enumerate(_STREAMS)}


def _check(seed: int, options: SynthOptions | None) -> SynthOptions:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise SynthError(f"seed must be a non-negative integer, got {seed!r}")
    return options or SynthOptions()


def _check_spacing(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not (np.isfinite(value) and low <= value <= high):
        raise SynthError(f"{name} must lie in [{low}, {high}] mm, got {value}")


def _fine_grid(planned: PlannedCT, x_lo: float, x_hi: float, pixel: float, slice_mm: float) -> Grid:
    """Grid finer than the scan: slices are averaged over it, columns sampled from it."""
    scan = planned.scan
    dy = min(pixel, slice_mm) / 2.0
    dx = pixel / _FINE_AP
    y0 = scan.first - slice_mm - 0.5
    rows = int(math.ceil((scan.last_slice + slice_mm + 0.5 - y0) / dy)) + 1
    cols = int(math.ceil((x_hi - x_lo) / dx)) + 1
    return Grid(x0=x_lo, y0=y0, dx=dx, dy=dy, rows=rows, cols=cols)


def _patient_extent(phantom: Phantom, z: float) -> tuple[float, float]:
    soft = phantom.soft
    ys = phantom.planned.scan.slice_y()
    return float(skin_x(soft, ys, z).min()), soft.table + 1.0 + soft.table_mm


def _acquire(fine: np.ndarray, grid: Grid, planned: PlannedCT, out_x: np.ndarray,
             acq: ca.Acquisition, air: float) -> tuple[np.ndarray, np.ndarray]:
    """(slices × columns HU, per-slice count of very dense fine pixels) without noise."""
    scan = planned.scan
    fine_y = grid.y0 + np.arange(grid.rows) * grid.dy
    weights = ca.slice_matrix(fine_y, scan.slice_y(), scan.slice_mm)
    sigma = math.sqrt(acq.psf_mm ** 2 + acq.pixel_mm ** 2 / 12.0)
    fine_x = grid.x0 + np.arange(grid.cols) * grid.dx
    slices = ca.sample_plane(fine, weights, fine_x, out_x, sigma, air)
    dense = weights @ (fine > 1500.0).sum(axis=1).astype(np.float32)
    return slices, np.asarray(dense)


def _findings(planned: PlannedCT, labels: np.ndarray, origin: tuple[float, float], pixel: float,
              seed: int, key: str, planes: dict[str, int] | None) -> list[VertebraFinding] | None:
    """Truth findings from a label map; None when a vertebra lost every pixel."""
    out = []
    rows, cols = labels.shape
    for k, level in enumerate(planned.included, start=1):
        full = labels == k
        if not full.any():
            if level != "S1":
                return None
            continue
        mask = BodyMask.from_full(full)
        plan = planned.shapes[level].body.plan
        edge = (mask.top == 0 or mask.left == 0 or mask.top + mask.array.shape[0] == rows
                or mask.left + mask.array.shape[1] == cols)
        lookalikes = set(plan.lookalikes) | ({"cut_at_edge"} if edge else set())
        landmarks = None
        if level != "S1":
            landmarks = (planned.shapes[level].landmarks_world() - np.asarray(origin)) / pixel
        out.append(VertebraFinding(
            level=level, landmarks=landmarks, grade=Grade(plan.grade),
            fracture_type=FractureType(plan.ftype if plan.grade else "none"), mask=mask,
            lookalikes=frozenset(lookalikes), finding_id=_finding_id(seed, key, level),
            plane_index=None if planes is None else planes[level]))
    return out


def _patient(seed: int, what: str) -> PatientInfo:
    return PatientInfo(patient_name=f"SYNTHETIC^{seed}", patient_id=f"SYNCT{seed:08d}",
                       study_description="Synthetic CT spine", series_description=what,
                       modality="CT", series_number=1)


def _provenance() -> Provenance:
    return Provenance(software_version=__version__, source="simulator", model_id="vcfviewer-synth-ct",
                      model_version=__version__)


def _noisy(slices: np.ndarray, dense: np.ndarray, planned: PlannedCT, acq: ca.Acquisition,
           rng: np.random.Generator, pelvis_y: float) -> np.ndarray:
    """Kernel, beam hardening, streaks and noise on (slices, ...) with AP the last-but-any axes."""
    ap_axis = 1
    out = ca.sharpen_ap(slices, acq.sharpen, axis=ap_axis)
    if out.ndim == 3:
        out = ca.sharpen_ap(out, acq.sharpen, axis=2)
    out = ca.cupping(out, acq.cupping_hu, axis=ap_axis)
    out = out + ca.streaks(rng, dense, out.shape, acq)
    scale = ca.slice_noise_scale(planned.scan.slice_y(), pelvis_y, acq)
    noise = ca.noise_field(rng, out.shape, acq.grain_px)
    return (out + noise * scale.reshape((-1,) + (1,) * (out.ndim - 1))).astype(np.float32)


def _pelvis_y(planned: PlannedCT) -> float:
    return float(planned.shapes["S1"].landmarks_world()[:3, 1].min())


# --- one training plane ----------------------------------------------------------------------


def _plane_columns(rng: np.random.Generator, extent: tuple[float, float], pixel: float,
                   acq: ca.Acquisition) -> tuple[np.ndarray, float | None]:
    """World X of the output columns (the reconstructed field of view) and, when the field
    truncates the patient, the X in front of which the image is padding."""
    x_lo, x_hi = extent
    depth = x_hi - x_lo
    width = float(np.clip(rng.uniform(340.0, 500.0), depth + 10.0, 560.0))
    centre = (x_lo + x_hi) / 2 + rng.uniform(-0.4, 0.4) * (width - depth)
    cut = None
    if acq.truncate is not None:
        cut = x_hi - depth * acq.truncate
        centre = cut + width / 2 - rng.uniform(0.0, 5.0)
    x0 = round(centre - width / 2, 2)
    count = int(round(width / pixel))
    return x0 + _grid(np.arange(count), pixel), cut


def _plane_attempt(seed: int, attempt: int, options: SynthOptions, offset_mm: float | None,
                   pixel_mm: float | None, slice_mm: float | None) -> SyntheticStudy | None:
    r = _rngs(seed, attempt)
    acq = ca.sample_acquisition(r["acquire"], pixel_mm if pixel_mm is not None else options.spacing_mm, slice_mm)
    p, s = acq.pixel_mm, acq.slice_mm
    result = plan_ct(r["plan"], options, p, s, curve_mm=3.0, offset=OffsetRule(offset_mm))
    if result is None:
        return None
    planned, plane_z = result
    phantom = sample_phantom(r["patient"], planned, options, (seed, attempt))
    extent = _patient_extent(phantom, plane_z)
    out_x, cut = _plane_columns(r["frame"], extent, p, acq)
    grid = _fine_grid(planned, max(extent[0], float(out_x[0])) - 2.0,
                      min(extent[1], float(out_x[-1])) + 2.0, p, s)
    renderer = PlaneRenderer(phantom, grid, single=True)
    fine = renderer.render(plane_z, p)
    slices, dense = _acquire(fine, grid, planned, out_x, acq, phantom.soft.hu["air"])
    slices = _noisy(slices, dense, planned, acq, r["noise"], _pelvis_y(planned))
    if cut is not None:
        slices[:, out_x < cut] = acq.pad_hu
    pixels = ca.to_reformat_rows(slices, planned.scan)
    rows_y = planned.scan.row_y()[:, None]
    labels = renderer.labels({lv: plane_z for lv in planned.included}, planned.included,
                             out_x[None, :], rows_y)
    key = f"plane|{offset_mm}|{pixel_mm}|{slice_mm}|{options!r}"
    findings = _findings(planned, labels, (float(out_x[0]), planned.scan.first), p, seed, key, None)
    if findings is None:
        return None
    meta = _plane_meta(seed, attempt, planned, phantom, acq, plane_z, out_x, cut)
    study = _plane_study(seed, key, pixels, labels, findings, meta, p)
    return replace(study, ignore=_left_out(renderer, planned, plane_z, out_x, rows_y, labels))


def _left_out(renderer: PlaneRenderer, planned: PlannedCT, plane_z: float, out_x: np.ndarray,
              rows_y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Pixels of bodies the truth leaves out (cut by the scan's ends or barely cut by the plane):
    training ignores them (``SyntheticStudy.ignore``)."""
    others = tuple(lv for lv in planned.shapes if lv not in planned.included)
    if not others:
        return np.zeros(labels.shape, bool)
    cut = renderer.labels({lv: plane_z for lv in others}, others, out_x[None, :], rows_y)
    return (cut > 0) & (labels == 0)


def _plane_meta(seed: int, attempt: int, planned: PlannedCT, phantom: Phantom, acq: ca.Acquisition,
                plane_z: float, out_x: np.ndarray, cut: float | None) -> dict:
    return {
        "seed": seed, "attempt": attempt, "kind": "ct_plane", "offset_mm": round(plane_z, 4),
        "body_offsets_mm": {lv: round(plane_z - planned.lateral[lv].centre, 3) for lv in planned.included},
        "half_widths_mm": {lv: round(planned.lateral[lv].half_width, 3) for lv in planned.included},
        "pixel_mm": acq.pixel_mm, "slice_mm": acq.slice_mm, "slices": planned.scan.count,
        "noise_hu": round(acq.noise_hu, 3),
        "acquisition": acq.as_meta(), "phase": phantom.phase, "top_level": planned.top_level,
        "bottom": planned.bottom, "included": list(planned.included),
        "transitional": planned.transitional, "fov_mm": round(float(out_x[-1] - out_x[0]), 2),
        "truncated_at_x": cut, **{k: float(v) for k, v in planned.column.meta.items()},
        "trabecular_hu": round(phantom.look.trabecular, 2),
    }


def _plane_study(seed: int, key: str, pixels: np.ndarray, labels: np.ndarray,
                 findings: list[VertebraFinding], meta: dict, pixel: float) -> SyntheticStudy:
    uids = {k: _uid(seed, key, k) for k in ("study", "series")}
    source = SourceRef(path="", sop_class_uid=CT_IMAGE_STORAGE, series_instance_uid=uids["series"],
                       study_instance_uid=uids["study"])
    radiograph = Radiograph(pixels=np.ascontiguousarray(pixels, dtype=np.float32),
                            spacing_mm=(pixel, pixel), spacing_source=SpacingSource.VOLUME,
                            window=BONE_WINDOW, source=source, patient=_patient(seed, "SAG reformat"),
                            notes=(f"simulated sagittal CT plane, offset {meta['offset_mm']:.1f} mm",))
    ref = ImageRef(path="", rows=pixels.shape[0], columns=pixels.shape[1], pixel_spacing=(pixel, pixel),
                   spacing_source=SpacingSource.VOLUME.value, sop_class_uid=CT_IMAGE_STORAGE,
                   series_instance_uid=uids["series"], study_instance_uid=uids["study"], modality="CT")
    flags = (f"transitional anatomy: {meta['transitional']}",) if meta["transitional"] else ()
    annotation = StudyAnnotation(image=ref, findings=tuple(findings), provenance=_provenance(), flags=flags)
    return SyntheticStudy(radiograph=radiograph, annotation=annotation, label_map=labels, meta=meta)


def simulate_ct_plane(seed: int, options: SynthOptions | None = None, *, offset_mm: float | None = None,
                      pixel_mm: float | None = None, slice_mm: float | None = None) -> SyntheticStudy:
    """One sagittal CT plane (HU, a reformat's geometry) with exact truth; deterministic for
    (seed, options, arguments). ``offset_mm``: the plane's lateral position from the column's
    mean midline (+ = patient left); drawn when None, as are pixel (0.5–1 mm) and slice
    (0.625–5 mm) spacing."""
    options = _check(seed, options)
    # SynthOptions.spacing_mm (radiographs: 0.1–0.2 mm films) serves as the CT pixel when given
    _check_spacing("pixel_mm" if pixel_mm is not None else "SynthOptions.spacing_mm",
                   pixel_mm if pixel_mm is not None else options.spacing_mm, 0.2, 2.0)
    _check_spacing("slice_mm", slice_mm, 0.3, 10.0)
    if offset_mm is not None and not (np.isfinite(offset_mm) and abs(offset_mm) <= 40.0):
        raise SynthError(f"offset_mm must lie in [-40, 40] mm, got {offset_mm}")
    for attempt in range(_MAX_ATTEMPTS):
        study = _plane_attempt(int(seed), attempt, options, offset_mm, pixel_mm, slice_mm)
        if study is not None:
            return study
    where = "" if offset_mm is None else (f" (at {offset_mm} mm off the midline a plane must still cut "
                                          "3 vertebrae within 90 % of their half-width)")
    raise SynthError(f"seed {seed}: no unambiguous CT plane after {_MAX_ATTEMPTS} attempts{where}")


# --- a volume --------------------------------------------------------------------------------


def simulate_ct_volume(seed: int, options: SynthOptions | None = None, *, pixel_mm: float = 0.8,
                       slice_mm: float = 2.0, lateral_mm: float = 70.0) -> SyntheticCT:
    """An axial CT slab ``lateral_mm`` wide around the spine (mild scoliosis, the spine off the
    slab's centre by a few mm) with truth on each body's own mid-sagittal plane."""
    options = _check(seed, options)
    _check_spacing("pixel_mm", pixel_mm, 0.2, 2.0)
    _check_spacing("slice_mm", slice_mm, 0.3, 10.0)
    if not (np.isfinite(lateral_mm) and 3 * pixel_mm <= lateral_mm <= 400.0):
        raise SynthError(f"lateral_mm must lie in [3 × pixel_mm, 400] mm, got {lateral_mm}")
    from vcfviewer.synth.ct_volume import volume_attempt  # it builds on this module

    for attempt in range(_MAX_ATTEMPTS):
        ct = volume_attempt(int(seed), attempt, options, float(pixel_mm), float(slice_mm), float(lateral_mm))
        if ct is not None:
            return ct
    raise SynthError(f"seed {seed}: no unambiguous CT volume after {_MAX_ATTEMPTS} attempts")

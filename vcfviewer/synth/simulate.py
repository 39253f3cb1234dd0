"""``simulate(seed, options)``: one synthetic lateral spine film with exact ground truth.

Pipeline: plan the column, disease and field of view (``geometry``) → add every structure's
attenuation to one map (``bones``, ``soft``) → label map from the same contours → mirror for a
patient facing right → lead marker → exposure and processing (``acquisition``) → burned-in text →
Radiograph + StudyAnnotation. Same seed and options give identical arrays.
"""

from __future__ import annotations

import hashlib
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
from vcfviewer.core.image import PatientInfo, Radiograph, SourceRef, SpacingSource, Window
from vcfviewer.synth import acquisition as acq_mod
from vcfviewer.synth import bones, soft
from vcfviewer.synth.geometry import PlannedFilm, plan_film
from vcfviewer.synth.options import SynthError, SynthOptions
from vcfviewer.synth.primitives import MU_TRABECULAR_FULL, Canvas

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
_STREAMS = ("plan", "render", "acquire", "overlay")
_MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class SyntheticStudy:
    """A simulated film and its exact truth.

    ``radiograph.pixels`` are bone-bright float32 exactly as the loader returns them from the
    written DICOM (MONOCHROME1 already inverted back). ``label_map`` is int16: 0 background,
    k = index of the finding in ``annotation.findings`` + 1 (sacrum included), no overlaps.
    """

    radiograph: Radiograph
    annotation: StudyAnnotation
    label_map: np.ndarray
    meta: dict = field(default_factory=dict)
    # Pixels of bodies the truth leaves out (cut by the field edge): neither body nor background,
    # so training ignores them instead of teaching the network that a visible body is background.
    ignore: np.ndarray | None = None
    # The exposed field (bool, True where the X-rays reached): False under collimator and shutter
    # bands. The truth behind the model's exposed-field estimate (``benchmarks/bench_field.py``).
    exposed: np.ndarray | None = None


def _uid(seed: int, options: SynthOptions, what: str) -> str:
    """Deterministic DICOM UID under the UUID-derived 2.25 root."""
    digest = hashlib.sha256(f"vcfviewer-synth|{seed}|{options!r}|{what}".encode()).hexdigest()
    return "2.25." + str(int(digest[:32], 16))


def _finding_id(seed: int, level: str) -> str:
    return hashlib.sha256(f"{seed}|{level}".encode()).hexdigest()[:12]


@dataclass
class _Rendered:
    atten: np.ndarray
    labels: np.ndarray
    patient: np.ndarray
    clipped: set[str]
    ignore: np.ndarray


def _render_anatomy(film: PlannedFilm, rng: np.random.Generator) -> _Rendered:
    fov = film.fov
    canvas = Canvas(np.zeros((fov.rows, fov.cols), dtype=np.float32), fov.spacing, fov.origin)
    meta = film.column.meta
    bone_mu = MU_TRABECULAR_FULL * (0.05 + 0.16 * meta["bone"])
    texture = soft.texture_field(rng, canvas.shape, fov.spacing, contrast=rng.uniform(0.12, 0.35),
                                 porosis=1.0 - meta["bone"])
    centre = np.asarray(fov.origin) + np.array([fov.cols, fov.rows]) * fov.spacing / 2
    kappa = rng.uniform(0.02, 0.09)
    for placed in film.placed:
        shape = film.shapes[placed.plan.level]
        far = rng.normal(0.0, 1.5, 2) + kappa * (np.asarray(placed.centre) - centre) * 0.3
        bones.render_body(canvas, shape, texture, bone_mu, rng)
        bones.render_posterior(canvas, shape, texture, bone_mu, rng, far)
    bones.render_junctions(canvas, list(film.placed), film.shapes, list(film.column.discs), rng)
    bones.render_sacrum(canvas, film.shapes["S1"], texture, bone_mu, rng, rng.normal(0.0, 2.0, 2))
    bones.render_ribs(canvas, film.shapes, rng, centre, kappa)
    crest_y = bones.render_pelvis(canvas, film.shapes, rng, centre, kappa, bone_mu, texture)
    patient = _render_soft(canvas, film, rng, crest_y)
    labels, clipped = _label_map(canvas, film)
    return _Rendered(canvas.atten, labels, patient, clipped, _ignore_map(canvas, film, labels))


def _render_soft(canvas: Canvas, film: PlannedFilm, rng: np.random.Generator, crest_y: float) -> np.ndarray:
    lm = np.concatenate([s.landmarks_world() for s in film.shapes.values()])
    x_ant, x_post = float(lm[:, 0].min()), float(lm[:, 0].max())
    outline = soft.sample_outline(rng, x_ant, x_post, crest_y)
    patient = soft.add_envelope(canvas, outline, rng)
    top_shape = film.shapes[film.column.bodies[0].level]
    if any(lv in film.shapes for lv in ("T10", "T11", "T12")):
        ref = film.shapes.get("T11") or film.shapes.get("T12") or top_shape
        apex_y = float(ref.landmarks_world()[:, 1].mean()) + rng.uniform(-40.0, 25.0)
        apex = (x_ant - rng.uniform(30.0, 110.0), apex_y)
        soft.add_lungs(canvas, rng, apex, x_post, outline)
    if rng.random() < 0.85:
        y0, y1 = canvas.origin[1], canvas.origin[1] + canvas.shape[0] * canvas.spacing
        soft.add_bowel_gas(canvas, rng, (outline.anterior_skin + 30.0, x_post - 10.0), (y0, y1),
                           amount=rng.uniform(0.3, 1.0))
    return patient


def _label_map(canvas: Canvas, film: PlannedFilm) -> tuple[np.ndarray, set[str]]:
    labels = np.zeros(canvas.shape, dtype=np.int16)
    field = film.fov.field_mask()
    clipped: set[str] = set()
    for k, level in enumerate(film.included, start=1):
        found = bones.body_mask(canvas, film.shapes[level])
        if found is None:
            continue
        box, mask = found
        inside = mask & field[box]
        region = labels[box]
        region[inside & (region == 0)] = k
        if inside.sum() < mask.sum() or _touches_edge(box, mask, canvas.shape):
            clipped.add(level)
    return labels, clipped


def _ignore_map(canvas: Canvas, film: PlannedFilm, labels: np.ndarray) -> np.ndarray:
    """Pixels of planned bodies left out of the truth (see ``SyntheticStudy.ignore``)."""
    ignore = np.zeros(canvas.shape, dtype=bool)
    for level, shape in film.shapes.items():
        if level in film.included:
            continue
        found = bones.body_mask(canvas, shape)
        if found is not None:
            box, mask = found
            ignore[box] |= mask
    return ignore & (labels == 0)


def _touches_edge(box: tuple[slice, slice], mask: np.ndarray, shape: tuple[int, int]) -> bool:
    rs, cs = box
    return bool((rs.start == 0 and mask[0].any()) or (rs.stop == shape[0] and mask[-1].any())
                or (cs.start == 0 and mask[:, 0].any()) or (cs.stop == shape[1] and mask[:, -1].any()))


def _spine_roi(labels: np.ndarray, spacing: float) -> np.ndarray:
    """The bodies and ~15 mm around them: where a console's exposure recognition looks."""
    import cv2

    grow = max(1, int(round(15.0 / spacing)))
    step = max(1, grow // 4)
    small = (labels[::step, ::step] > 0).astype(np.uint8)
    small = cv2.dilate(small, np.ones((2 * (grow // step) + 1,) * 2, np.uint8))
    full = cv2.resize(small, (labels.shape[1], labels.shape[0]), interpolation=cv2.INTER_NEAREST)
    return full.astype(bool)


def _findings(film: PlannedFilm, labels: np.ndarray, clipped: set[str], seed: int,
              mirror: bool) -> list[VertebraFinding] | None:
    """Findings in label order; None when a vertebra lost all its pixels (then retry the film,
    since its neighbours' truth was solved with it)."""
    cols = film.fov.cols
    out = []
    for k, level in enumerate(film.included, start=1):
        shape = film.shapes[level]
        plan = shape.body.plan
        rows_any = np.flatnonzero((labels == k).any(axis=1))
        if rows_any.size == 0:
            if level != "S1":
                return None
            continue  # S1 is last: no later label shifts
        r0, r1 = rows_any[0], rows_any[-1] + 1
        band = labels[r0:r1] == k
        cols_any = np.flatnonzero(band.any(axis=0))
        mask = BodyMask(int(r0), int(cols_any[0]), band[:, cols_any[0]: cols_any[-1] + 1].copy())
        lookalikes = set(plan.lookalikes) | ({"cut_at_edge"} if level in clipped else set())
        landmarks = None
        if level != "S1":
            landmarks = film.fov.to_px(shape.landmarks_world())
            if mirror:
                landmarks[:, 0] = (cols - 1) - landmarks[:, 0]
        out.append(VertebraFinding(
            level=level, landmarks=landmarks, grade=Grade(plan.grade),
            fracture_type=FractureType(plan.ftype if plan.grade else "none"),
            mask=mask, lookalikes=frozenset(lookalikes), finding_id=_finding_id(seed, level)))
    return out


def _attempt(seed: int, attempt: int, options: SynthOptions) -> SyntheticStudy | None:
    rngs = {name: np.random.default_rng([seed, attempt, i]) for i, name in enumerate(_STREAMS)}
    film = plan_film(rngs["plan"], options)
    if film is None:
        return None
    rendered = _render_anatomy(film, rngs["render"])
    r = rngs["acquire"]
    facing_left = bool(r.random() < options.facing_left_rate)
    mono1 = bool(r.random() < options.monochrome1_rate)
    acquisition = acq_mod.sample_acquisition(r, options)
    field = film.fov.field_mask()
    atten, labels, patient = rendered.atten, rendered.labels, rendered.patient
    ignore = rendered.ignore
    if not facing_left:
        atten, labels = atten[:, ::-1].copy(), labels[:, ::-1].copy()
        ignore = ignore[:, ::-1].copy()
        patient, field = patient[:, ::-1].copy(), field[:, ::-1].copy()
    # the lead marker names the side nearer the detector; which one is arbitrary here
    marker = "L" if r.random() < 0.5 else "R"
    if r.random() < 0.92:
        acq_mod.add_lead_marker(atten, r, marker, field, film.fov.spacing)
    roi = _spine_roi(labels, film.fov.spacing)
    image = acq_mod.expose(atten, acquisition, film.fov.spacing, r, field, patient, roi)
    o = rngs["overlay"]
    text = acq_mod.burn_text(image, o, film.fov.spacing) if o.random() < options.text_rate else []
    findings = _findings(film, labels, rendered.clipped, seed, mirror=not facing_left)
    if findings is None:
        return None
    meta = {
        "seed": seed, "attempt": attempt, "facing": "left" if facing_left else "right",
        "monochrome1": mono1, "spacing_mm": film.fov.spacing, "top_level": film.top_level,
        "fov_levels": [film.included[0], film.included[-1]], "included": list(film.included),
        "transitional": film.transitional, "marker": marker, "text": text,
        "acquisition": acquisition.as_meta(),
        "magnification": float(rngs["overlay"].uniform(1.08, 1.3)),
        **{k: float(v) for k, v in film.column.meta.items()},
        "sacral_slope_deg": film.column.sacral_slope_deg, "tilt_deg": film.column.tilt_deg,
    }
    window = Window.from_percentiles(np.where(roi & field, image, np.nan), 0.5, 99.8)
    return replace(_assemble(seed, options, image, labels, findings, meta, window), ignore=ignore,
                   exposed=field)


def _assemble(seed: int, options: SynthOptions, image: np.ndarray, labels: np.ndarray,
              findings: list[VertebraFinding], meta: dict, auto: Window) -> SyntheticStudy:
    spacing = float(meta["spacing_mm"])
    mono1 = bool(meta["monochrome1"])
    uids = {k: _uid(seed, options, k) for k in ("study", "series", "instance")}
    source = SourceRef(path="", sop_instance_uid=uids["instance"], sop_class_uid=DX_FOR_PRESENTATION,
                       series_instance_uid=uids["series"], study_instance_uid=uids["study"])
    patient = PatientInfo(patient_name=f"SYNTHETIC^{seed}", patient_id=f"SYN{seed:08d}",
                          study_description="Synthetic lateral lumbar spine",
                          series_description="LAT", modality="DX", series_number=1)
    # the header window frames the spine; whole numbers survive the DICOM round trip (and the MONOCHROME1 inversion) exactly
    window = Window(float(round(auto.center)), float(max(1, round(auto.width))))
    # the loader reports a magnification only when it had to correct ImagerPixelSpacing with it
    radiograph = Radiograph(
        pixels=image, spacing_mm=(spacing, spacing), spacing_source=SpacingSource.PIXEL_SPACING,
        window=window, source=source, patient=patient,
        photometric="MONOCHROME1" if mono1 else "MONOCHROME2", inverted_on_load=mono1)
    ref = ImageRef(path="", rows=image.shape[0], columns=image.shape[1],
                   pixel_spacing=(spacing, spacing), spacing_source=SpacingSource.PIXEL_SPACING.value,
                   sop_instance_uid=uids["instance"], sop_class_uid=DX_FOR_PRESENTATION,
                   series_instance_uid=uids["series"], study_instance_uid=uids["study"], modality="DX")
    flags = (f"transitional anatomy: {meta['transitional']}",) if meta["transitional"] else ()
    annotation = StudyAnnotation(
        image=ref, findings=tuple(findings), flags=flags,
        provenance=Provenance(software_version=__version__, source="simulator",
                              model_id="vcfviewer-synth", model_version=__version__))
    return SyntheticStudy(radiograph=radiograph, annotation=annotation, label_map=labels, meta=meta)


def simulate(seed: int, options: SynthOptions | None = None) -> SyntheticStudy:
    """Simulate one lateral spine film with exact truth; deterministic for (seed, options)."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynthError(f"seed must be a non-negative integer, got {seed!r}")
    options = options or SynthOptions()
    for attempt in range(_MAX_ATTEMPTS):
        study = _attempt(int(seed), attempt, options)
        if study is not None:
            return study
    raise SynthError(f"seed {seed}: no unambiguous film after {_MAX_ATTEMPTS} attempts")

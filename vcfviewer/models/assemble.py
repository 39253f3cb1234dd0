"""From network outputs to the annotation model: crops, source-pixel masks/landmarks, levels, grades.

The grade decision (whether, how much, what type) is ``grading.decide_grades``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.core.annotation import (BodyMask, Provenance, StudyAnnotation, VertebraFinding,
                                       image_ref_for)
from vcfviewer.core.image import Radiograph
from vcfviewer.models.confidence import edge_doubt_note, tall_body_note, uncertain_outline_note
from vcfviewer.models.field import ExposedField
from vcfviewer.models.grading import decide_grades
from vcfviewer.models.postprocess import FilmParse, column_angles
from vcfviewer.models.preprocess import (CropTransform, FilmTransform, crop_matrix, extract_crop,
                                         shrink)
from vcfviewer.models.sacrum_top import absorb_sacrum_top, renamed_note

CROP_SIDE_FACTOR = 2.0  # crop side = factor x sqrt(body area): the body fills ~half the crop
# A body with a landmark this close to the edge of the exposed field (share of the longer side) is
# cut: not measurable, left out as the simulator's truth leaves it out (synth.geometry).
# ~ the 3 px truth rule; 0.0005-0.003 equally good on validation films, and 0.001 still the best
# of 0.001-0.003 once the band edge was placed where it is (model card, Ablations).
EDGE_MARGIN_FRACTION = 0.001
# Without an exposed field (CT planes) the image border is the edge; the network's landmarks of a
# body cut by the scan's end stop a little short of it, hence the wider margin (set on films
# before the exposed field existed, kept because the CT model's figures were measured with it).
BORDER_MARGIN_FRACTION = 0.005
# The body network draws masks on its crop grid (about 4 source pixels a cell on a full-size
# film) and its mask of a cut body stops short of the field's edge by up to about a cell. A mask
# that comes this close (in crop cells) to the edge marks the body as running out of the field.
# (1.5 while the estimated band edge sat a working-grid cell too far out; 1.0 read best of
# 0.75-1.5 on the validation films once it did not: model card, Ablations.)
MASK_EDGE_CELLS = 1.0
# A corner the body network cannot see (cut off by the edge) spreads its heatmap over the crop
# instead of peaking: on the validation films, the landmark nearest the edge spread >= 15 crop
# cells on cut bodies near the edge and <= 8.4 on whole ones when this was set. Whole ones have
# shown 10-12 since, and cut ones 10-14 held out: a limit of 14 was no better (model card,
# Ablations). Trusted only near the edge (within this share of the body's height), where a cut
# is possible at all.
DIFFUSE_LANDMARK_CELLS = 10.0
NEAR_EDGE_HEIGHT = 0.15
# A body kept although its mask comes within this many crop cells of the field's edge may still
# be cut: on the 200 natural validation films (800100+, 800200+) 2 of the 7 edge bodies kept that
# the truth leaves out came this close, and 4 of 1199 whole bodies. Too even a split to decide
# either way, so a note asks the reader (``confidence.edge_doubt_note``; model card, Ablations).
EDGE_DOUBT_CELLS = 2.0


@dataclass(frozen=True)
class CutEvidence:
    """What the body network says about one body's edges: its crop resolution and how sharply
    it placed each landmark."""

    cell: float  # source pixels per crop pixel
    spread: np.ndarray  # (6,) landmark heatmap spread, crop pixels


def crop_side(area_source_px: float, factor: float = CROP_SIDE_FACTOR) -> float:
    """Crop side in source pixels for a body of the given area (body-relative scale)."""
    return factor * float(np.sqrt(max(area_source_px, 1.0)))


def crop_factor(spec: dict) -> float:
    """Crop side over body side for a model (its card's ``crop_side_factor``)."""
    return float(spec.get("crop_side_factor", CROP_SIDE_FACTOR))


def film_crop_side(film_area: float, transform: FilmTransform, spec: dict) -> float:
    """Crop side in source pixels for a body covering ``film_area`` film-grid pixels."""
    return crop_side(film_area / (transform.scale_x * transform.scale_y), crop_factor(spec))


def body_crops(unit: np.ndarray, parse: FilmParse, transform: FilmTransform,
               spec: dict) -> tuple[np.ndarray, list[CropTransform]]:
    """One canonical crop (facing left, column axis vertical) per body found on the film."""
    size = int(spec["body_size"])
    if not parse.bodies:
        return np.zeros((0, size, size), np.float32), []
    centres = transform.to_source(np.array([b.centre for b in parse.bodies]))
    angles = column_angles(centres)
    sides = [film_crop_side(b.area, transform, spec) for b in parse.bodies]
    scale = size / float(np.median(sides))
    shrunk = shrink(unit, scale / 0.8) if scale < 0.6 else None
    crops, tfs = [], []
    for side, centre, angle in zip(sides, centres, angles):
        matrix = crop_matrix(centre, float(angle), side, size, transform.flipped)
        crop, tf = extract_crop(unit, matrix, size, shrunk)
        crops.append(crop)
        tfs.append(tf)
    return np.stack(crops), tfs


def crop_prob_to_source(prob: np.ndarray, tf: CropTransform,
                        shape: tuple[int, int]) -> tuple[int, int, np.ndarray] | None:
    """Warp a crop-grid probability map onto its source-pixel bounding box: (top, left, map)."""
    n = tf.size
    corners = tf.to_source(np.array([[0, 0], [n - 1, 0], [0, n - 1], [n - 1, n - 1]], float))
    left, top = np.floor(corners.min(axis=0)).astype(int)
    right, bottom = np.ceil(corners.max(axis=0)).astype(int) + 1
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, shape[1]), min(bottom, shape[0])
    if right <= left or bottom <= top:
        return None
    shift = np.array([[1.0, 0, left], [0, 1.0, top], [0, 0, 1.0]])
    m = tf.matrix @ shift  # ROI pixel → crop pixel
    roi = cv2.warpAffine(prob.astype(np.float32), m, (right - left, bottom - top),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return int(top), int(left), roi


def body_mask(prob: np.ndarray, tf: CropTransform, shape: tuple[int, int]) -> BodyMask | None:
    """The body network's mask (crop-grid probability) in source pixels: its largest part."""
    placed = crop_prob_to_source(prob, tf, shape)
    if placed is None:
        return None
    top, left, roi = placed
    binary = (roi > 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    full = labels == best
    rows, cols = np.flatnonzero(full.any(1)), np.flatnonzero(full.any(0))
    return BodyMask(top + int(rows[0]), left + int(cols[0]),
                    full[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].copy())


def fuse_probability(p_body: float, film_score: float, weight: float) -> float:
    """Body-network probability blended with the film network's mean 'fractured' probability."""
    return float(np.clip(weight * p_body + (1.0 - weight) * film_score, 0.0, 1.0))


def build_annotation(image: Radiograph, parse: FilmParse, transform: FilmTransform,
                     crop_tfs: list[CropTransform], body_out: dict, film, threshold: float,
                     card, software_version: str, field: ExposedField | None = None,
                     masks: list[BodyMask | None] | None = None
                     ) -> tuple[StudyAnnotation, float | None]:
    """Findings in source pixels with grades decided as the module docstring says.

    ``field`` is the film's exposed field (collimation excluded); without it the image border is
    the edge that cuts bodies. ``masks``, the body network's masks already placed in source
    pixels (one per parse body), saves placing them again."""
    shape = (image.rows, image.columns)
    weight = float(card.input.get("fusion_weight", 0.5))
    findings, probs = [], []
    for i, (body, level) in enumerate(zip(parse.bodies, parse.levels)):
        points = crop_tfs[i].to_source(body_out["landmarks"][i])
        points[:, 0] = np.clip(points[:, 0], 0, shape[1] - 1)
        points[:, 1] = np.clip(points[:, 1], 0, shape[0] - 1)
        p = fuse_probability(float(body_out["fracture"][i]), body.fracture_score, weight)
        probs.append(p)
        findings.append(VertebraFinding(level=level, landmarks=points, fracture_probability=p,
                                        mask=masks[i] if masks is not None else
                                        body_mask(body_out["mask"][i], crop_tfs[i], shape)))
    evidence = [CutEvidence(tf.source_px_per_crop_px, spread)
                for tf, spread in zip(crop_tfs, body_out["landmark_spread"])]
    spreads = {f.finding_id: e.spread for f, e in zip(findings, evidence)}
    at_edge = _close_to_edge(findings, field, evidence)
    findings, cut = _drop_cut(findings, shape, field, evidence)
    _resolve_overlaps(findings)
    findings, sacrum, flags, cut = _anchor_on_sacrum(findings, parse, transform, shape, cut)
    doubts = uncertain_outline_note(findings, spreads) + tall_body_note(
        findings, threshold, image.spacing_mm) + edge_doubt_note(
        [f.level for f in findings if f.finding_id in at_edge])
    if sacrum is not None:
        findings.append(sacrum)
    provenance = Provenance(software_version=software_version, model_id=card.id,
                            model_version=card.version, source="model")
    if cut:
        flags.append(f"{', '.join(cut)} cut at the image edge: not measured")
    flags.extend(doubts)
    if not any(f.landmarks is not None for f in findings) and not cut:
        flags.append("no vertebral body found: the model could not read this film; check it")
    if film.inverted > 0.5:
        flags.append("grey scale looked inverted (bone dark); analysed with it inverted back")
    annotation = StudyAnnotation(image=image_ref_for(image), findings=tuple(findings),
                                 provenance=provenance, flags=tuple(flags))
    annotation = decide_grades(annotation, threshold)
    return annotation, (max(probs) if probs else None)


def _anchor_on_sacrum(findings: list[VertebraFinding], parse: FilmParse,
                      transform: FilmTransform, shape: tuple[int, int], cut: list[str]
                      ) -> tuple[list[VertebraFinding], VertebraFinding | None, list[str],
                                 list[str]]:
    """(bodies, sacrum finding, parse notes, cut levels), renumbered when the lowest body is the
    top of the sacrum (``models.sacrum_top``); the level task's lumbar count, made for the old
    numbering, is dropped then, and every other note's levels move with the bodies."""
    sacrum = None
    if parse.sacrum is not None:
        full = transform.mask_to_source(parse.sacrum) > 0
        if full.any():
            sacrum = VertebraFinding(level="S1", landmarks=None, mask=BodyMask.from_full(full))
    findings, sacrum, note = absorb_sacrum_top(findings, sacrum, shape)
    flags = list(parse.flags)
    if note is None:
        return findings, sacrum, flags, cut
    flags = [renamed_note(f) for f in flags if not f.startswith("lumbar count")] + [note]
    return findings, sacrum, flags, [renamed_note(level) for level in cut]


def _drop_cut(findings: list[VertebraFinding], shape: tuple[int, int],
              field: ExposedField | None = None, evidence: list[CutEvidence] | None = None
              ) -> tuple[list[VertebraFinding], list[str]]:
    """Bodies that reach the edge of the exposed field are left out (see ``_is_cut``); without a
    field, those whose landmarks come within the border margin of the image border."""
    kept, cut = [], []
    for i, f in enumerate(findings):
        if field is not None:
            whole = not _is_cut(f, field, max(shape), evidence[i] if evidence else None)
        else:
            margin = BORDER_MARGIN_FRACTION * max(shape)
            x, y = f.landmarks[:, 0], f.landmarks[:, 1]
            whole = (x >= margin).all() and (y >= margin).all() and \
                (x <= shape[1] - 1 - margin).all() and (y <= shape[0] - 1 - margin).all()
        (kept if whole else cut).append(f if whole else f.level)
    return kept, cut


def _is_cut(f: VertebraFinding, field: ExposedField, longer: int,
            evidence: CutEvidence | None) -> bool:
    """A landmark within the edge margin, a mask within ``MASK_EDGE_CELLS`` crop cells of the
    edge, or a diffuse landmark near it: the body network was trained on whole bodies and may
    draw a cut one's landmarks inside the field, so its mask and its uncertainty speak too."""
    depth = field.depth(f.landmarks)
    if (depth < EDGE_MARGIN_FRACTION * longer).any():
        return True
    if evidence is None:
        return _mask_reaches_edge(f.mask, field)
    if _mask_reaches_edge(f.mask, field, MASK_EDGE_CELLS * evidence.cell):
        return True
    nearest = int(np.argmin(depth))
    height = float(np.hypot(*(f.landmarks[2] - f.landmarks[5])))
    return bool(evidence.spread[nearest] >= DIFFUSE_LANDMARK_CELLS
                and depth[nearest] < NEAR_EDGE_HEIGHT * height)


def _close_to_edge(findings: list[VertebraFinding], field: ExposedField | None,
                   evidence: list[CutEvidence]) -> set[str]:
    """Finding ids of the bodies whose mask comes within ``EDGE_DOUBT_CELLS`` crop cells of the
    exposed field's edge (those ``_drop_cut`` keeps are the doubtful ones)."""
    if field is None:
        return set()
    return {f.finding_id for f, e in zip(findings, evidence)
            if _mask_reaches_edge(f.mask, field, EDGE_DOUBT_CELLS * e.cell)}


def _mask_reaches_edge(mask: BodyMask | None, field: ExposedField, reach: float = 0.0) -> bool:
    """Does the body's mask run into the collimated band or onto the image border, or come
    within ``reach`` source pixels of it?"""
    if mask is None:
        return False
    ys, xs = np.nonzero(mask.array)
    xs, ys = xs + mask.left, ys + mask.top
    rows, cols = field.source_shape
    on_border = (xs.min() <= 0 or ys.min() <= 0 or xs.max() >= cols - 1 or ys.max() >= rows - 1)
    return bool(on_border or (field.depth(np.stack([xs, ys], 1)) <= max(reach, 0.0)).any())


def _resolve_overlaps(findings: list[VertebraFinding]) -> None:
    """Neighbouring masks may overlap by a few pixels; the upper body yields them (simple, stable)."""
    for i in range(len(findings) - 1):
        a, b = findings[i].mask, findings[i + 1].mask
        if a is None or b is None:
            continue
        top, left = max(a.top, b.top), max(a.left, b.left)
        bottom = min(a.top + a.array.shape[0], b.top + b.array.shape[0])
        right = min(a.left + a.array.shape[1], b.left + b.array.shape[1])
        if bottom <= top or right <= left:
            continue
        a_view = a.array[top - a.top:bottom - a.top, left - a.left:right - a.left]
        both = a_view & b.array[top - b.top:bottom - b.top, left - b.left:right - b.left]
        a_view[both] = False

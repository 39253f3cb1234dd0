"""Training samples: labelled films (simulated or reader-exported) → film and body-crop examples.

A ``LabelledFilm`` is the common currency: unit-normalised pixels, the instance label map and the
ground-truth annotation, whether it came from ``vcfviewer.synth.simulate`` or from a training-set
folder exported by the viewer. ``film_example`` and ``body_example`` turn one into network inputs
and targets with heavy augmentation (scale/FOV, flips, inversion, gamma, contrast, blur, noise,
JPEG-like degradation), because real films differ from the simulator far more than the simulator
differs from itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.core.annotation import StudyAnnotation
from vcfviewer.models.assemble import crop_side
from vcfviewer.models.postprocess import column_angles
from vcfviewer.models.preprocess import (clahe_zscore, crop_matrix, extract_crop, letterbox,
                                         normalise_unit)


@dataclass
class LabelledFilm:
    """One film with exact labels; per-finding lookups are precomputed once."""

    unit: np.ndarray  # float16/float32 [0, 1]
    label_map: np.ndarray  # int16, 0 bg, k = finding index + 1, n + 1 = ignored (not in truth)
    annotation: StudyAnnotation
    frac_lut: np.ndarray  # label → {0 bg, 1 fractured, 2 normal, 3 sacrum}
    level_lut: np.ndarray  # label → {0 bg, 1 thoracic, 2 lumbar, 3 sacrum}
    centres: np.ndarray  # (n, 2) centre of mass per finding (NaN when absent from the map)
    areas: np.ndarray  # (n,) pixels per finding
    faces_right: bool
    # Resolution augmentation: up to this factor coarser (CT planes are 0.5-1 mm simulated but
    # 3 mm in many real scans); 1 = off.
    max_coarsen: float = 1.0

    @property
    def body_indices(self) -> list[int]:
        """Findings usable for the body stage (landmarks and pixels present)."""
        return [i for i, f in enumerate(self.annotation.findings)
                if f.landmarks is not None and self.areas[i] > 0]


IGNORE = -100  # torch's default ignore_index: such pixels add nothing to the film losses


def labelled_film(pixels: np.ndarray, label_map: np.ndarray, annotation: StudyAnnotation,
                  ignore: np.ndarray | None = None, max_coarsen: float = 1.0) -> LabelledFilm:
    """Precompute lookups for one film (the slow part is done once, not per sample).

    ``ignore`` marks pixels of bodies the truth leaves out (cut by the field edge); they get the
    label n + 1, whose classes are IGNORE, so the network is neither rewarded nor punished there.
    """
    n = len(annotation.findings)
    frac_lut = np.full(n + 2, IGNORE, np.int64)
    level_lut = np.full(n + 2, IGNORE, np.int64)
    frac_lut[0] = level_lut[0] = 0
    for i, f in enumerate(annotation.findings):
        kind = f.level[0]
        frac_lut[i + 1] = 3 if f.is_sacrum else (1 if f.is_fractured else 2)
        level_lut[i + 1] = {"S": 3, "L": 2}.get(kind, 1)
    labels = np.asarray(label_map).astype(np.int16)
    if ignore is not None:
        labels = np.where(np.asarray(ignore, bool) & (labels == 0), np.int16(n + 1), labels)
    centres = np.full((n, 2), np.nan)
    areas = np.zeros(n)
    for i in range(n):
        ys, xs = np.nonzero(labels == i + 1)
        if xs.size:
            centres[i] = (xs.mean(), ys.mean())
            areas[i] = xs.size
    return LabelledFilm(normalise_unit(pixels).astype(np.float16), labels, annotation,
                        frac_lut, level_lut, centres, areas, faces_right(annotation),
                        max(1.0, float(max_coarsen)))


def faces_right(annotation: StudyAnnotation) -> bool:
    """Does the truth's patient face right (anterior corners right of the posterior ones)?"""
    vert = [f for f in annotation.vertebrae]
    if not vert:
        return False
    dx = np.mean([f.landmarks[[0, 3], 0].mean() - f.landmarks[[2, 5], 0].mean() for f in vert])
    return bool(dx > 0)  # anterior points right of posterior ones


def coarsen(img: np.ndarray, rng: np.random.Generator, max_factor: float) -> np.ndarray:
    """Half the time, resample down by up to ``max_factor`` and back: a coarser scan, same grid."""
    if max_factor <= 1.0 or rng.random() < 0.5:
        return img
    factor = float(np.exp(rng.uniform(0.0, np.log(max_factor))))
    h, w = img.shape
    small = cv2.resize(img, (max(2, round(w / factor)), max(2, round(h / factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def augment_intensity(unit: np.ndarray, rng: np.random.Generator, strength: float = 1.0,
                      pixel_blur: float = 1.0, max_coarsen: float = 1.0) -> np.ndarray:
    """Coarser resolution, gamma, contrast window, blur, noise and JPEG-like degradation."""
    img = coarsen(unit.astype(np.float32), rng, max_coarsen)
    lo, hi = rng.uniform(0, 0.15 * strength), 1 - rng.uniform(0, 0.15 * strength)
    img = np.clip((img - lo) / max(hi - lo, 1e-3), 0, 1)
    img = img ** float(np.exp(rng.normal(0, 0.35 * strength)))
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 1.6) * pixel_blur))
    if rng.random() < 0.5:
        img = img + rng.normal(0, rng.uniform(0.005, 0.05 * strength), img.shape).astype(np.float32)
    if rng.random() < 0.3:
        q = int(rng.integers(25, 90))
        ok, buf = cv2.imencode(".jpg", np.clip(img * 255, 0, 255).astype(np.uint8),
                               [cv2.IMWRITE_JPEG_QUALITY, q])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    return np.clip(img, 0, 1)


def _random_fov(film: LabelledFilm, rng: np.random.Generator) -> tuple[slice, slice]:
    rows, cols = film.unit.shape
    h = int(rows * rng.uniform(0.55, 1.0))
    w = int(cols * rng.uniform(0.6, 1.0))
    top = int(rng.integers(0, rows - h + 1))
    left = int(rng.integers(0, cols - w + 1))
    return slice(top, top + h), slice(left, left + w)


def _letterbox_labels(labels: np.ndarray, size: int, flip: bool) -> np.ndarray:
    rows, cols = labels.shape
    scale = size / max(rows, cols)
    h, w = max(1, int(round(rows * scale))), max(1, int(round(cols * scale)))
    src = labels[:, ::-1] if flip else labels
    small = cv2.resize(np.ascontiguousarray(src).astype(np.int16), (w, h),
                       interpolation=cv2.INTER_NEAREST)
    canvas = np.zeros((size, size), np.int16)
    oy, ox = (size - h) // 2, (size - w) // 2
    canvas[oy:oy + h, ox:ox + w] = small
    return canvas


def centre_heatmap(labels: np.ndarray, keep: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Gaussian bumps at each kept label's centre of mass (max-combined), float32 [0, 1]."""
    heat = np.zeros(labels.shape, np.float32)
    yy, xx = np.mgrid[0:labels.shape[0], 0:labels.shape[1]]
    for k in np.unique(labels):
        if k == 0 or not keep[k]:
            continue
        ys, xs = np.nonzero(labels == k)
        cy, cx = ys.mean(), xs.mean()
        r = int(4 * sigma) + 1
        y0, y1 = max(0, int(cy) - r), min(labels.shape[0], int(cy) + r + 2)
        x0, x1 = max(0, int(cx) - r), min(labels.shape[1], int(cx) + r + 2)
        bump = np.exp(-((yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2) / (2 * sigma ** 2))
        heat[y0:y1, x0:x1] = np.maximum(heat[y0:y1, x0:x1], bump)
    return heat


def film_example(film: LabelledFilm, size: int, rng: np.random.Generator,
                 augment: bool = True) -> dict[str, np.ndarray]:
    """Network input and targets for the film stage."""
    unit, labels = film.unit, film.label_map
    flip, invert = False, False
    if augment:
        rs, cs = _random_fov(film, rng) if rng.random() < 0.7 else (slice(None), slice(None))
        unit, labels = unit[rs, cs], labels[rs, cs]
        flip, invert = rng.random() < 0.5, rng.random() < 0.2
        scale = size / max(unit.shape)
        unit = augment_intensity(unit, rng, pixel_blur=max(0.5, 0.5 / scale),
                                 max_coarsen=film.max_coarsen)
    unit = unit.astype(np.float32)
    if invert:
        unit = 1.0 - unit
    canvas, tf = letterbox(unit, size, flip)
    x = clahe_zscore(canvas, tf)
    lab = _letterbox_labels(labels, size, flip)
    keep = film.frac_lut.copy()
    keep_body = (keep == 1) | (keep == 2)
    return {"input": x[None].astype(np.float32), "fracture": film.frac_lut[lab],
            "level": film.level_lut[lab],
            "centre": centre_heatmap(lab, keep_body, sigma=max(1.5, size / 128)),
            "global": np.array([film.faces_right != flip, invert], np.float32)}


# Bodies cut by the field edge are left out of the truth (synth.geometry), so without help the
# body stage never sees one: shown a cut body, it draws a whole-looking body short of the edge,
# hidden corners included, and the cut rule (assemble._is_cut) keeps it. Painting a flat band
# across the side of some crops' bodies, with the true corners kept as targets, teaches it to put
# a hidden corner where it is: under the band, where the rule sees it. Off by default
# (``TrainConfig.edge_band_rate``): at 0.15 it removed some edge extras but added others, and it
# sharpened the landmark heatmaps of disc gaps too, so the gap probe's limits (models/hidden.py)
# had to be read again (model card, Ablations: measured twice, not shipped).

# Which wall the band runs along: collimation and the film's own edges cut the front, top and
# bottom of bodies; the back is always inside the field on a lateral spine film.
BAND_SIDES = {"anterior": ((0, 3), (2, 5)), "superior": ((0, 2), (3, 5)),
              "inferior": ((3, 5), (0, 2))}
BAND_SIDE_ODDS = (0.4, 0.3, 0.3)
# Band edge position: a share of the body's extent from the wall, outward (a whole body near
# the edge) or inward (a cut body), and a collimator's small tilt.
BAND_OFFSET = (-0.3, 0.15)
BAND_TILT_DEG = 5.0


def edge_band(shape: tuple[int, int], points: np.ndarray, side: str, offset: float,
              tilt_deg: float = 0.0) -> np.ndarray:
    """Pixels (bool, ``shape``) beyond a straight edge running along one wall of a body.

    ``points`` are the body's six landmarks (x, y) in the same pixels. The edge is the line through
    the wall's two corners, turned by ``tilt_deg`` about their midpoint and moved ``offset`` times
    the body's extent across that wall (its width for the anterior wall, height otherwise) away
    from the body; negative offsets cut into it."""
    wall, opposite = BAND_SIDES[side]
    a, b = points[wall[0]], points[wall[1]]
    mid = (a + b) / 2
    inner = points[list(opposite)].mean(axis=0)
    extent = float(np.linalg.norm(mid - inner))
    t = np.radians(tilt_deg)
    along = (b - a) / (np.linalg.norm(b - a) or 1.0)
    along = np.array([along[0] * np.cos(t) - along[1] * np.sin(t),
                      along[0] * np.sin(t) + along[1] * np.cos(t)])
    normal = np.array([-along[1], along[0]])
    if normal @ (mid - inner) < 0:
        normal = -normal  # outward, away from the body
    origin = mid + offset * extent * normal
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return (xx - origin[0]) * normal[0] + (yy - origin[1]) * normal[1] > 0


def _paint_band(unit: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paint a random edge band into ``unit`` (in place) and return its pixels: black as off the
    film or an electronic shutter, or the flat light grey of a lead collimator."""
    side = str(rng.choice(list(BAND_SIDES), p=BAND_SIDE_ODDS))
    band = edge_band(unit.shape, points, side, float(rng.uniform(*BAND_OFFSET)),
                     float(rng.uniform(-BAND_TILT_DEG, BAND_TILT_DEG)))
    unit[band] = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.55, 0.95))
    return band


def body_example(film: LabelledFilm, index: int, size: int, rng: np.random.Generator,
                 factor: float, augment: bool = True,
                 edge_band_rate: float = 0.0) -> dict[str, np.ndarray]:
    """Canonical crop (facing left, axis vertical) around one finding, with its targets.

    With ``augment``, a share ``edge_band_rate`` of crops gets a field-edge band (``edge_band``)."""
    finding = film.annotation.findings[index]
    present = [i for i in range(len(film.annotation.findings))
               if film.areas[i] > 0 and not film.annotation.findings[i].is_sacrum]
    order = present.index(index)
    angle = float(column_angles(film.centres[present])[order])
    side = crop_side(film.areas[index], factor)
    centre = film.centres[index].copy()
    if augment:
        side *= float(np.exp(rng.normal(0, 0.1)))
        centre += rng.normal(0, 0.05 * side, 2)
        angle += float(rng.normal(0, np.deg2rad(4)))
    # Work on a region around the body only: augmenting the whole film per crop is wasted time.
    r = int(side * 0.75) + 2
    top, left = max(0, int(centre[1]) - r), max(0, int(centre[0]) - r)
    rows, cols = slice(top, int(centre[1]) + r + 1), slice(left, int(centre[0]) + r + 1)
    unit, labels = film.unit[rows, cols].astype(np.float32), film.label_map[rows, cols]
    centre = centre - [left, top]
    points = finding.landmarks - [left, top]
    target = labels == index + 1
    if augment and edge_band_rate and rng.random() < edge_band_rate:
        # The mask target is what shows; the landmark targets stay where the corners are.
        target &= ~_paint_band(unit, points, rng)
    if augment:
        unit = augment_intensity(unit, rng, strength=0.8, pixel_blur=max(0.5, side / size),
                                 max_coarsen=film.max_coarsen)
    matrix = crop_matrix(centre, angle, side, size, film.faces_right)
    crop, tf = extract_crop(unit, matrix, size)
    mask = cv2.warpAffine(target.astype(np.float32), matrix, (size, size),
                          flags=cv2.INTER_LINEAR) > 0.5
    return {"input": crop[None], "mask": mask.astype(np.float32),
            "landmarks": tf.to_crop(points).astype(np.float32),
            "fracture": np.float32(finding.is_fractured)}

"""Flattened bodies the film network missed, found by the body network in gaps of the column.

A vertebra plana (grade 3, about half the height of its neighbours) gives the film network's
centre heatmap almost nothing to peak on (0.02-0.25 where a whole body scores near 1), so its
pixels join a neighbour or fall under the size filter, the column shows a gap, and every level
above it is numbered one too high. The body network, trained on crops centred on bodies of every
grade, still reads such a body: on a crop centred on the gap it draws a small mask and six
landmarks that make a flat but whole body at the crop's centre, while on an ordinary gap (a disc
between two bodies) its landmarks collapse onto a line or spread out, and its mask takes most of
a neighbour. ``reads_as_body`` is that test; the thresholds come from severe-fracture validation
films (model card), never from the test films.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vcfviewer.models import postprocess
from vcfviewer.models.assemble import crop_factor, film_crop_side
from vcfviewer.models.postprocess import FilmParse
from vcfviewer.models.preprocess import CropTransform, FilmTransform, crop_matrix, extract_crop

# What the body network draws at a gap that holds a body (validation films, see module doc):
# missed planae read 0.39-0.69, >= 0.16, <= 27.9 and <= 0.10 on these four measures; of the 59
# ordinary gaps probed, none passed all four. The offset limit was later widened from 0.12 to
# 0.15 for two planae of 200 more severe films (832000+, development) that read 0.139 and
# 0.143; a body the probe then reads inside a normal neighbour is dropped again by the repeat
# check, which makes the neighbour whole (``repeats.restored``).
MAX_MASK_SHARE = 0.75  # mask area over a typical body's area in the crop
MIN_HEIGHT_SHARE = 0.15  # each of Ha, Hm, Hp over the crop side (a disc's landmarks collapse)
MAX_SPREAD = 28.0  # crop px: the widest landmark heatmap (discs: mostly 28-38)
MAX_OFFSET_SHARE = 0.15  # landmark centre from the crop centre, over the crop side
# Beyond each end of the column the probe sits this share of the end gap out: a flat body lies
# nearer its neighbour than a whole one (half its height less). Whole bodies the film network
# missed at the ends are not added (their mask is too large), and added ones still face the
# edge rule (assemble._drop_cut), which leaves out bodies cut by the field.
END_STEP = 0.8
MIN_FILM_PIXELS = postprocess.MIN_BODY_PIXELS  # smaller on the film grid: noise (find_bodies)


@dataclass(frozen=True)
class GapProbe:
    """A crop centred where a missed body could lie (source pixels)."""

    centre: np.ndarray
    crop: np.ndarray
    tf: CropTransform


@dataclass(frozen=True)
class Frame:
    """The film probes are cut from, and the typical body they are sized and judged by."""

    unit: np.ndarray
    transform: FilmTransform
    side: float  # crop side, source pixels
    size: int  # crop side, crop pixels
    typical_area: float  # a typical body, source pixels
    typical_film_area: float  # the same on the film grid

    @classmethod
    def of(cls, unit: np.ndarray, parse: FilmParse, transform: FilmTransform,
           spec: dict) -> "Frame":
        film_area = float(np.median([b.area for b in parse.bodies]))
        side = film_crop_side(film_area, transform, spec)
        return cls(unit, transform, side, int(spec["body_size"]),
                   (side / crop_factor(spec)) ** 2, film_area)

    def probe(self, centre: np.ndarray, angle: float) -> GapProbe:
        """A canonical crop of a typical body's size centred on ``centre`` (source pixels)."""
        matrix = crop_matrix(centre, angle, self.side, self.size, self.transform.flipped)
        crop, tf = extract_crop(self.unit, matrix, self.size)
        return GapProbe(centre, crop, tf)


@dataclass(frozen=True)
class BodyReading:
    """The body network's answer for one crop (crop pixels)."""

    mask: np.ndarray  # (S, S) probability
    landmarks: np.ndarray  # (6, 2)
    spread: np.ndarray  # (6,)


def probe_points(centres: np.ndarray, end_step: float = END_STEP) -> list[tuple[np.ndarray, float]]:
    """Where a missed flat body could lie, as (centre [x, y], column angle in radians from +y):
    the midpoint of every gap between consecutive bodies (ordered cranial → caudal), and
    ``end_step`` x the end gap beyond each end of the column (a flat body sits nearer its
    neighbour than a whole one would).

    Every gap, not only the wide ones: a flat body merged into its neighbour pulls that
    neighbour's centre towards it, so its gap need not look wide. Of the 46 bodies the film
    network missed on 200 severe-fracture validation films, probing gaps >= 1.2x the median
    found 11 and probing every gap 23; bodies the truth lacks went from 24 to 20, not up."""
    if len(centres) < 3:
        return []
    steps = np.diff(centres, axis=0)

    def angle(step: np.ndarray) -> float:
        return float(np.arctan2(step[0], step[1]))

    points = [((centres[i] + centres[i + 1]) / 2, angle(steps[i])) for i in range(len(steps))]
    points.append((centres[0] - end_step * steps[0], angle(steps[0])))
    points.append((centres[-1] + end_step * steps[-1], angle(steps[-1])))
    return points


def gap_probes(unit: np.ndarray, parse: FilmParse, transform: FilmTransform,
               spec: dict) -> list[GapProbe]:
    """One canonical crop per probe point, sized as a typical body's crop, along the local axis."""
    if len(parse.bodies) < 3:
        return []
    frame = Frame.of(unit, parse, transform, spec)
    centres = transform.to_source(np.array([b.centre for b in parse.bodies]))
    rows, cols = unit.shape
    # At least half of a body centred off the film is cut: never measured, so never probed.
    return [frame.probe(centre, angle) for centre, angle in probe_points(centres)
            if 0 <= centre[0] <= cols - 1 and 0 <= centre[1] <= rows - 1]


def reads_as_body(reading: BodyReading, factor: float) -> bool:
    """Does the body network see a whole (if flat) body at the centre of a gap crop?

    ``factor`` is the crop side over a typical body's side (``crop_side_factor``), so a typical
    body covers (size / factor)^2 crop pixels."""
    size = reading.mask.shape[0]
    share = float((reading.mask > 0.5).sum()) / (size / factor) ** 2
    lm = reading.landmarks
    heights = [float(np.hypot(*(lm[k] - lm[k + 3]))) for k in range(3)]
    offset = float(np.hypot(*(lm.mean(axis=0) - (size - 1) / 2)))
    return (0.0 < share <= MAX_MASK_SHARE and min(heights) >= MIN_HEIGHT_SHARE * size
            and float(reading.spread.max()) <= MAX_SPREAD and offset <= MAX_OFFSET_SHARE * size)


def mask_on_film_grid(prob: np.ndarray, tf: CropTransform, transform: FilmTransform) -> np.ndarray:
    """A crop-grid probability map as a boolean mask on the film network's input grid."""
    n = transform.size
    ys, xs = np.mgrid[0:n, 0:n]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    crop = np.rint(tf.to_crop(transform.to_source(grid))).astype(int)
    size = prob.shape[0]
    inside = (crop >= 0).all(axis=1) & (crop < size).all(axis=1)
    out = np.zeros(n * n, bool)
    out[inside] = prob[crop[inside, 1], crop[inside, 0]] > 0.5
    return out.reshape(n, n)


def add_hidden_bodies(unit: np.ndarray, parse: FilmParse, transform: FilmTransform,
                      maps: tuple[np.ndarray, np.ndarray], spec: dict,
                      run_bodies: Callable[[np.ndarray], dict]) -> FilmParse:
    """``parse`` with the flat bodies the body network finds in the column's gaps and ends.

    ``maps`` are the film network's (fracture, level) softmax maps the parse came from;
    ``run_bodies`` is the body network on a crop stack (``Analyzer.run_bodies``)."""
    probes = gap_probes(unit, parse, transform, spec)
    if not probes:
        return parse
    out = run_bodies(np.stack([p.crop for p in probes]))
    factor = crop_factor(spec)
    found = []
    for k, probe in enumerate(probes):
        reading = BodyReading(out["mask"][k], out["landmarks"][k], out["landmark_spread"][k])
        if reads_as_body(reading, factor):
            found.append(mask_on_film_grid(reading.mask, probe.tf, transform))
    masks = distinct_bodies(found)
    return insert_bodies(parse, masks, *maps, transform.content_box) if masks else parse


def distinct_bodies(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Film-grid masks large enough to be a body, each added once: two probes (a gap's and an
    end's) can read the same flat body, and the first reading keeps it."""
    kept: list[np.ndarray] = []
    for mask in masks:
        if mask.sum() >= MIN_FILM_PIXELS and not any((mask & m).any() for m in kept):
            kept.append(mask)
    return kept


def insert_bodies(parse: FilmParse, masks: list[np.ndarray], fracture_prob: np.ndarray,
                  level_prob: np.ndarray, content_box: tuple[int, int, int, int]) -> FilmParse:
    """The column with the bodies of ``masks`` (film grid) added and renumbered from the sacrum.

    Pixels a neighbour had swallowed are given back to the new body, so the neighbour's centre
    (and the crop the body network measures it on) moves back onto the neighbour itself."""
    found = np.logical_or.reduce(masks)
    # What is left of a neighbour must still be a body by find_bodies' own size rule.
    least = postprocess.MIN_BODY_FRACTION * float(np.median([b.area for b in parse.bodies]))
    bodies = []
    for b in parse.bodies:
        rest = b.mask & ~found
        if rest.sum() == b.area:
            bodies.append(b)
            continue
        rest = postprocess.largest_component(rest) if rest.any() else rest
        if rest.sum() >= least:
            bodies.append(postprocess.body_candidate(rest, fracture_prob, level_prob, content_box,
                                                     before=b.before or b))
    new = [postprocess.body_candidate(m, fracture_prob, level_prob, content_box, second_look=True)
           for m in masks]
    renumbered = postprocess.number_levels(bodies + new, parse.sacrum, drop_cut=False)
    names = [name for body, name in zip(renumbered.bodies, renumbered.levels)
             if any(body is b for b in new)]
    flags = renumbered.flags
    if names:
        flags += (f"{', '.join(names)}: a flattened body the film network missed, found on a "
                  "second look along the column by the body network; check it and the levels "
                  "above it",)
    return FilmParse(renumbered.bodies, renumbered.sacrum, renumbered.levels, flags)

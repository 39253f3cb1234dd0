"""Two vertebral bodies read as one, read apart by the body network.

A flattened vertebra can merge into its neighbour on the film network's grid without leaving a
gap: one tall "body" is measured, the flat one's fracture goes unseen and every level above is
one too high. ``confidence.tall_bodies`` names such a body (at least 1.4x as tall as the
tallest normal body within two places). Here the body network takes a second look at it: two
crops of a typical body's size, centred a quarter and three quarters of the way down the tall
body's axis. Over two bodies each crop frames one of them and the two readings barely overlap;
over one body drawn too tall both crops draw that same body. Two sharp readings (mean landmark
spread within ``confidence.MAX_MEAN_SPREAD``) of at least ``MIN_AREA`` of a typical body that
share less than ``repeats.REPEAT_SHARE`` of the smaller mask are taken as two bodies: they
replace the tall one and the column is renumbered, with a note.

When the two readings do overlap, one crop may still have drawn its own body whole and part of
the other's with it: web-lateral-1's lower crop draws the wedged L4 and half of the L3 above
it (the readings share 0.50 of the smaller mask). Then the sharper reading is one body and what
the other reading adds inside the tall body is the second, if that rest is a body's size
(``trimmed_pair``); over one body drawn too tall both crops draw that body, and what one adds
to the other is a sliver (0.002-0.10 of a typical body in the stress test below).

Every limit comes from elsewhere (the repeat check's overlap, the outline check's spread, the
film parse's smallest body), none was fitted here. On the films the tall note named (model
card): development severe films 832000+ (one merge, read apart; one tall single body, not),
held-out severe 831000+ (four merges, all read apart), held-out 900013 (one body drawn too
tall, its lower reading diffuse: not split) and web-lateral-1 (read apart by what its lower
reading adds). ``scripts/stress_read_apart.py`` merges a crushed body with its neighbour on
simulated films and counts the columns that come back: the trimming brought back 6 and 5 more
of some 195 merges on two severe sets and made no wrong split (model card, Design).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from vcfviewer.core.annotation import VertebraFinding
from vcfviewer.models import postprocess
from vcfviewer.models.assemble import body_mask, crop_factor, film_crop_side
from vcfviewer.models.confidence import APART_MARK, MAX_MEAN_SPREAD, tall_bodies
from vcfviewer.models.hidden import MIN_FILM_PIXELS, GapProbe, mask_on_film_grid
from vcfviewer.models.postprocess import FilmParse
from vcfviewer.models.preprocess import FilmTransform, crop_matrix, extract_crop
from vcfviewer.models.repeats import REPEAT_SHARE, overlap_share

PROBE_AT = (0.25, 0.75)  # along the tall body's axis, superior → inferior endplate midpoints
MIN_AREA = postprocess.MIN_BODY_FRACTION  # of a typical body: a smaller reading is no body


@dataclass(frozen=True)
class TallBody:
    """A tall body of the column and the two crops that look at its halves."""

    level: str
    ratio: float  # its height over the tallest normal neighbour's (``tall_bodies``)
    index: int  # in the parse
    probes: tuple[GapProbe, GapProbe]


def probe_centres(landmarks: np.ndarray) -> tuple[list[np.ndarray], float]:
    """(centres, column angle from +y in radians) of the probes along a body's axis."""
    top, bottom = landmarks[:3].mean(axis=0), landmarks[3:].mean(axis=0)
    axis = bottom - top
    return [top + t * axis for t in PROBE_AT], float(np.arctan2(axis[0], axis[1]))


def parse_index(finding: VertebraFinding, parse: FilmParse, transform: FilmTransform) -> int:
    """The parse body a finding was measured from: the one whose film-grid mask holds the
    finding's centre, else the nearest."""
    x, y = transform.to_input(finding.landmarks.mean(axis=0))
    col, row = int(round(x)), int(round(y))
    for i, body in enumerate(parse.bodies):
        rows, cols = body.mask.shape
        if 0 <= row < rows and 0 <= col < cols and body.mask[row, col]:
            return i
    return int(np.argmin([np.hypot(*(b.centre - (x, y))) for b in parse.bodies]))


def tall_probes(unit: np.ndarray, findings: Sequence[VertebraFinding], parse: FilmParse,
                transform: FilmTransform, spec: dict, threshold: float,
                spacing: tuple[float, float] | None) -> list[TallBody]:
    """Two canonical crops, a typical body's size, over each tall body's halves."""
    tall = tall_bodies(findings, threshold, spacing)
    if not tall or not parse.bodies:
        return []
    size = int(spec["body_size"])
    side = film_crop_side(float(np.median([b.area for b in parse.bodies])), transform, spec)
    out = []
    for finding in findings:
        if finding.level not in tall or finding.landmarks is None:
            continue
        centres, angle = probe_centres(finding.landmarks)
        probes = []
        for centre in centres:
            crop, tf = extract_crop(unit, crop_matrix(centre, angle, side, size, transform.flipped),
                                    size)
            probes.append(GapProbe(centre, crop, tf))
        out.append(TallBody(finding.level, tall[finding.level],
                            parse_index(finding, parse, transform), tuple(probes)))
    return out


def sharp_readings(masks: Sequence, spreads: Sequence[float], typical_area: float) -> bool:
    """Are both readings (source masks, mean landmark spreads) bodies the body network is sure
    of: at least ``MIN_AREA`` of a typical body, landmarks sharp?"""
    return (all(m is not None and m.area >= MIN_AREA * typical_area for m in masks)
            and all(s <= MAX_MEAN_SPREAD for s in spreads))


def reads_apart(masks: Sequence, spreads: Sequence[float], typical_area: float) -> bool:
    """Do the two readings (source masks, mean landmark spreads) make two distinct bodies?"""
    return sharp_readings(masks, spreads, typical_area) and overlap_share(*masks) < REPEAT_SHARE


def trimmed_pair(film_masks: Sequence[np.ndarray], spreads: Sequence[float],
                 tall_mask: np.ndarray, typical_film_area: float) -> list[np.ndarray] | None:
    """Two overlapping readings (film grid) as two bodies, superior first: the sharper reading,
    and the largest piece of what the other adds inside the tall body's mask, when that piece
    is at least ``MIN_AREA`` of a typical body; else None."""
    anchor = int(np.argmin(spreads))
    rest = film_masks[1 - anchor] & ~film_masks[anchor] & tall_mask
    rest = postprocess.largest_component(rest)
    if rest.sum() < max(MIN_AREA * typical_film_area, MIN_FILM_PIXELS):
        return None
    return sorted([film_masks[anchor], rest], key=lambda m: float(np.nonzero(m)[0].mean()))


def two_bodies(masks: Sequence, spreads: Sequence[float], film_masks: Sequence[np.ndarray],
               tall_mask: np.ndarray, typical_area: float, typical_film_area: float
               ) -> list[np.ndarray] | None:
    """The two bodies (film grid, superior first) that the readings of a tall body's halves
    make, or None when they make one: distinct readings (``reads_apart``) as they are,
    overlapping sharp ones trimmed (``trimmed_pair``). ``masks`` are the readings in source
    pixels, ``typical_area`` a typical body's source area, ``typical_film_area`` its film-grid
    area."""
    if not sharp_readings(masks, spreads, typical_area) or \
            any(m.sum() < MIN_FILM_PIXELS for m in film_masks):
        return None
    if overlap_share(*masks) < REPEAT_SHARE:
        return list(film_masks)
    return trimmed_pair(film_masks, spreads, tall_mask, typical_film_area)


def split_column(parse: FilmParse, tall: TallBody, film_masks: Sequence[np.ndarray],
                 maps: tuple[np.ndarray, np.ndarray], content_box: tuple[int, int, int, int]
                 ) -> FilmParse:
    """The column with the tall body replaced by the two bodies of ``film_masks`` (film grid,
    superior first), renumbered, with a note."""
    fracture_prob, level_prob = maps
    new = [postprocess.body_candidate(m, fracture_prob, level_prob, content_box)
           for m in film_masks]
    kept = [b for i, b in enumerate(parse.bodies) if i != tall.index]
    out = postprocess.renumbered(parse, kept + new, forget=[parse.levels[tall.index]])
    names = " and ".join(postprocess.level_of(out, b) for b in new)
    note = (f"{names}: {APART_MARK} (the body numbered {tall.level} was {tall.ratio:.2f}x as "
            "tall as the tallest normal body within two levels); the body network read them "
            "apart and the levels above moved up; check both and the levels")
    return replace(out, flags=out.flags + (note,))


def read_apart(unit: np.ndarray, findings: Sequence[VertebraFinding], parse: FilmParse,
               transform: FilmTransform, maps: tuple[np.ndarray, np.ndarray], spec: dict,
               threshold: float, spacing: tuple[float, float] | None,
               run_bodies: Callable[[np.ndarray], dict]) -> FilmParse | None:
    """The column with every tall body the body network reads as two split, or None when
    none is (the measured column stands)."""
    talls = tall_probes(unit, findings, parse, transform, spec, threshold, spacing)
    if not talls:
        return None
    out = run_bodies(np.stack([p.crop for t in talls for p in t.probes]))
    typical_film_area = float(np.median([b.area for b in parse.bodies]))
    side = film_crop_side(typical_film_area, transform, spec)
    typical_area = (side / crop_factor(spec)) ** 2
    split = parse
    for k, tall in enumerate(talls):
        rows = (2 * k, 2 * k + 1)
        masks = [body_mask(out["mask"][r], p.tf, unit.shape) for r, p in zip(rows, tall.probes)]
        spreads = [float(out["landmark_spread"][r].mean()) for r in rows]
        film_masks = [mask_on_film_grid(out["mask"][r], p.tf, transform)
                      for r, p in zip(rows, tall.probes)]
        # An earlier split renumbered the column: find the tall body in it again (gone when
        # two tall findings came from one parse body, which is split once).
        index = next((i for i, b in enumerate(split.bodies) if b is parse.bodies[tall.index]),
                     None)
        pair = None if index is None else two_bodies(
            masks, spreads, film_masks, parse.bodies[tall.index].mask, typical_area,
            typical_film_area)
        if pair is not None:
            split = split_column(split, replace(tall, index=index), pair, maps,
                                 transform.content_box)
    return None if split is parse else split


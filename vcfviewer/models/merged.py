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

When only one reading is sharp (the other crop, centred on a flat body, draws it vaguely), the
body network looks once more (``look_again``): a crop centred on what the sharp reading leaves
of the tall body, if that rest is a body's size. A sharp reading there that barely overlaps the
first is the second body.

Every limit comes from elsewhere (the repeat check's overlap, the outline check's spread, the
film parse's smallest body), none was fitted here. On the films the tall note named (model
card): development severe films 832000+ (one merge, read apart; one tall single body, not),
held-out severe 831000+ (four merges, all read apart), held-out 900013 (one body drawn too
tall at the top edge: the look again splits off a T10 that the edge rule then drops, the
column as before) and web-lateral-1 (read apart by what its lower reading adds).
``scripts/stress_read_apart.py`` merges a crushed body with its neighbour on simulated films
and counts the columns that come back, and stretches a normal body's landmarks as a control
(model card, Design, for the figures).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from vcfviewer.core.annotation import BodyMask, VertebraFinding
from vcfviewer.models import postprocess
from vcfviewer.models.assemble import body_mask
from vcfviewer.models.confidence import APART_MARK, MAX_MEAN_SPREAD, tall_bodies
from vcfviewer.models.hidden import MIN_FILM_PIXELS, Frame, GapProbe, mask_on_film_grid
from vcfviewer.models.postprocess import FilmParse
from vcfviewer.models.preprocess import FilmTransform
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
    angle: float = 0.0  # of its axis from +y, radians (``probe_centres``)


@dataclass(frozen=True)
class Reading:
    """The body network's answer on one probe: its mask in source pixels and on the film
    network's grid, and its mean landmark spread (``confidence.outline_uncertain``'s measure)."""

    mask: BodyMask | None
    film_mask: np.ndarray
    spread: float

    def sharp(self, typical_area: float) -> bool:
        """A body the network is sure of: at least ``MIN_AREA`` of a typical body (source
        pixels), sharp landmarks, and more than a speck on the film grid."""
        return (self.mask is not None and self.mask.area >= MIN_AREA * typical_area
                and self.spread <= MAX_MEAN_SPREAD and self.film_mask.sum() >= MIN_FILM_PIXELS)


def read_probe(frame: Frame, out: dict, row: int, probe: GapProbe) -> Reading:
    """Row ``row`` of the body network's output ``out``, read on ``probe``."""
    return Reading(body_mask(out["mask"][row], probe.tf, frame.unit.shape),
                   mask_on_film_grid(out["mask"][row], probe.tf, frame.transform),
                   float(out["landmark_spread"][row].mean()))


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


def tall_probes(frame: Frame, findings: Sequence[VertebraFinding], parse: FilmParse,
                threshold: float, spacing: tuple[float, float] | None) -> list[TallBody]:
    """Two canonical crops, a typical body's size, over each tall body's halves."""
    tall = tall_bodies(findings, threshold, spacing)
    if not tall:
        return []
    out = []
    for finding in findings:
        if finding.level not in tall or finding.landmarks is None:
            continue
        centres, angle = probe_centres(finding.landmarks)
        out.append(TallBody(finding.level, tall[finding.level],
                            parse_index(finding, parse, frame.transform),
                            tuple(frame.probe(c, angle) for c in centres), angle))
    return out


def reads_apart(readings: Sequence[Reading], typical_area: float) -> bool:
    """Do the two readings make two distinct bodies: both sharp, sharing less than
    ``REPEAT_SHARE`` of the smaller mask?"""
    return all(r.sharp(typical_area) for r in readings) and \
        overlap_share(readings[0].mask, readings[1].mask) < REPEAT_SHARE


def trimmed_pair(readings: Sequence[Reading], tall_mask: np.ndarray,
                 typical_film_area: float) -> list[np.ndarray] | None:
    """Two overlapping readings as two bodies (film grid, superior first): the sharper reading,
    and the largest piece of what the other adds inside the tall body's mask, when that piece
    is at least ``MIN_AREA`` of a typical body; else None."""
    anchor = min(readings, key=lambda r: r.spread)
    other = readings[1] if anchor is readings[0] else readings[0]
    rest = body_sized_rest(other.film_mask & ~anchor.film_mask & tall_mask, typical_film_area)
    return None if rest is None else superior_first([anchor.film_mask, rest])


def body_sized_rest(pixels: np.ndarray, typical_film_area: float) -> np.ndarray | None:
    """The largest piece of ``pixels`` (film grid) when it is at least ``MIN_AREA`` of a typical
    body (and more than a speck), else None."""
    rest = postprocess.largest_component(pixels)
    return rest if rest.sum() >= max(MIN_AREA * typical_film_area, MIN_FILM_PIXELS) else None


def superior_first(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Film-grid masks ordered by their mean row, cranial first."""
    return sorted(masks, key=lambda m: float(np.nonzero(m)[0].mean()))


def two_bodies(readings: Sequence[Reading], tall_mask: np.ndarray, frame: Frame
               ) -> list[np.ndarray] | None:
    """The two bodies (film grid, superior first) that the readings of a tall body's halves
    make, or None when they make one: distinct sharp readings (``reads_apart``) as they are,
    overlapping sharp ones trimmed (``trimmed_pair``)."""
    if not all(r.sharp(frame.typical_area) for r in readings):
        return None
    if overlap_share(readings[0].mask, readings[1].mask) < REPEAT_SHARE:  # reads_apart
        return [r.film_mask for r in readings]
    return trimmed_pair(readings, tall_mask, frame.typical_film_area)


def rest_probe(sharp: Reading, tall: TallBody, tall_mask: np.ndarray,
               frame: Frame) -> GapProbe | None:
    """A crop centred on the largest piece of the tall body that ``sharp`` leaves, when that
    piece is at least ``MIN_AREA`` of a typical body; else None."""
    rest = body_sized_rest(tall_mask & ~sharp.film_mask, frame.typical_film_area)
    if rest is None:
        return None
    rows, cols = np.nonzero(rest)
    centre = frame.transform.to_source(np.array([[cols.mean(), rows.mean()]]))[0]
    return frame.probe(centre, tall.angle)


def look_again(readings: Sequence[Reading], tall: TallBody, tall_mask: np.ndarray,
               frame: Frame, run_bodies: Callable[[np.ndarray], dict]
               ) -> list[np.ndarray] | None:
    """Where exactly one reading is sharp: the body network on what it leaves of the tall body
    (``rest_probe``); a sharp reading there that barely overlaps the first makes the second
    body. The pair (film grid, superior first), or None."""
    sharp = [r for r in readings if r.sharp(frame.typical_area)]
    probe = rest_probe(sharp[0], tall, tall_mask, frame) if len(sharp) == 1 else None
    if probe is None:
        return None
    again = read_probe(frame, run_bodies(probe.crop[None]), 0, probe)
    if not reads_apart([sharp[0], again], frame.typical_area):
        return None
    return superior_first([sharp[0].film_mask, again.film_mask])


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
    if not parse.bodies:
        return None
    frame = Frame.of(unit, parse, transform, spec)
    talls = tall_probes(frame, findings, parse, threshold, spacing)
    if not talls:
        return None
    out = run_bodies(np.stack([p.crop for t in talls for p in t.probes]))
    split = parse
    for k, tall in enumerate(talls):
        readings = [read_probe(frame, out, 2 * k + j, p) for j, p in enumerate(tall.probes)]
        # An earlier split renumbered the column: find the tall body in it again (gone when
        # two tall findings came from one parse body, which is split once).
        index = next((i for i, b in enumerate(split.bodies) if b is parse.bodies[tall.index]),
                     None)
        if index is None:
            continue
        tall_mask = parse.bodies[tall.index].mask
        pair = two_bodies(readings, tall_mask, frame) or \
            look_again(readings, tall, tall_mask, frame, run_bodies)
        if pair is not None:
            split = split_column(split, replace(tall, index=index), pair, maps,
                                 transform.content_box)
    return None if split is parse else split

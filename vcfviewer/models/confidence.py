"""Bodies whose outline the model is unsure of, named in a note so the reader checks them first.

Two signs, both from the body network's own output: its mask and the quadrilateral of its six
landmarks disagree, or its landmark heat maps are diffuse. On 400 simulated validation films
(natural and severe) no body with every landmark within 10 % of its height of the truth showed
either (0 of 2285: mask vs landmarks IoU ≥ 0.79, mean spread ≤ 10 crop px), 12 of the 104 other
or extra bodies did; held out, 0 of 1194 and 6 of 38 (`vcfviewer evaluate`, model card). On the
real films it names web-lateral-4's ragged T12 fragment (called grade 3) and three bodies of the
low-contrast web-lateral-2. The grade is left as decided: the reader settles it.

A third sign comes from the column, not the body: a body much taller than the normal bodies
beside it. Neighbouring vertebrae differ little in height, so a body that looks half as tall
again is most likely two read as one — a flattened vertebra merged into its neighbour, which
leaves every level above it one too high (web-lateral-1: a wedged L4 drawn together with
L3, its fracture missed). See ``tall_bodies`` for the rule and where its limit comes from;
``models.merged`` then asks the body network whether it can read the tall body apart.

A fourth comes from the film's edge: a body measured although its mask reaches almost to the edge
of the exposed field may be cut off there (``edge_doubt_note``). The simulator leaves such a body
out of the truth, and on the simulated films it is the commonest wrong column; the pixels rarely
settle it, so the reader is asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from vcfviewer.core.annotation import VertebraFinding
from vcfviewer.core.morphometry import body_heights

NOTE_MARK = ": outline uncertain ("
TALL_MARK = "as tall as the tallest normal body within two levels"
TALL_NOTE = re.compile(rf"\S+: [\d.]+x {re.escape(TALL_MARK)}")  # how tall_body_note starts
# The note naming bodies kept at the edge of the exposed field that may be cut off there.
EDGE_MARK = "close to the edge of the exposed field"
# The note of a tall body the body network read apart as two (models.merged): the words after
# the levels.
APART_MARK = "two bodies read as one"


def is_tall_note(note: str) -> bool:
    """Is ``note`` the "two bodies read as one?" note of ``tall_body_note``?"""
    return TALL_NOTE.match(note) is not None

# The landmarks (LANDMARK_NAMES order) walked round the body: top front → top back → bottom back.
_OUTLINE_ORDER = (0, 1, 2, 5, 4, 3)
MIN_OUTLINE_IOU = 0.75
# A body's tallest height over the tallest of the bodies within TALL_REACH places on either side
# that the model calls unfractured (a fractured neighbour is short and would make any normal
# body look tall). On 486 simulated validation films (natural, severe, flat-back) the largest
# ratio of a body in the truth was 1.29 (of 2886); held out see the model card. The
# tallest neighbour, not their median, is the reference: a normal L5 under two crushed bodies
# still has a normal one within reach, or none and is not judged.
TALL_LIMIT = 1.4
TALL_REACH = 2
# Mean heat-map spread of the six landmarks, in pixels of the body network's crop (96 px for
# vcf-lateral; a sharp landmark spreads 2-6 px, the middle ones more along the endplate).
MAX_MEAN_SPREAD = 11.0
# Every limit on the body network's heat-map spread (here, in the cut rule, the gap probe, the
# closer look and the read-apart check) was set on the shipped body network (1.2.0's), whose
# column bodies spread by a median of SPREAD_REFERENCE crop px (mean of the six landmarks;
# `Analyzer.column_spreads` on the 24 validation films a training run uses, seeds 800000+). A
# body network trained since spreads differently (a default `vcfviewer train` run: about 16
# after 800 steps, so every body read "outline uncertain"): its card records its own median
# (``landmark_spread_reference``, measured by the run) and the analyser scales its spreads onto
# the shipped network's scale, so the limits keep their meaning (model card, Ablations). Only
# down: a sharper network's spreads are not scaled up (``spread_scale``).
SPREAD_REFERENCE = 6.83


def spread_reference(column_spreads: Sequence[np.ndarray]) -> float:
    """The median of the bodies' mean landmark spreads (``Analyzer.column_spreads`` of each
    film): what a model card's ``landmark_spread_reference`` records."""
    values = np.concatenate([np.ravel(s) for s in column_spreads] or [np.zeros(0)])
    return round(float(np.median(values)), 2) if values.size else SPREAD_REFERENCE


def spread_scale(card_input: dict) -> float:
    """Factor that puts a more diffuse model's landmark spreads on the shipped body network's
    scale (1 for a card without ``landmark_spread_reference``, and for a sharper network).

    Why never above 1: a sharper network spreads less on the clear bodies that set its median,
    but not in proportion on the ambiguous corners the limits exist for; scaled up by 1.85, a
    default 2400-step run's spreads cut whole bodies at the film's top (read as they come, its
    whole column went 0.91 -> 0.93 on validation 800100+; model card, Ablations)."""
    measured = float(card_input.get("landmark_spread_reference", SPREAD_REFERENCE))
    return min(1.0, SPREAD_REFERENCE / measured)


def outline_iou(finding: VertebraFinding) -> float | None:
    """Intersection over union of the body's mask and its landmark quadrilateral (None without
    a mask)."""
    import cv2  # here: the viewer imports this module for its note marks at start-up

    mask = finding.mask
    if mask is None or finding.landmarks is None:
        return None
    polygon = np.zeros(mask.array.shape, np.uint8)
    corners = finding.landmarks[list(_OUTLINE_ORDER)] - (mask.left, mask.top)
    cv2.fillPoly(polygon, [np.round(corners).astype(np.int32)], 1)
    body, quad = mask.array.astype(bool), polygon.astype(bool)
    union = int((body | quad).sum())
    return float((body & quad).sum() / union) if union else 0.0


def outline_uncertain(finding: VertebraFinding, spread: np.ndarray) -> bool:
    """Mask and landmarks disagree, or the landmarks (``spread``: (6,) crop px) are diffuse."""
    iou = outline_iou(finding)
    return (iou is not None and iou < MIN_OUTLINE_IOU) or float(np.mean(spread)) > MAX_MEAN_SPREAD


def uncertain_outline_note(findings: Sequence[VertebraFinding],
                           spreads: dict[str, np.ndarray]) -> list[str]:
    """One study note naming the bodies (by finding id in ``spreads``) the model is unsure of."""
    levels = [f.level for f in findings
              if f.finding_id in spreads and outline_uncertain(f, spreads[f.finding_id])]
    if not levels:
        return []
    return [f"{', '.join(levels)}{NOTE_MARK}the mask and the landmarks disagree, or the "
            "landmarks are diffuse): check before trusting the measurements and grade"]


def uncertain_levels(flags: Sequence[str]) -> frozenset[str]:
    """The levels a study's "outline uncertain" note names (evaluation reads them back)."""
    for note in flags:
        if NOTE_MARK in note:
            return frozenset(note.split(NOTE_MARK)[0].split(", "))
    return frozenset()


def tall_bodies(findings: Sequence[VertebraFinding], threshold: float,
                spacing: tuple[float, float] | None = None) -> dict[str, float]:
    """{level: ratio} for the measured bodies (cranial → caudal) whose tallest height is at least
    ``TALL_LIMIT`` times the tallest of the bodies within ``TALL_REACH`` places that the model
    calls unfractured (fracture probability under ``threshold``); ``spacing`` (row, col) mm."""
    bodies = [f for f in findings if f.landmarks is not None and not f.is_sacrum]
    tallest = [max(body_heights(f.landmarks, spacing).values()) for f in bodies]
    normal = [(f.fracture_probability or 0.0) < threshold for f in bodies]
    out = {}
    for i, body in enumerate(bodies):
        near = [tallest[j] for j in range(max(0, i - TALL_REACH), i + TALL_REACH + 1)
                if j != i and j < len(bodies) and normal[j] and tallest[j] > 0]
        if near and tallest[i] >= TALL_LIMIT * max(near):
            out[body.level] = tallest[i] / max(near)
    return out


def tall_body_note(findings: Sequence[VertebraFinding], threshold: float,
                   spacing: tuple[float, float] | None = None) -> list[str]:
    """One study note per body ``tall_bodies`` names: it may be two vertebrae read as one."""
    return [f"{level}: {ratio:.2f}x {TALL_MARK}: it may be two vertebrae read as one (a "
            "flattened body merged with its neighbour), and the levels above it would then be one "
            "too high; check its outline, its grade and the levels"
            for level, ratio in tall_bodies(findings, threshold, spacing).items()]


def edge_doubt_note(levels: Sequence[str]) -> list[str]:
    """One study note naming the bodies measured although they reach almost to the edge of the
    exposed field (``assemble.EDGE_DOUBT_CELLS``): part of such a body may lie beyond the edge,
    and then its heights are the visible part's."""
    if not levels:
        return []
    each = "it is" if len(levels) == 1 else "each is"
    return [f"{', '.join(levels)}: {EDGE_MARK}, where a body may be cut off: check that {each} "
            "whole on the film before trusting its measurements and grade"]

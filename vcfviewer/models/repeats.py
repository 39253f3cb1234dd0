"""One vertebral body read twice.

A body can reach the body network twice: the film network's centre heatmap can peak twice on
it, far enough apart to pass ``postprocess.suppress_close_peaks``, or the gap probe
(``models.hidden``) can read part of a steeply tilted body as a flat one beside it (held-out
film 900181: the upper half of a tilted L5). The body network then draws the body on both
crops, and every level above it is numbered one too high. Two different bodies' masks barely
touch: on the 460 validation films (seeds 800100+, 800200+, severe 830000+, flat-back 870000+)
the two pairs of neighbours whose masks touched at all shared 0.06 and 0.16 of the smaller one,
while the two bodies read twice shared 0.24 and 0.99 of it. So a pair sharing at least
``REPEAT_SHARE`` is one body. Where one of the two is a second look's body (the gap probe's),
the film network's own reading stands, and if the probe had taken pixels from it the body is
made whole again and measured afresh (``restored``): measured from the remainder, a normal
body read as crushed (held-out flat-back 970060, once the probe's offset limit was widened).
Otherwise the reading kept is the one the body network is surer of, the one with the sharper
landmarks (lower mean heatmap spread, as ``confidence.outline_uncertain`` measures it): a crop
that frames the body whole gives sharp corners, one centred off it diffuse ones. (Settled on
held-out 900181, where the larger mask was the vaguer reading, a grade 3 "flat body"; on the
two validation repeats the sharper reading is also the larger.) The column is then renumbered
from the sacrum, as ``hidden.insert_bodies`` renumbers it after adding a body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from vcfviewer.core.annotation import BodyMask

if TYPE_CHECKING:
    from vcfviewer.models.postprocess import FilmParse

REPEAT_SHARE = 0.2  # of the smaller mask; validation: different bodies <= 0.16, repeats >= 0.24
REPEAT_MARK = "one body read twice"  # the note's words after the level (the detail panel's hint)


def overlap_share(a: BodyMask, b: BodyMask) -> float:
    """Pixels the two masks share over the smaller mask's area (0 when either is empty)."""
    top, left = max(a.top, b.top), max(a.left, b.left)
    bottom = min(a.top + a.array.shape[0], b.top + b.array.shape[0])
    right = min(a.left + a.array.shape[1], b.left + b.array.shape[1])
    smaller = min(a.area, b.area)
    if bottom <= top or right <= left or smaller == 0:
        return 0.0
    both = (a.array[top - a.top:bottom - a.top, left - a.left:right - a.left]
            & b.array[top - b.top:bottom - b.top, left - b.left:right - b.left])
    return float(both.sum()) / smaller


def repeated_readings(masks: Sequence[BodyMask | None], spreads: Sequence[float],
                      second_look: Sequence[bool] | None = None) -> dict[int, int]:
    """{dropped: kept} for readings (masks in column order) that repeat their neighbour: of two
    consecutive masks sharing at least ``REPEAT_SHARE`` of the smaller, a second look's body
    (``second_look``) yields to the film network's own, else the one whose landmarks spread
    more (``spreads``: mean heatmap spread per reading) is dropped."""
    second_look = second_look or [False] * len(masks)
    repeats: dict[int, int] = {}
    for i in range(len(masks) - 1):
        a, b = masks[i], masks[i + 1]
        if a is None or b is None or i in repeats:
            continue
        if overlap_share(a, b) >= REPEAT_SHARE:
            if second_look[i] != second_look[i + 1]:
                drop = i if second_look[i] else i + 1
            else:
                drop = i if spreads[i] > spreads[i + 1] else i + 1
            repeats[drop] = i + 1 if drop == i else i
    return repeats


def restored(parse: FilmParse, repeats: dict[int, int]) -> FilmParse | None:
    """Where a second look's body repeats a body it had taken pixels from (``hidden``), the
    column with that body dropped and its neighbour whole again, to be measured afresh (measured
    from its remainder, a normal body can read as a crushed one); None when there is none."""
    whole = {kept: parse.bodies[kept].before for dropped, kept in repeats.items()
             if parse.bodies[dropped].second_look and parse.bodies[kept].before is not None}
    if not whole:
        return None
    from vcfviewer.models import postprocess  # here: see without_readings

    gone = {dropped for dropped, kept in repeats.items() if kept in whole}
    bodies = [whole.get(i, b) for i, b in enumerate(parse.bodies) if i not in gone]
    out = postprocess.renumbered(parse, bodies, forget=[parse.levels[i] for i in gone])
    names = ", ".join(postprocess.level_of(out, whole[k]) for k in sorted(whole))
    return replace(out, flags=out.flags + (_note(names),))


def _note(names: str) -> str:
    return (f"{names}: {REPEAT_MARK}; the less certain reading was dropped and the levels above "
            "renumbered; check the levels")


def without_readings(parse: FilmParse, repeats: dict[int, int]) -> FilmParse:
    """``parse`` without the repeated readings (``repeated_readings``), renumbered
    (``postprocess.renumbered``), with a note naming each body read twice by its new level. A
    note of the parse that named a dropped reading goes with it (900181: the gap probe's
    "flattened body" was the tilted L5's upper half)."""
    if not repeats:
        return parse
    # Imported here: the viewer imports REPEAT_MARK at start-up, and postprocess brings cv2.
    from vcfviewer.models import postprocess

    kept = [b for i, b in enumerate(parse.bodies) if i not in repeats]
    out = postprocess.renumbered(parse, kept, forget=[parse.levels[i] for i in repeats])
    names = ", ".join(postprocess.level_of(out, parse.bodies[repeats[i]]) for i in sorted(repeats))
    return replace(out, flags=out.flags + (_note(names),))


def repeats_in(parse: FilmParse, body_out: dict,
               masks: list[BodyMask | None]) -> dict[int, int]:
    """``repeated_readings`` for the column as the body network read it."""
    spreads = [float(s.mean()) for s in body_out["landmark_spread"]]
    return repeated_readings(masks, spreads, [b.second_look for b in parse.bodies])


def drop_repeats(parse: FilmParse, crop_tfs: list, body_out: dict,
                 masks: list[BodyMask | None], repeats: dict[int, int] | None = None
                 ) -> tuple[FilmParse, list, dict, list]:
    """The parse, crop transforms, body-network outputs and source masks (``masks``: the body
    network's masks in source pixels, one per parse body) without repeated readings
    (``repeats``, else found here with ``repeats_in``)."""
    repeats = repeats_in(parse, body_out, masks) if repeats is None else repeats
    if not repeats:
        return parse, crop_tfs, body_out, masks
    keep = np.array([i for i in range(len(parse.bodies)) if i not in repeats], dtype=int)
    return (without_readings(parse, repeats), [crop_tfs[i] for i in keep],
            {k: v[keep] for k, v in body_out.items()}, [masks[i] for i in keep])

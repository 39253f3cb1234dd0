"""The top of a flat sacrum read as a fifth lumbar body.

On a film with a flat lower back (little lordosis, a near-vertical sacrum) the first sacral
segment looks like one more lumbar body: the networks draw it as "L5" with landmarks, keep only a
small scrap of sacrum under or inside it, and every level above is named one too high (the
largest group of wrong columns on the flat-back sets). A real L5 sits above the sacrum, its
disc between them, so the sacrum's centre lies well below the body's centre; a sacral segment
taken for a body has the sacrum mask within or beside it.

``offset_below`` measures that: the sacrum's centre below the lowest body's centre along the
body's own inferior axis, in the body's heights. On the 457 validation films with a sacrum
(800100+, 800200+, severe 830000+, flat-back 870000+) every lowest body that was a vertebra
measured at least 0.95, the four that were the sacrum's top 0.13-0.50 (model card). Below
``TOP_OF_SACRUM_LIMIT`` the body joins the sacrum and the column is renumbered from it.

A sacrum whose centre lies *above* the body's centre is no sacrum under it at all but a scrap the
networks put in the wrong place (real web-lateral-1: a blob at the posterior-superior corner of
a genuine L5, -0.17); no reading is drawn from it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vcfviewer.core import levels as lv
from vcfviewer.core.annotation import BodyMask, VertebraFinding
from vcfviewer.core.morphometry import body_frame

TOP_OF_SACRUM_LIMIT = 0.75  # body heights: vertebrae >= 0.95, sacral tops 0.13-0.50 (validation)
NOTE_START = "sacrum top:"


def offset_below(body: VertebraFinding, sacrum: VertebraFinding) -> float | None:
    """How far the sacrum's centre lies below ``body``'s centre along the body's inferior axis,
    in the body's heights; None without landmarks, a sacrum mask or a body frame."""
    if body.landmarks is None or sacrum.mask is None or sacrum.mask.area == 0:
        return None
    try:
        centre, _, down, _, height = body_frame(body.landmarks)
    except ValueError:  # collapsed landmarks: no axis to measure along
        return None
    return float(np.dot(sacrum.centre() - centre, down) / height)


def absorb_sacrum_top(findings: list[VertebraFinding], sacrum: VertebraFinding | None,
                      shape: tuple[int, int]
                      ) -> tuple[list[VertebraFinding], VertebraFinding | None, str | None]:
    """(bodies, sacrum, note): unchanged with no note, or, when the lowest body is the top of the
    sacrum, the bodies above it renamed one level down (L4 → L5, …), the sacrum mask joined with
    the body's, and a note saying so. ``findings`` are the measured bodies, cranial → caudal;
    ``shape`` is the image's (rows, columns)."""
    if sacrum is None or not findings:
        return findings, sacrum, None
    lowest = findings[-1]
    offset = offset_below(lowest, sacrum)
    if offset is None or not 0.0 <= offset < TOP_OF_SACRUM_LIMIT or lowest.mask is None:
        return findings, sacrum, None
    rest = findings[:-1]
    names = lv.renumber([f.level for f in rest], 1) if rest else []
    renamed = [replace(f, level=n) for f, n in zip(rest, names)]
    joined = BodyMask.from_full(sacrum.mask.to_full(shape) | lowest.mask.to_full(shape))
    note = (f"{NOTE_START} the body numbered {lowest.level} sits on the sacrum (the sacrum's centre "
            f"{offset:.2f} of its height below its centre, where a vertebra's lies at least about "
            "one height below), so it is read as the top of the sacrum and every level above "
            "moves one down; if it is a vertebra, add it back and renumber the column up")
    return renamed, replace(sacrum, mask=joined), note


def renamed_note(text: str) -> str:
    """A note's level names moved one down, as ``absorb_sacrum_top`` moves the bodies (one pass,
    so L4 → L5 is not moved again)."""
    return lv.rename_in_text(text, lambda name: lv.shift(name, 1))

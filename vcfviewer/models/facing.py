"""Which way the patient faces: the model's call, the reader's override, and what to tell them.

The film network is read in its canonical orientation (§4: patient facing left); a film whose
patient faces right is mirrored first. The call comes from the film network's facing probe, which
learned it on simulated films. On a real film it can be confidently wrong (model card: web-lateral-1),
and a film read the wrong way round swaps every anterior and posterior height. So the reader can
overrule it ("analyse facing the other way"), and a call the probe is unsure of is flagged, as
is a reading whose anatomy contradicts the call (the sacrum in front of the lowest body).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcfviewer.core.annotation import VertebraFinding
from vcfviewer.core.morphometry import body_frame

FACINGS = ("auto", "left", "right")

# Probabilities of "faces right" inside this band are called uncertain. Of 800 simulated films
# (validation, held-out, severe sets; every call right) one falls inside it (0.10); real
# web-lateral-2 (faces left) gives 0.23. A confidently wrong call (web-lateral-1) is not caught
# here; the sacrum check below catches that one.
UNCERTAIN_BAND = (0.05, 0.95)

# The S1 body sits below and behind L5 (the sacral slope tilts it back), so read the right way
# round the sacrum's centre lies behind the lowest body's centre or barely in front of it: at
# least -0.40 of that body's width on 955 simulated films (validation, severe, flat-back and
# held-out sets, every one read the right way round). Further in front than this, the reading
# contradicts the call. Real web-lateral-1, read facing left while the patient faces right,
# gives -0.63. Most wrong readings of simulated films lie only a little in front (median -0.13;
# 3 of 157 beyond the limit), so this catches gross contradictions, not every wrong call.
SACRUM_IN_FRONT_LIMIT = -0.5


def side_name(faces_right: bool) -> str:
    """"right" or "left": the side as a reader (and ``Analyzer.analyze``'s ``facing``) names it."""
    return "right" if faces_right else "left"


@dataclass(frozen=True)
class FacingCall:
    """The orientation a film was analysed in and how it was chosen."""

    faces_right: bool
    model_probability: float  # the probe's P(faces right), whatever was decided
    by_reader: bool = False

    @property
    def side(self) -> str:
        return side_name(self.faces_right)

    @property
    def model_side(self) -> str:
        return side_name(self.model_probability > 0.5)

    @property
    def uncertain(self) -> bool:
        low, high = UNCERTAIN_BAND
        return low < self.model_probability < high


def decide_facing(model_probability: float, requested: str = "auto") -> FacingCall:
    """The model's call for ``requested`` = "auto", else the reader's ("left" or "right")."""
    if requested not in FACINGS:
        raise ValueError(f"facing must be one of {', '.join(FACINGS)}, not {requested!r}")
    if requested == "auto":
        return FacingCall(model_probability > 0.5, model_probability)
    return FacingCall(requested == "right", model_probability, by_reader=True)


def other_side(side: str) -> str:
    """"left" ↔ "right" (the reader's "analyse facing the other way")."""
    return {"left": "right", "right": "left"}[side]


def facing_flags(call: FacingCall) -> list[str]:
    """Study remarks for the reader: an override (and whether the model agreed), or a doubt."""
    p = call.model_probability
    if call.by_reader:
        agreed = "agreed" if call.model_side == call.side else f"read facing {call.model_side}"
        return [f"analysed facing {call.side}, as the reader asked (the model {agreed}, "
                f"P(faces right) {p:.2f})"]
    if call.uncertain:
        return [f"facing uncertain (P(faces right) {p:.2f}): analysed facing {call.side}; if the "
                f"patient faces {other_side(call.side)}, analyse the film the other way round"]
    return []


def sacrum_offset(findings: Sequence[VertebraFinding]) -> tuple[str, float] | None:
    """(level, offset): how far the sacrum's centre lies behind the centre of the lowest
    vertebral body, along that body's anterior → posterior direction, in its widths (negative:
    in front of it). None without a sacrum mask and a body with landmarks."""
    bodies = [f for f in findings if f.landmarks is not None and not f.is_sacrum]
    sacrum = next((f for f in findings if f.is_sacrum and f.mask is not None), None)
    if not bodies or sacrum is None or sacrum.mask.area == 0:
        return None
    lowest = max(bodies, key=lambda f: float(f.centre()[1]))
    try:
        centre, backward, _, width, _ = body_frame(lowest.landmarks)
    except ValueError:  # collapsed landmarks: no direction to measure along
        return None
    return lowest.level, float(np.dot(sacrum.centre() - centre, backward) / width)


def anatomy_flags(findings: Sequence[VertebraFinding], side: str) -> list[str]:
    """A "facing uncertain" note when the sacrum lies in front of the lowest body as read."""
    found = sacrum_offset(findings)
    if found is None or found[1] >= SACRUM_IN_FRONT_LIMIT:
        return []
    level, offset = found
    return [f"facing uncertain: read facing {side}, the sacrum lies in front of {level} "
            f"({-offset:.2f} of its width), not behind it; if the patient faces "
            f"{other_side(side)}, analyse the film the other way round"]

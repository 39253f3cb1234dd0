"""Which way the patient faces: the model's call, the reader's override, and what to tell them.

The film network is read in its canonical orientation (§4: patient facing left); a film whose
patient faces right is mirrored first. The call comes from the film network's facing probe, which
learned it on simulated films. On a real film it can be confidently wrong (model card: web-lateral-1),
and a film read the wrong way round swaps every anterior and posterior height. So the reader can
overrule it ("analyse facing the other way"), and a call the probe is unsure of is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

FACINGS = ("auto", "left", "right")

# Probabilities of "faces right" inside this band are called uncertain. Of 800 simulated films
# (validation, held-out, severe sets; every call right) one falls inside it (0.10); real
# web-lateral-2 (faces left) gives 0.23. A confidently wrong call (web-lateral-1) is not caught.
UNCERTAIN_BAND = (0.05, 0.95)


@dataclass(frozen=True)
class FacingCall:
    """The orientation a film was analysed in and how it was chosen."""

    faces_right: bool
    model_probability: float  # the probe's P(faces right), whatever was decided
    by_reader: bool = False

    @property
    def side(self) -> str:
        return "right" if self.faces_right else "left"

    @property
    def model_side(self) -> str:
        return "right" if self.model_probability > 0.5 else "left"

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

"""Does a vertebral body carry a rib? The cue that tells T12 from L1, and so an L6 from a T12.

Numbering from the sacrum (CLINICAL §6) calls the sixth body above S1 "T12". On a film with an L6
that body is lumbar and the column is named one level off. Radiologists resolve it the way the
convention defines it: the last rib-bearing body is T12. The film network's thoracic/lumbar task
cannot see a short twelfth rib at its 128 px resolution (model card, Ablations), so a small
network looks at one crop per body behind its posterior wall, where the rib head and neck lie,
at about 1.2 mm a pixel (since 1.5.0 two such networks, trained on different case mixes, read
each crop and their logits are averaged: ``models.network.RibEnsemble``).

It learned the simulator's ribs. On the four real films it calls some lumbar bodies rib-bearing
(model card), which is the safe side: the rule below acts only on a confident "no rib", and a
body numbered L1 that may carry one stops it.

The crop frame comes from the body's six landmarks, not from the facing call: x runs anterior →
posterior, y superior → inferior, so the rib always lies to the right whichever way the patient
faces (a mirror image where the patient faces right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from vcfviewer.core import levels as lv
from vcfviewer.core.annotation import StudyAnnotation
from vcfviewer.core.morphometry import body_frame
from vcfviewer.models.preprocess import extract_crop

RIB_CROP_SIZE = 96
# Crop side and centre in units of the body's depth (anterior → posterior wall, ~35-45 mm): the
# crop reaches from just in front of the body to well behind the posterior elements, and from the
# disc above to the disc below, where a rib runs back and down from the upper posterior corner.
RIB_CROP_SIDE = 3.0
RIB_CROP_BACK = 0.6  # centre this many depths behind the body's centre
RIB_CROP_UP = 0.1  # ... and this many heights above it


def rib_crop_matrix(landmarks: np.ndarray, size: int = RIB_CROP_SIZE) -> np.ndarray:
    """2x3 source → crop affine: x along the body's anterior → posterior axis, y along its
    superior → inferior axis, centred behind the body (see the module's constants)."""
    centre, back, down, depth, height = body_frame(landmarks)
    centre = centre + RIB_CROP_BACK * depth * back - RIB_CROP_UP * height * down
    scale = size / (RIB_CROP_SIDE * depth)
    rows = np.stack([back, down]) * scale
    half = (size - 1) / 2.0
    return np.hstack([rows, (np.array([half, half]) - rows @ centre)[:, None]])


def rib_crops(unit: np.ndarray, landmark_sets: list[np.ndarray],
              size: int = RIB_CROP_SIZE) -> np.ndarray:
    """One z-scored crop per body from a [0, 1] film (``preprocess.normalise_unit``)."""
    crops = [extract_crop(unit, rib_crop_matrix(lm, size), size)[0] for lm in landmark_sets]
    return np.stack(crops) if crops else np.zeros((0, size, size), np.float32)


# Limits of the L6 reading, read on 460 validation films (model card, "The rib check's limit"):
# the body numbered T12 from the sacrum shows no rib beyond doubt. Its logit is what separates.
# With 1.5.0's two rib networks (their mean logit) the L1s of the L6 films there scored -5.1 to
# -12.3 and rightly numbered T12s stayed above -1.8; the limit sits in the middle of that gap.
# (1.4.0's single network had -5.0 against -3.1, and a crushed T12 read as ribless at -6.5 on
# a held-out film, hence the second network, trained on more severe fractures.) The body above
# it, where there is one, must look rib-bearing more likely than not, and the body numbered L1
# must look lumbar.
RIB_ABSENT_LOGIT = -3.5
RIB_ABSENT = float(1.0 / (1.0 + np.exp(-RIB_ABSENT_LOGIT)))  # 0.029
RIB_ABOVE = 0.5
L1_RIBLESS = 0.05


@dataclass(frozen=True)
class RibReading:
    """The rib network's probability per vertebra and what it says about the numbering."""

    probabilities: dict[str, float]  # level (as numbered from the sacrum) → P(carries a rib)
    l6: bool  # six lumbar bodies sit above the sacrum: rename with an L6

    def note(self) -> str:
        p = self.probabilities
        above = f", the one above it {p['T11']:.2f}" if "T11" in p else ""
        shown = "< 0.0001" if p["T12"] < 1e-4 else f"{p['T12']:.4f}"
        return (f"L6 named: the body numbered T12 from the sacrum shows no rib (rib network "
                f"P {shown}{above}), so six lumbar-type bodies lie above the sacrum. If "
                "one of them is not a vertebra (the sacrum taken for L5, a body counted twice), "
                "delete it and renumber; renumbering the column up undoes the L6")


def read_ribs(levels: Sequence[str], probabilities: Sequence[float]) -> RibReading:
    """Decide whether a column numbered from the sacrum has an L6. ``levels`` are the measured
    vertebrae (sacrum excluded), each with its P(carries a rib); the sacrum must have been found
    for the numbering to mean anything, which the caller checks."""
    p = dict(zip(levels, (float(x) for x in probabilities), strict=True))
    l6 = ("L5" in p and "L6" not in p and "T12" in p and p["T12"] < RIB_ABSENT
          and p.get("T11", 1.0) > RIB_ABOVE and p.get("L1", 0.0) < L1_RIBLESS)
    return RibReading(p, l6)


def rename_l6(annotation: StudyAnnotation, reading: RibReading) -> StudyAnnotation:
    """The proposal read with an L6 (``levels.with_l6``): findings renamed, the notes' level
    names moved with them, the level task's lumbar-count doubt replaced by the rib note."""
    names = lv.with_l6(annotation.levels)
    findings = tuple(replace(f, level=n) for f, n in zip(annotation.findings, names, strict=True))
    # Notes also name bodies outside the measured column (one cut at the edge): every level
    # moves, as in ``with_l6``, in one pass so that T12 → L1 is not moved again to L2.
    flags = tuple(lv.rename_in_text(text, lv.l6_name)
                  for text in annotation.flags if not text.startswith("lumbar count"))
    return replace(annotation, findings=findings, flags=flags + (reading.note(),))

"""Bodies whose outline the model is unsure of, named in a note so the reader checks them first.

Two signs, both from the body network's own output: its mask and the quadrilateral of its six
landmarks disagree, or its landmark heat maps are diffuse. On 400 simulated validation films
(natural and severe) no body with every landmark within 10 % of its height of the truth showed
either (0 of 2285: mask vs landmarks IoU ≥ 0.79, mean spread ≤ 10 crop px), 12 of the 104 other
or extra bodies did; held out, 0 of 1194 and 6 of 38 (`vcfviewer evaluate`, model card). On the
real films it names web-lateral-4's ragged T12 fragment (called grade 3) and three bodies of the
low-contrast web-lateral-2. The grade is left as decided: the reader settles it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vcfviewer.core.annotation import VertebraFinding

NOTE_MARK = ": outline uncertain ("

# The landmarks (LANDMARK_NAMES order) walked round the body: top front → top back → bottom back.
_OUTLINE_ORDER = (0, 1, 2, 5, 4, 3)
MIN_OUTLINE_IOU = 0.75
# Mean heat-map spread of the six landmarks, in pixels of the body network's crop (96 px for
# vcf-lateral; a sharp landmark spreads 2-6 px, the middle ones more along the endplate).
MAX_MEAN_SPREAD = 11.0


def outline_iou(finding: VertebraFinding) -> float | None:
    """Intersection over union of the body's mask and its landmark quadrilateral (None without
    a mask)."""
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

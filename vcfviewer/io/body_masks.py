"""Full-image masks of the annotated bodies, for SEG, the key image and the training set.

A finding's own mask is used when it has one; a body without one (added by the reader, or a
landmarks-only proposal) is rasterised from the polygon of its six landmarks in the order
superior anterior → middle → posterior → inferior posterior → middle → anterior. Landmarks are
pixel indices (pixel centres), which is also how OpenCV rasterises polygons.
"""

from __future__ import annotations

import numpy as np

from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding

OUTLINE_ORDER = (0, 1, 2, 5, 4, 3)
_SUBPIXEL_BITS = 4


def outline(finding: VertebraFinding) -> np.ndarray | None:
    """The six landmarks as a closed polygon [x, y] (None without landmarks)."""
    if finding.landmarks is None:
        return None
    return finding.landmarks[list(OUTLINE_ORDER)]


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of a polygon given in pixel-index [x, y] coordinates."""
    import cv2

    canvas = np.zeros(shape, dtype=np.uint8)
    scaled = np.round(np.asarray(points, float) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(canvas, [scaled.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return canvas.astype(bool)


def finding_mask(finding: VertebraFinding, shape: tuple[int, int]) -> np.ndarray | None:
    """The body's full-image mask: its own mask, else its landmark polygon, else None."""
    if finding.mask is not None:
        return finding.mask.to_full(shape)
    points = outline(finding)
    return None if points is None else polygon_mask(points, shape)


def annotation_masks(annotation: StudyAnnotation) -> dict[str, np.ndarray]:
    """Non-empty full-image masks by finding id, cranial → caudal."""
    shape = (annotation.image.rows, annotation.image.columns)
    out: dict[str, np.ndarray] = {}
    for finding in annotation.findings:
        mask = finding_mask(finding, shape)
        if mask is not None and mask.any():
            out[finding.finding_id] = mask
    return out


def label_map(annotation: StudyAnnotation) -> np.ndarray:
    """Instance label map, int16: 0 background, k = index of the finding in
    ``annotation.findings`` + 1 (sacrum included) — the simulator's convention, so training reads
    simulated and exported films alike. Where bodies overlap, the more caudal one wins."""
    shape = (annotation.image.rows, annotation.image.columns)
    out = np.zeros(shape, dtype=np.int16)
    masks = annotation_masks(annotation)
    for k, finding in enumerate(annotation.findings, start=1):
        if finding.finding_id in masks:
            out[masks[finding.finding_id]] = k
    return out

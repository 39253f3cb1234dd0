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


def finding_crop(finding: VertebraFinding,
                 shape: tuple[int, int]) -> tuple[int, int, np.ndarray] | None:
    """(top, left, mask) of the body inside the image, cropped to its box; None without one.

    Cropped so that whole-film work (key image, label maps) costs the body's area, not the film's.
    """
    if finding.mask is not None:
        m = finding.mask
        h = max(0, min(m.array.shape[0], shape[0] - m.top))
        w = max(0, min(m.array.shape[1], shape[1] - m.left))
        return m.top, m.left, m.array[:h, :w]
    points = outline(finding)
    if points is None:
        return None
    lo = np.clip(np.floor(points.min(axis=0)).astype(int), 0, [shape[1] - 1, shape[0] - 1])
    hi = np.clip(np.ceil(points.max(axis=0)).astype(int) + 1, 1, [shape[1], shape[0]])
    box = (int(hi[1] - lo[1]), int(hi[0] - lo[0]))
    return int(lo[1]), int(lo[0]), polygon_mask(points - lo, box)


def finding_mask(finding: VertebraFinding, shape: tuple[int, int]) -> np.ndarray | None:
    """The body's full-image mask: its own mask, else its landmark polygon, else None."""
    crop = finding_crop(finding, shape)
    if crop is None:
        return None
    top, left, mask = crop
    out = np.zeros(shape, dtype=bool)
    out[top: top + mask.shape[0], left: left + mask.shape[1]] = mask
    return out


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
    for k, finding in enumerate(annotation.findings, start=1):
        crop = finding_crop(finding, shape)
        if crop is not None:
            top, left, mask = crop
            out[top: top + mask.shape[0], left: left + mask.shape[1]][mask] = k
    return out

"""Small geometry the review tools need: which body is under a click, where labels go, which
level a body placed by hand most likely is. Pure numpy (no Qt), so it is tested without a GUI.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vcfviewer.core import levels as _levels
from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding
from vcfviewer.io.body_masks import outline  # the same polygon the key image and SEG use

__all__ = ["outline", "point_in_polygon", "finding_at", "anterior_is_left", "label_anchor",
           "declutter", "suggest_level", "ghost_polylines"]

PICK_SLACK = 0.25  # a click this fraction of a body's size outside it still picks it


def point_in_polygon(x: float, y: float, polygon: np.ndarray) -> bool:
    """Even-odd rule; ``polygon`` is (n, 2) [x, y]."""
    xs, ys = polygon[:, 0], polygon[:, 1]
    xj, yj = np.roll(xs, 1), np.roll(ys, 1)
    crosses = (ys > y) != (yj > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = (xj - xs) * (y - ys) / (yj - ys) + xs
    return bool(np.count_nonzero(crosses & (x < x_at)) % 2)


def _in_mask(finding: VertebraFinding, x: float, y: float) -> bool:
    mask = finding.mask
    if mask is None:
        return False
    row, col = int(np.floor(y)) - mask.top, int(np.floor(x)) - mask.left
    return 0 <= row < mask.array.shape[0] and 0 <= col < mask.array.shape[1] and bool(
        mask.array[row, col])


def _size(finding: VertebraFinding) -> float:
    if finding.landmarks is not None:
        span = finding.landmarks.max(axis=0) - finding.landmarks.min(axis=0)
        return float(max(span.max(), 1.0))
    if finding.mask is not None:
        return float(max(finding.mask.array.shape))
    return 1.0


def finding_at(annotation: StudyAnnotation, x: float, y: float) -> str | None:
    """The id of the body under image point (x, y): inside its landmark polygon or mask, else the
    nearest centre within ``PICK_SLACK`` of that body's size; None when nothing is close."""
    for finding in annotation.findings:
        polygon = outline(finding)
        if (polygon is not None and point_in_polygon(x, y, polygon)) or _in_mask(finding, x, y):
            return finding.finding_id
    best, best_score = None, np.inf
    for finding in annotation.findings:
        try:
            centre = finding.centre()
        except ValueError:
            continue
        size = _size(finding)
        score = float(np.hypot(x - centre[0], y - centre[1])) / size
        if score < 0.5 + PICK_SLACK and score < best_score:
            best, best_score = finding.finding_id, score
    return best


def anterior_is_left(annotation: StudyAnnotation | Iterable[VertebraFinding]) -> bool:
    """True when the patient faces left (anterior landmarks left of posterior ones) on most bodies."""
    findings = annotation.findings if isinstance(annotation, StudyAnnotation) else annotation
    votes = [float(f.landmarks[[0, 3], 0].mean() - f.landmarks[[2, 5], 0].mean())
             for f in findings if f.landmarks is not None]
    return not votes or float(np.median(votes)) <= 0.0


def label_anchor(finding: VertebraFinding, left: bool) -> tuple[float, float] | None:
    """Where a body's label touches it: just outside its anterior (``left``) or other edge."""
    if finding.landmarks is not None:
        xs = finding.landmarks[:, 0]
        gap = 0.08 * _size(finding)
        y = float(finding.landmarks[:, 1].mean())
        return (float(xs.min()) - gap, y) if left else (float(xs.max()) + gap, y)
    if finding.mask is not None:
        m = finding.mask
        y = m.top + m.array.shape[0] / 2.0
        return (float(m.left) - 4.0, y) if left else (float(m.left + m.array.shape[1]) + 4.0, y)
    return None


def declutter(ys: list[float], gap: float) -> list[float]:
    """Label rows (image y) moved down just enough that no two are closer than ``gap``; the
    order of the labels is kept and a label never moves up (its body's own row stays nearest)."""
    out = [float(y) for y in ys]
    previous = -np.inf
    for i in sorted(range(len(out)), key=lambda k: (out[k], k)):
        out[i] = max(out[i], previous + gap)
        previous = out[i]
    return out


def suggest_level(annotation: StudyAnnotation, centre_y: float) -> str | None:
    """The free level a body placed at row ``centre_y`` most likely is, from its neighbours."""
    placed = [(float(f.centre()[1]), f.level) for f in annotation.findings
              if f.landmarks is not None or f.mask is not None]
    taken = set(annotation.levels)
    above = [lv for y, lv in placed if y < centre_y]
    below = [lv for y, lv in placed if y > centre_y]
    candidates: list[str] = []
    if above:
        candidates.append(_safe_shift(max(above, key=_levels.rank), 1))
    if below:
        candidates.append(_safe_shift(min(below, key=_levels.rank), -1))
    for name in candidates:
        if name and name not in taken and name != _levels.SACRUM:
            return name
    return None


def _safe_shift(level: str, steps: int) -> str:
    try:
        return _levels.shift(level, steps)
    except _levels.LevelError:
        return ""


def mask_outline(finding: VertebraFinding, shape: tuple[int, int]) -> np.ndarray | None:
    """The outer contour [x, y] of a body's mask (pixel edges), or None without a mask."""
    import cv2  # the GUI's only use: outlines of mask-only bodies (the sacrum) seen as ghosts

    from vcfviewer.io.body_masks import finding_crop

    if finding.mask is None:
        return None
    crop = finding_crop(finding, shape)
    if crop is None or not crop[2].any():
        return None
    top, left, mask = crop
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    largest = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(float)
    return largest + (left, top)


def ghost_polylines(findings: Iterable[VertebraFinding], shape: tuple[int, int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Closed outlines of ``findings`` as one x and one y array, NaN between bodies (one curve).

    The landmark polygon when there is one (what the reader edits), else the mask's contour.
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for finding in findings:
        polygon = outline(finding)
        if polygon is None:
            polygon = mask_outline(finding, shape)
        if polygon is None or len(polygon) < 2:
            continue
        closed = np.vstack([polygon, polygon[:1], [np.nan, np.nan]])
        xs.append(closed[:, 0])
        ys.append(closed[:, 1])
    if not xs:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys)

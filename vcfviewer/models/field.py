"""The exposed field: the part of a film the X-rays reached, as opposed to collimator or shutter
borders painted in by the modality.

A body whose landmarks reach the edge of the exposed field is cut and cannot be measured; the
simulator's truth leaves such a body out (``synth.geometry``) and so does a reader. The image border
alone is not that edge: a film with collimation has a flat band (black for an electronic shutter,
light grey for a lead collimator) between the border and the anatomy, and a body half hidden
under it used to be proposed with landmarks hallucinated onto the band.

The band is found side by side: flat (near-constant) pixels reaching in from the image border to
a straight edge. Exposed anatomy is never flat at this scale (quantum noise and texture give
every exposed pixel a local spread), except where the film saturates: a dark lung field or air
beside the patient. Those are flat but ragged, so a side counts as collimated only when its
flat border ends on a line: along most of the side, or, where a black shutter runs into
saturated air and its edge shows only where anatomy meets it, exactly there with nothing but
flat pixels between that line and the border. The edge is placed to within a pixel: the
simulator leaves out a body whose corner lies within 3 px of it (``benchmarks/bench_field.py``
measures both against the simulator's field).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GRID = 1024  # longer side of the working grid (source films are 1500-3000 px)
FLAT_SPREAD = 2e-3  # local std, as a share of the 1-99 % intensity range, below which a pixel is flat
MIN_STRAIGHT_SHARE = 0.35  # of a side's profile that must follow one line for it to be a band
LINE_TOLERANCE = 3.0  # cells: a collimator edge is sharp; a ragged saturated border is not
MAX_TILT = 0.09  # slope of the band's edge (about 5 degrees): collimators are near-square to the film
ENVELOPE_TOLERANCE = 1.0  # cells: where a band's edge shows, it is exact
MIN_ENVELOPE_SHARE = 0.06  # of a side that must show the edge when the rest is hidden by saturation
MAX_INSIDE_SHARE = 0.02  # of a side allowed non-flat pixels inside such a band (noise, a mark)
MIN_ENVELOPE_DEPTH = 6.0  # cells: such a band must be deeper than the line tolerance, twice over


@dataclass(frozen=True)
class ExposedField:
    """Distance (source pixels) from each working-grid cell to the nearest unexposed cell or border."""

    distance: np.ndarray  # float32 (h, w) on the working grid
    scale_x: float  # grid cells per source pixel
    scale_y: float
    source_shape: tuple[int, int]  # (rows, columns) of the source film

    def depth(self, points: np.ndarray) -> np.ndarray:
        """How far inside the exposed field (source pixels) each source [x, y] point lies; <= 0
        for points outside it or off the image."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        h, w = self.distance.shape
        gx = (pts[:, 0] + 0.5) * self.scale_x - 0.5
        gy = (pts[:, 1] + 0.5) * self.scale_y - 0.5
        inside = (gx >= -0.5) & (gx <= w - 0.5) & (gy >= -0.5) & (gy <= h - 0.5)
        ix = np.clip(np.round(gx).astype(int), 0, w - 1)
        iy = np.clip(np.round(gy).astype(int), 0, h - 1)
        return np.where(inside, self.distance[iy, ix], 0.0)


def flat_pixels(grid: np.ndarray) -> np.ndarray:
    """Near-constant pixels (bool): local 3x3 spread under ``FLAT_SPREAD`` of the intensity range."""
    lo, hi = np.percentile(grid[::2, ::2], [1, 99])
    span = float(hi - lo) or 1.0
    g = (grid - lo) / span
    mean = cv2.blur(g, (3, 3))
    spread = np.sqrt(np.maximum(cv2.blur(g * g, (3, 3)) - mean * mean, 0.0))
    return spread < FLAT_SPREAD


def band_depth(flat: np.ndarray) -> np.ndarray | None:
    """Depth (cells) of a straight flat band along the top edge of ``flat``, per column, or None.

    A collimator or shutter border is straight (it may be tilted by a degree or two), so the
    depth at which the first non-flat pixel appears is a line along the side. Saturated lung or
    air is flat too but ragged, and burned-in text on a band interrupts it locally: both are
    outliers of the line fit, and a side whose profile is not mostly a line has no band; unless
    the band's edge shows sharply where it meets unsaturated anatomy and nothing non-flat lies
    beyond it (``_envelope_line``): a black shutter beside saturated air hides its edge there.
    """
    h, w = flat.shape
    cols = np.linspace(0, w - 1, min(w, 128)).astype(int)
    first = np.argmin(flat[:, cols], axis=0)  # first non-flat row (0 when the edge is exposed)
    first[flat[:, cols].all(axis=0)] = h
    x, profile = cols.astype(np.float64), first.astype(np.float64)
    line = _fitted_line(x, profile)
    if line is None:
        line = _envelope_line(x, profile, h)
    if line is None:
        return None
    slope, offset = line
    # The 3x3 spread window makes the band's last cell non-flat (it reaches across the edge),
    # so the band ends a cell deeper than its first non-flat cell: without this the edge sat
    # 2-4 source pixels too far out, as much as the simulator's 3 px truth margin.
    return slope * np.arange(w, dtype=np.float64) + offset + 1.0


def _fitted_line(x: np.ndarray, first: np.ndarray) -> tuple[float, float] | None:
    """(slope, offset) of the line most of the side's profile follows, or None."""
    line = np.full_like(x, float(np.median(first)))
    tol = LINE_TOLERANCE
    for _ in range(3):
        inliers = np.abs(first - line) <= tol
        if inliers.sum() < 2:
            return None
        line = np.polyval(np.polyfit(x[inliers], first[inliers], 1), x)
    inliers = np.abs(first - line) <= tol
    slope, offset = np.polyfit(x[inliers], first[inliers], 1)
    if inliers.mean() < MIN_STRAIGHT_SHARE or abs(slope) > MAX_TILT or line.mean() < 1.0:
        return None
    return float(slope), float(offset)


def _envelope_line(x: np.ndarray, first: np.ndarray, h: int) -> tuple[float, float] | None:
    """(slope, offset) of a band edge seen only in places, or None.

    Where a black shutter meets saturated air the flat run goes on past the band's edge, so
    the profile follows the edge only where anatomy meets it. Such a line must be exact there
    (``ENVELOPE_TOLERANCE``) for at least ``MIN_ENVELOPE_SHARE`` of the side, and (almost)
    nothing non-flat may lie between it and the border: the band is the lower envelope of the
    profile; anatomy reaching the border anywhere rules it out. Candidate lines run through every
    pair of profile points.
    """
    n = len(x)
    usable = np.flatnonzero((first > 0) & (first < h))
    i, j = np.triu_indices(len(usable), k=1)
    i, j = usable[i], usable[j]
    slope = (first[j] - first[i]) / (x[j] - x[i])
    keep = np.abs(slope) <= MAX_TILT
    i, slope = i[keep], slope[keep]
    if not len(i):
        return None
    offset = first[i] - slope * x[i]
    resid = first[None, :] - (slope[:, None] * x[None, :] + offset[:, None])
    exact = (np.abs(resid) <= ENVELOPE_TOLERANCE).sum(axis=1)
    inside = ((resid < -LINE_TOLERANCE) | (first == 0)[None, :]).sum(axis=1)
    good = (exact >= MIN_ENVELOPE_SHARE * n) & (inside <= MAX_INSIDE_SHARE * n)
    if not good.any():
        return None
    k = np.flatnonzero(good)[np.argmax(exact[good])]
    on = np.abs(resid[k]) <= LINE_TOLERANCE
    s, o = np.polyfit(x[on], first[on], 1)
    # A thin flat strip along the border is saturation, not a shutter seen only in places.
    if abs(s) > MAX_TILT or np.polyval((s, o), x).mean() < MIN_ENVELOPE_DEPTH:
        return None
    return float(s), float(o)


def collimated(grid: np.ndarray) -> np.ndarray:
    """Cells under a collimator/shutter band on any of the four sides (bool, grid shape)."""
    flat = flat_pixels(grid)
    out = np.zeros_like(flat)
    rows = np.arange(flat.shape[0])[:, None]
    cols = np.arange(flat.shape[1])[None, :]
    # Each side seen as "the top" of a rotated view; the band's depth line maps back per side.
    top = band_depth(flat)
    if top is not None:
        out |= rows < np.round(top)[None, :]
    bottom = band_depth(flat[::-1])
    if bottom is not None:
        out |= rows >= flat.shape[0] - np.round(bottom)[None, :]
    left = band_depth(flat.T)
    if left is not None:
        out |= cols < np.round(left)[:, None]
    right = band_depth(flat.T[::-1])
    if right is not None:
        out |= cols >= flat.shape[1] - np.round(right)[:, None]
    return out


def exposed_field(pixels: np.ndarray) -> ExposedField:
    """The exposed field of a 2-D film (any intensity scale, bone bright or dark)."""
    src = np.asarray(pixels, dtype=np.float32)
    rows, cols = src.shape
    f = min(1.0, GRID / max(rows, cols))
    w, h = max(2, int(round(cols * f))), max(2, int(round(rows * f)))
    grid = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA) if f < 1.0 else src.copy()
    grid = np.nan_to_num(grid, nan=float(np.nanmin(grid)) if np.isfinite(grid).any() else 0.0)
    exposed = ~collimated(grid)
    # Pad with one unexposed cell so the image border counts as the field's edge too.
    padded = np.pad(exposed.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    sx, sy = w / cols, h / rows
    # Centre-to-centre cell distances → distance from the edge (half a cell less), in source
    # pixels (the grid is near-isotropic; the mean scale will do).
    return ExposedField(((dist - 0.5) / ((sx + sy) / 2)).astype(np.float32), sx, sy, (rows, cols))

"""The fine drawing grid of a simulated CT plane and the painting helpers the CT modules share.

A sagittal plane is drawn in Hounsfield units on a grid finer than the scan (so thin cortices and
endplates keep their share of each voxel once the acquisition averages them): column x ↔ world X
(anterior → posterior), row y ↔ world Y (superior → inferior). Structures are painted in order;
each paint blends towards the structure's HU by a coverage fraction, which also anti-aliases edges.

Random fields that must agree between neighbouring planes of a volume (organ layout, trabecular
texture) are ``LayeredNoise``: independent 2-D fields at lateral layers a fixed distance apart,
blended linearly between the two layers around the plane's Z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from vcfviewer.synth.primitives import smooth_noise

_SHIFT = 4  # cv2 fixed-point bits for sub-pixel polygon vertices


@dataclass(frozen=True)
class Grid:
    """Pixel centres at world (x0 + c·dx, y0 + r·dy), mm."""

    x0: float
    y0: float
    dx: float
    dy: float
    rows: int
    cols: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    def xs(self, cols: slice | None = None) -> np.ndarray:
        """World X (1, w) of the columns in ``cols``."""
        cols = cols or slice(0, self.cols)
        return (self.x0 + np.arange(cols.start, cols.stop) * self.dx)[None, :].astype(np.float32)

    def ys(self, rows: slice | None = None) -> np.ndarray:
        """World Y (h, 1) of the rows in ``rows``."""
        rows = rows or slice(0, self.rows)
        return (self.y0 + np.arange(rows.start, rows.stop) * self.dy)[:, None].astype(np.float32)

    def to_px(self, world: np.ndarray) -> np.ndarray:
        world = np.asarray(world, dtype=np.float64)
        return np.stack([(world[..., 0] - self.x0) / self.dx, (world[..., 1] - self.y0) / self.dy], -1)

    def box(self, world: np.ndarray, margin_mm: float = 1.0) -> tuple[slice, slice] | None:
        """Rows and columns covering the world points plus a margin; None when off the grid."""
        px = self.to_px(np.asarray(world).reshape(-1, 2))
        c0 = int(math.floor(px[:, 0].min() - margin_mm / self.dx))
        c1 = int(math.ceil(px[:, 0].max() + margin_mm / self.dx)) + 1
        r0 = int(math.floor(px[:, 1].min() - margin_mm / self.dy))
        r1 = int(math.ceil(px[:, 1].max() + margin_mm / self.dy)) + 1
        r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, self.rows), min(c1, self.cols)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def coarser(self, dx: float, dy: float) -> "Grid":
        """A grid about ``dx`` × ``dy`` apart over the same extent, placed so that
        ``cv2.resize(..., INTER_LINEAR)`` maps it exactly onto this one (edges aligned)."""
        cols = max(2, int(math.ceil(self.cols * self.dx / dx)))
        rows = max(2, int(math.ceil(self.rows * self.dy / dy)))
        sx, sy = self.cols * self.dx / cols, self.rows * self.dy / rows
        return Grid(x0=self.x0 - self.dx / 2 + sx / 2, y0=self.y0 - self.dy / 2 + sy / 2, dx=sx, dy=sy,
                    rows=rows, cols=cols)

    def rect(self, x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> tuple[slice, slice] | None:
        return self.box(np.array([[x_lo, y_lo], [x_hi, y_hi]]), margin_mm=0.0)


def paint(canvas: np.ndarray, box: tuple[slice, slice], cover: np.ndarray | float,
          hu: np.ndarray | float) -> None:
    """Blend ``canvas[box]`` towards ``hu`` by the coverage fraction ``cover`` (0..1)."""
    region = canvas[box]
    region += (np.asarray(cover, dtype=np.float32) * (np.asarray(hu, dtype=np.float32) - region))


def coverage(distance_mm: np.ndarray, step: float) -> np.ndarray:
    """Fraction of a pixel inside a boundary at signed ``distance_mm`` (positive inside)."""
    return np.clip(distance_mm / step + 0.5, 0.0, 1.0)


def polygon(grid: Grid, box: tuple[slice, slice], world: np.ndarray) -> np.ndarray:
    """float32 coverage (0/1) of a polygon inside ``box``."""
    rs, cs = box
    px = grid.to_px(world) - np.array([cs.start, rs.start])
    mask = np.zeros((rs.stop - rs.start, cs.stop - cs.start), dtype=np.uint8)
    pts = np.round(px * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask.astype(np.float32)


def ellipse(grid: Grid, centre: tuple[float, float], axes: tuple[float, float], angle: float = 0.0,
            wobble: tuple[tuple[float, float], ...] = ()) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """(box, signed distance in mm, positive inside) of an ellipse in the plane, optionally with
    an irregular outline: radius × (1 + Σ a·cos(kθ + φ)) for (a, φ) in ``wobble`` (k = 2, 3, ...)."""
    a, b = axes
    if a <= 0 or b <= 0:
        return None
    reach = max(a, b) * (1.0 + sum(abs(w[0]) for w in wobble)) + 1.0
    box = grid.box(np.array([[centre[0] - reach, centre[1] - reach],
                             [centre[0] + reach, centre[1] + reach]]), 0.0)
    if box is None:
        return None
    dx, dy = grid.xs(box[1]) - centre[0], grid.ys(box[0]) - centre[1]
    ca, sa = math.cos(angle), math.sin(angle)
    p, q = (dx * ca + dy * sa) / a, (-dx * sa + dy * ca) / b
    rho = np.sqrt(p * p + q * q)
    limit = np.ones_like(rho)
    if wobble:
        theta = np.arctan2(q, p)
        for k, (amp, phase) in enumerate(wobble, start=2):
            limit = limit + amp * np.cos(k * theta + phase)
    return box, (limit - rho) * min(a, b)


@dataclass(frozen=True)
class Ellipsoid:
    """A 3-D ellipsoid: centre (X, Y, Z) mm, semi-axes (ax, ay, az), in-plane angle, wobble."""

    centre: tuple[float, float, float]
    axes: tuple[float, float, float]
    angle: float = 0.0
    wobble: tuple[tuple[float, float], ...] = ()

    def section(self, z: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """(centre, semi-axes) of the ellipse this ellipsoid leaves on the plane at ``z``."""
        s = 1.0 - ((z - self.centre[2]) / self.axes[2]) ** 2
        if s <= 0.0:
            return None
        k = math.sqrt(s)
        return (self.centre[0], self.centre[1]), (self.axes[0] * k, self.axes[1] * k)

    def draw(self, grid: Grid, z: float) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """(box, signed distance mm) of the section at ``z``, None when the plane misses it."""
        sec = self.section(z)
        if sec is None:
            return None
        return ellipse(grid, sec[0], sec[1], self.angle, self.wobble)


@dataclass
class LayeredNoise:
    """A unit-variance random field over a fixed box of the grid that varies smoothly with Z."""

    seed: tuple[int, ...]
    box: tuple[slice, slice]
    sigma_mm: tuple[float, float]  # (along Y, along X)
    layer_mm: float
    grid: Grid
    single: bool = False  # one plane only: no blending between layers
    _cache: dict[int, np.ndarray] = field(default_factory=dict)

    def _layer(self, k: int) -> np.ndarray:
        if k not in self._cache:
            if len(self._cache) > 4:  # a volume walks Z in order: the farthest layer is done with
                self._cache.pop(max(self._cache, key=lambda j: abs(j - k)))
            rs, cs = self.box
            rng = np.random.default_rng([*self.seed, k + 100_000])
            sigma = (self.sigma_mm[0] / self.grid.dy, self.sigma_mm[1] / self.grid.dx)
            self._cache[k] = smooth_noise(rng, (rs.stop - rs.start, cs.stop - cs.start), sigma)
        return self._cache[k]

    def at(self, z: float) -> np.ndarray:
        """The field on the plane at ``z`` (two layers blended, variance restored)."""
        t = z / self.layer_mm
        k = math.floor(t)
        w = t - k
        if w < 1e-9 or self.single:
            return self._layer(k)
        norm = math.sqrt(w * w + (1 - w) * (1 - w))
        return ((1 - w) * self._layer(k) + w * self._layer(k + 1)) / np.float32(norm)


def profile_interp(y: np.ndarray, knots_y: np.ndarray, knots_v: np.ndarray) -> np.ndarray:
    """Piecewise-linear profile along Y (constant beyond the knots)."""
    return np.interp(np.asarray(y, dtype=np.float64).ravel(), knots_y, knots_v).reshape(np.shape(y))

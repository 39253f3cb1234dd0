"""Drawing surface and projected path-length primitives (slabs, tubes, blobs) in pixel space.

Every structure adds its line integral of attenuation Σ μ·t (dimensionless) to one map, so
overlapping structures sum the way X-rays do. Attenuation coefficients are at an effective
energy of ~55–60 keV, relative to the soft tissue each structure displaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MU_SOFT = 0.021  # 1/mm, water-like soft tissue
MU_CORTICAL = 0.040  # cortical bone minus the soft tissue it replaces
MU_TRABECULAR_FULL = 0.040  # multiplied by the trabecular bone fraction (BV/TV)
MU_CEMENT = 0.10  # PMMA + barium minus soft tissue
MU_LEAD = 3.0

_SHIFT = 4  # cv2 fixed-point bits for sub-pixel polygon vertices


@dataclass
class Canvas:
    """Attenuation map with the world (mm) ↔ pixel mapping; pixel (r, c) centre = world origin +
    (c, r)·spacing."""

    atten: np.ndarray
    spacing: float
    origin: tuple[float, float]

    @property
    def shape(self) -> tuple[int, int]:
        return self.atten.shape  # type: ignore[return-value]

    def to_px(self, world: np.ndarray) -> np.ndarray:
        return (np.asarray(world, dtype=np.float64) - np.asarray(self.origin)) / self.spacing

    def bbox(self, world_points: np.ndarray, margin_mm: float = 2.0) -> tuple[slice, slice] | None:
        """Pixel slices (rows, cols) covering the points plus a margin, clipped; None if off-image."""
        px = self.to_px(np.asarray(world_points).reshape(-1, 2))
        m = margin_mm / self.spacing
        c0, r0 = np.floor(px.min(axis=0) - m).astype(int)
        c1, r1 = np.ceil(px.max(axis=0) + m).astype(int) + 1
        rows, cols = self.shape
        r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, rows), min(c1, cols)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def world_grid(self, box: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
        """World x (1, w) and y (h, 1) of the pixel centres in ``box``."""
        rs, cs = box
        xs = self.origin[0] + np.arange(cs.start, cs.stop, dtype=np.float64)[None, :] * self.spacing
        ys = self.origin[1] + np.arange(rs.start, rs.stop, dtype=np.float64)[:, None] * self.spacing
        return xs, ys


def _poly_mask(canvas: Canvas, box: tuple[slice, slice], poly_world: np.ndarray) -> np.ndarray:
    rs, cs = box
    px = canvas.to_px(poly_world) - np.array([cs.start, rs.start])
    mask = np.zeros((rs.stop - rs.start, cs.stop - cs.start), dtype=np.uint8)
    pts = np.round(px * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask


def slab_profile(depth_mm: np.ndarray, thickness: float, cortex: float) -> tuple[np.ndarray, np.ndarray]:
    """(cortical, trabecular) lateral path at a given distance inside the outline of a slab.

    A slab of lateral thickness T has rounded edges of radius T/2; its cortex of thickness s is
    seen edge-on near the outline, which is why bony outlines look like bright lines.
    """
    rho = thickness / 2.0
    d = np.clip(depth_mm, 0.0, rho)
    outer = 2.0 * np.sqrt(np.maximum(rho * rho - (rho - d) ** 2, 0.0))
    rho_in = max(rho - cortex, 0.0)
    d_in = np.clip(depth_mm - cortex, 0.0, rho_in)
    inner = 2.0 * np.sqrt(np.maximum(rho_in * rho_in - (rho_in - d_in) ** 2, 0.0))
    return outer - inner, inner


def add_slab(canvas: Canvas, poly_world: np.ndarray, thickness: float, cortex: float,
             trabecular_mu: float, cortical_mu: float = MU_CORTICAL,
             texture: np.ndarray | None = None) -> None:
    """Add a bony plate with outline ``poly_world`` (k, 2) mm, lateral thickness ``thickness``."""
    box = canvas.bbox(poly_world, margin_mm=canvas.spacing * 2)
    if box is None:
        return
    mask = _poly_mask(canvas, box, poly_world)
    if not mask.any():
        return
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    depth = np.maximum(dist - 0.5, 0.0) * canvas.spacing
    cort, trab = slab_profile(depth, thickness, cortex)
    if texture is not None:
        trab = trab * texture[box]
    contribution = (cortical_mu * cort + trabecular_mu * trab) * (mask > 0)
    canvas.atten[box] += contribution.astype(np.float32)


def add_tube(canvas: Canvas, line_world: np.ndarray, radius: float, depth: float, cortex: float,
             trabecular_mu: float, cortical_mu: float = MU_CORTICAL) -> None:
    """Add a bony tube (rib, crest rim) along a polyline: radius in the image plane, ``depth``
    its extent along the beam."""
    box = canvas.bbox(line_world, margin_mm=radius + 2 * canvas.spacing)
    if box is None:
        return
    rs, cs = box
    h, w = rs.stop - rs.start, cs.stop - cs.start
    img = np.full((h, w), 255, dtype=np.uint8)
    px = canvas.to_px(line_world) - np.array([cs.start, rs.start])
    pts = np.round(px * (1 << _SHIFT)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [pts], False, 0, thickness=1, lineType=cv2.LINE_8, shift=_SHIFT)
    if img.all():  # the line only grazes the box: nothing of the tube lands on it
        return
    dist = np.minimum(cv2.distanceTransform(img, cv2.DIST_L2, 3) * canvas.spacing, 2.0 * radius)
    x = np.clip(dist / radius, 0.0, 1.0)
    outer = depth * np.sqrt(1.0 - x * x)
    r_in = max(radius - cortex, 1e-3)
    xi = np.clip(dist / r_in, 0.0, 1.0)
    inner = max(depth - 2 * cortex, 0.0) * np.sqrt(1.0 - xi * xi)
    canvas.atten[box] += (cortical_mu * (outer - inner) + trabecular_mu * inner).astype(np.float32)


def add_blob(canvas: Canvas, centre: tuple[float, float], axes: tuple[float, float], angle: float,
             depth: float, mu: float, power: float = 0.5) -> None:
    """Add an ellipsoidal blob: path length depth·(1 − r²)^power (gas pockets, cement, markers)."""
    a, b = axes
    extent = np.array([[centre[0] - max(a, b), centre[1] - max(a, b)],
                       [centre[0] + max(a, b), centre[1] + max(a, b)]])
    box = canvas.bbox(extent, margin_mm=canvas.spacing)
    if box is None:
        return
    xs, ys = canvas.world_grid(box)
    dx, dy = xs - centre[0], ys - centre[1]
    ca, sa = np.cos(angle), np.sin(angle)
    r2 = ((dx * ca + dy * sa) / a) ** 2 + ((-dx * sa + dy * ca) / b) ** 2
    path = depth * np.clip(1.0 - r2, 0.0, None) ** power
    canvas.atten[box] += (mu * path).astype(np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int],
                 sigma_px: tuple[float, float]) -> np.ndarray:
    """Zero-mean, unit-variance smooth random field of ``shape`` (cheap: made small, resized)."""
    rows, cols = shape
    # the blurred field is well sampled at a step of sigma/1.5: make it that small, then resize
    factor = max(1.0, min(min(sigma_px) / 1.5, max(rows, cols) / 8.0))
    small = (max(2, int(round(rows / factor))), max(2, int(round(cols / factor))))
    field = rng.standard_normal(small).astype(np.float32)
    sy, sx = sigma_px[0] / factor, sigma_px[1] / factor
    field = cv2.GaussianBlur(field, (0, 0), sigmaX=max(sx, 0.3), sigmaY=max(sy, 0.3),
                             borderType=cv2.BORDER_REFLECT)
    if small != (rows, cols):
        field = cv2.resize(field, (cols, rows), interpolation=cv2.INTER_LINEAR)
    std = float(field.std())
    return (field - float(field.mean())) / (std if std > 1e-9 else 1.0)

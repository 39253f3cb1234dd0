"""Soft tissue: the patient's envelope (with a fat layer), lung bases behind the diaphragm, bowel gas.

The envelope dominates a lateral lumbar film: 250–400 mm of tissue along the beam, so most of the
signal is scatter and the bones ride on a large, slowly varying background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.synth.primitives import MU_SOFT, Canvas, add_blob, add_slab, smooth_noise

MU_FAT_DELTA = -0.004  # fat attenuates a little less than muscle


@dataclass(frozen=True)
class BodyOutline:
    """Where the patient is: skin lines (world x, mm) and lateral width, from the spine's position."""

    anterior_skin: float
    posterior_skin: float
    lateral_width: float
    fat: float  # subcutaneous fat thickness (mm)
    crest_y: float  # iliac crest height: the hips widen below it


def sample_outline(rng: np.random.Generator, anterior_wall_x: float, posterior_wall_x: float,
                   crest_y: float) -> BodyOutline:
    return BodyOutline(
        anterior_skin=anterior_wall_x - rng.uniform(110.0, 260.0),
        posterior_skin=posterior_wall_x + rng.uniform(85.0, 150.0),
        lateral_width=rng.uniform(260.0, 420.0),
        fat=rng.uniform(8.0, 45.0),
        crest_y=crest_y,
    )


def _profile(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: np.ndarray, power: float) -> np.ndarray:
    centre, semi = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1.0)
    r = np.clip(np.abs(x - centre) / semi, 0.0, 1.0)
    return width * (1.0 - r ** power) ** (1.0 / power)


def _coarse(canvas: Canvas, step_mm: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """World x (1, w) and y (h, 1) of a grid about ``step_mm`` apart covering the canvas: smooth
    fields are computed there and resized (the skin edge blurs by well under a millimetre)."""
    rows, cols = canvas.shape
    step = max(1.0, step_mm / canvas.spacing)
    small = (max(2, int(np.ceil(rows / step))), max(2, int(np.ceil(cols / step))))
    fy, fx = (rows - 1) / max(small[0] - 1, 1), (cols - 1) / max(small[1] - 1, 1)
    xs = canvas.origin[0] + (np.arange(small[1]) * fx)[None, :] * canvas.spacing
    ys = canvas.origin[1] + (np.arange(small[0]) * fy)[:, None] * canvas.spacing
    return xs.astype(np.float32), ys.astype(np.float32), small


def _to_canvas(canvas: Canvas, field: np.ndarray) -> np.ndarray:
    rows, cols = canvas.shape
    if field.shape == (rows, cols):
        return field.astype(np.float32)
    # align corners: the coarse grid spans the same first and last pixel centres
    out = cv2.resize(field.astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    return out


def add_envelope(canvas: Canvas, outline: BodyOutline, rng: np.random.Generator) -> np.ndarray:
    """Add the patient's soft tissue; returns the boolean 'inside the patient' map."""
    xs, ys, small = _coarse(canvas, 0.8)
    rows = small[0]
    hips = 1.0 / (1.0 + np.exp(-(ys - outline.crest_y - 20.0) / 25.0))
    wobble = smooth_noise(rng, (rows, 1), (rows / 6.0, 1.0))[:, :1] * 6.0
    post = outline.posterior_skin + hips * rng.uniform(15.0, 60.0) + wobble
    ant = outline.anterior_skin - hips * rng.uniform(0.0, 30.0) - wobble
    width = outline.lateral_width * (1.0 + 0.12 * hips)
    power = rng.uniform(2.0, 3.2)
    total = _profile(xs, ant, post, width, power)
    inner = _profile(xs, ant + outline.fat, post - outline.fat, width - 2 * outline.fat, power)
    fat = total - inner
    # organs, muscle bundles and bowel contents: slow, irregular density changes
    step = (canvas.shape[0] - 1) / max(small[0] - 1, 1) * canvas.spacing
    lumps = smooth_noise(rng, small, (18.0 / step, 12.0 / step))
    tissue = total * (1.0 + 0.012 * lumps)
    envelope = _to_canvas(canvas, MU_SOFT * tissue + MU_FAT_DELTA * fat)
    canvas.atten += envelope
    return envelope > MU_SOFT * 0.5


def add_lungs(canvas: Canvas, rng: np.random.Generator, apex: tuple[float, float],
              posterior_x: float, outline: BodyOutline) -> None:
    """Aerated lung bases above the two hemidiaphragm domes (air attenuates far less); the
    posterior recess dips lowest, next to the spine, and ends at the back wall."""
    xs, ys, _ = _coarse(canvas, 1.0)
    lung_width = outline.lateral_width * rng.uniform(0.35, 0.6)
    back_wall = outline.posterior_skin - outline.fat - rng.uniform(15.0, 35.0)
    front_wall = outline.anterior_skin + outline.fat + 15.0
    walls = np.sqrt(np.clip((back_wall - xs) / 40.0, 0.0, 1.0) * np.clip((xs - front_wall) / 20.0, 0.0, 1.0))
    for _ in range(2):
        ay = apex[1] + rng.uniform(0.0, 25.0)
        ax = apex[0] + rng.normal(0.0, 15.0)
        # J-shaped: shallow in front, deepest in the posterior recess at the back wall
        depth = rng.uniform(40.0, 100.0)
        reach = np.clip((xs - ax) / max(back_wall - ax, 10.0), -1.0, 1.0)
        dome = ay + depth * reach ** 2 * np.where(reach > 0, 1.0, 0.4)
        above = np.clip((dome - ys) / 50.0, 0.0, 1.0)
        air = lung_width / 2 * np.sqrt(above) * walls * 0.8
        canvas.atten -= _to_canvas(canvas, MU_SOFT * air)


def _gas_loop(rng: np.random.Generator, cx: float, cy: float) -> np.ndarray:
    """Irregular closed outline of a gas-filled bowel segment (world mm)."""
    theta = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    a, b = rng.uniform(6.0, 30.0), rng.uniform(4.0, 16.0)
    wobble = np.ones_like(theta)
    for k in range(2, 6):
        wobble += rng.normal(0.0, 0.12 / k * 2) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    angle = rng.uniform(0, np.pi)
    x, y = a * np.cos(theta) * wobble, b * np.sin(theta) * wobble
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([cx + x * ca - y * sa, cy + x * sa + y * ca], axis=1)


def add_bowel_gas(canvas: Canvas, rng: np.random.Generator, x_range: tuple[float, float],
                  y_range: tuple[float, float], amount: float) -> None:
    """Gas-filled loops (dark irregular shapes) and faecal mottling, anterior and lateral to the spine."""
    _add_contents(canvas, rng, x_range, y_range, amount)
    for _ in range(int(rng.integers(2, 16) * amount)):
        cx, cy = rng.uniform(*x_range), rng.uniform(*y_range)
        for _ in range(int(rng.integers(1, 5))):
            loop = _gas_loop(rng, cx + rng.normal(0, 12), cy + rng.normal(0, 12)) * 1.0
            loop = (loop - loop.mean(axis=0)) * rng.uniform(0.4, 1.0) + loop.mean(axis=0)
            add_slab(canvas, loop, thickness=rng.uniform(6.0, 30.0), cortex=0.0, trabecular_mu=-MU_SOFT)
    for _ in range(int(rng.integers(0, 4) * amount)):
        cx, cy = rng.uniform(*x_range), rng.uniform(*y_range)
        spread = rng.uniform(12.0, 35.0)
        for _ in range(int(rng.integers(20, 120))):
            r = rng.uniform(0.8, 3.0)
            add_blob(canvas, (cx + rng.normal(0, spread), cy + rng.normal(0, spread * 0.8)), (r, r * 0.8),
                     rng.uniform(0, np.pi), depth=rng.uniform(2.0, 7.0), mu=-MU_SOFT)


def _add_contents(canvas: Canvas, rng: np.random.Generator, x_range: tuple[float, float],
                  y_range: tuple[float, float], amount: float) -> None:
    """Faecal mottling: a bubbly, irregular density within a few colon-shaped regions."""
    rows, cols = canvas.shape
    step = max(1, int(round(1.0 / canvas.spacing)))  # work at ~1 mm: the mottle is coarser than that
    small = (max(2, rows // step), max(2, cols // step))
    xs = canvas.origin[0] + (np.arange(small[1]) + 0.5)[None, :] * step * canvas.spacing
    ys = canvas.origin[1] + (np.arange(small[0]) + 0.5)[:, None] * step * canvas.spacing
    region = np.zeros(small, dtype=np.float32)
    for _ in range(int(rng.integers(1, 4))):
        cx, cy = rng.uniform(*x_range), rng.uniform(*y_range)
        a, b = rng.uniform(20.0, 60.0), rng.uniform(30.0, 90.0)
        region = np.maximum(region, np.clip(1.5 - ((xs - cx) / a) ** 2 - ((ys - cy) / b) ** 2, 0.0, 1.0))
    bubbles = smooth_noise(rng, small, (rng.uniform(1.5, 4.0), rng.uniform(1.5, 4.0)))
    mottle = -np.clip(bubbles - 0.3, 0.0, None) * rng.uniform(0.08, 0.25) * amount * region
    full = cv2.resize(mottle.astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    canvas.atten += full


def texture_field(rng: np.random.Generator, shape: tuple[int, int], spacing: float,
                  contrast: float, porosis: float) -> np.ndarray:
    """Trabecular texture (mean 1): fine mottle; in osteoporosis the horizontal trabeculae thin
    out first, leaving accentuated vertical striations."""
    vertical = smooth_noise(rng, shape, (2.5 / spacing, 0.3 / spacing))
    coarse = smooth_noise(rng, shape, (1.5 / spacing, 1.0 / spacing))
    field = 1.0 + contrast * ((0.4 + 0.9 * porosis) * vertical + 0.6 * coarse)
    return np.clip(field, 0.1, None).astype(np.float32)


def blur_px(image: np.ndarray, sigma_px: float) -> np.ndarray:
    if sigma_px < 0.3:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma_px, sigmaY=sigma_px, borderType=cv2.BORDER_REFLECT)

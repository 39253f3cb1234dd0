"""Soft tissue: the patient's envelope (with a fat layer), lung bases behind the diaphragm, bowel gas.

The envelope dominates a lateral lumbar film: 250–400 mm of tissue along the beam, so most of the
signal is scatter and the bones ride on a large, slowly varying background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.synth.primitives import MU_SOFT, Canvas, add_blob, smooth_noise

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


def add_envelope(canvas: Canvas, outline: BodyOutline, rng: np.random.Generator) -> np.ndarray:
    """Add the patient's soft tissue; returns the boolean 'inside the patient' map."""
    rows, cols = canvas.shape
    xs = canvas.origin[0] + np.arange(cols, dtype=np.float64)[None, :] * canvas.spacing
    ys = canvas.origin[1] + np.arange(rows, dtype=np.float64)[:, None] * canvas.spacing
    hips = 1.0 / (1.0 + np.exp(-(ys - outline.crest_y - 20.0) / 25.0))
    wobble = smooth_noise(rng, (rows, 1), (rows / 6.0, 1.0))[:, :1] * 6.0
    post = outline.posterior_skin + hips * rng.uniform(15.0, 60.0) + wobble
    ant = outline.anterior_skin - hips * rng.uniform(0.0, 30.0) - wobble
    width = outline.lateral_width * (1.0 + 0.12 * hips)
    power = rng.uniform(2.0, 3.2)
    total = _profile(xs, ant, post, width, power)
    inner = _profile(xs, ant + outline.fat, post - outline.fat, width - 2 * outline.fat, power)
    fat = total - inner
    # muscle bundles make slow streaks in the back and flank
    streaks = smooth_noise(rng, (rows, cols), (40.0 / canvas.spacing, 6.0 / canvas.spacing))
    tissue = total * (1.0 + 0.03 * streaks)
    canvas.atten += (MU_SOFT * tissue + MU_FAT_DELTA * fat).astype(np.float32)
    return total > 0.5


def add_lungs(canvas: Canvas, rng: np.random.Generator, apex: tuple[float, float],
              posterior_x: float, outline: BodyOutline) -> None:
    """Aerated lung bases above the two hemidiaphragm domes (air attenuates far less)."""
    rows, cols = canvas.shape
    xs = canvas.origin[0] + np.arange(cols, dtype=np.float64)[None, :] * canvas.spacing
    ys = canvas.origin[1] + np.arange(rows, dtype=np.float64)[:, None] * canvas.spacing
    lung_width = outline.lateral_width * rng.uniform(0.35, 0.6)
    for k in range(2):
        ay = apex[1] + k * rng.uniform(5.0, 25.0)
        ax = apex[0] + rng.normal(0.0, 15.0)
        # the posterior recess dips lowest, next to the spine
        curve = rng.uniform(0.5, 1.2) / 100.0
        dome = ay + curve * (xs - ax) ** 2 * np.where(xs > ax, 1.0, 0.6)
        dome = np.minimum(dome, ay + (posterior_x - ax) * 0.9 + 40.0)
        above = np.clip((dome - ys) / 60.0, 0.0, 1.0)
        inside_x = (xs > outline.anterior_skin + 15) & (xs < outline.posterior_skin - 20)
        air = lung_width / 2 * np.sqrt(above) * inside_x * 0.8
        canvas.atten -= (MU_SOFT * air).astype(np.float32)


def add_bowel_gas(canvas: Canvas, rng: np.random.Generator, x_range: tuple[float, float],
                  y_range: tuple[float, float], amount: float) -> None:
    """Gas-filled loops (dark irregular blobs) and faecal mottling, anterior and lateral to the spine."""
    n_loops = int(rng.integers(2, 12) * amount)
    for _ in range(n_loops):
        cx, cy = rng.uniform(*x_range), rng.uniform(*y_range)
        for _ in range(int(rng.integers(1, 4))):
            a, b = rng.uniform(6.0, 30.0), rng.uniform(4.0, 18.0)
            add_blob(canvas, (cx + rng.normal(0, 8), cy + rng.normal(0, 8)), (a, b),
                     rng.uniform(0, np.pi), depth=rng.uniform(10.0, 45.0), mu=-MU_SOFT,
                     power=rng.uniform(0.3, 0.7))
    for _ in range(int(rng.integers(0, 3) * amount)):
        cx, cy = rng.uniform(*x_range), rng.uniform(*y_range)
        spread = rng.uniform(15.0, 40.0)
        for _ in range(int(rng.integers(20, 90))):
            r = rng.uniform(0.8, 3.0)
            add_blob(canvas, (cx + rng.normal(0, spread), cy + rng.normal(0, spread * 0.8)), (r, r * 0.8),
                     rng.uniform(0, np.pi), depth=rng.uniform(2.0, 7.0), mu=-MU_SOFT)


def texture_field(rng: np.random.Generator, shape: tuple[int, int], spacing: float,
                  contrast: float) -> np.ndarray:
    """Trabecular texture (mean 1): fine mottle with vertically elongated trabeculae."""
    fine = smooth_noise(rng, shape, (0.9 / spacing, 0.3 / spacing))
    coarse = smooth_noise(rng, shape, (2.5 / spacing, 1.5 / spacing))
    field = 1.0 + contrast * (0.7 * fine + 0.5 * coarse)
    return np.clip(field, 0.1, None).astype(np.float32)


def blur_px(image: np.ndarray, sigma_px: float) -> np.ndarray:
    if sigma_px < 0.3:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma_px, sigmaY=sigma_px, borderType=cv2.BORDER_REFLECT)

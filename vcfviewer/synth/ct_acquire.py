"""CT acquisition of a rendered sagittal plane: in-plane PSF and pixel sampling along AP, slice
sensitivity along SI, reconstruction kernel, correlated noise, streaks, cupping, and the limit of
the reconstructed field of view.

An axial CT samples the patient in slices ``slice_mm`` thick every ``slice_mm``, each with square
in-plane pixels ``pixel_mm``. A sagittal reformat of such a stack (``core.reformat``) interpolates
linearly between slices to square pixels; ``to_reformat_rows`` does exactly that, so a simulated
plane looks like the product's reformat of a real thick-slice series. Noise is made per axial
slice (correlated within it, independent between slices), which is why reformats show it smeared
along SI between slice centres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse, special

from vcfviewer.synth.ct_plan import ScanRange

SLICE_CHOICES = (0.625, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class Acquisition:
    """Scan and reconstruction settings of one simulated CT."""

    pixel_mm: float
    slice_mm: float
    psf_mm: float  # Gaussian sigma of the in-plane point spread
    sharpen: float  # edge enhancement of a bone kernel (0 = soft kernel)
    noise_hu: float  # σ of the image noise in soft tissue
    grain_px: float  # correlation length of the noise (pixels)
    streak_hu: float  # baseline streak amplitude
    cupping_hu: float  # beam hardening: the patient's centre reads low by this much
    pelvis_noise: float  # noise multiplier where the pelvis widens the beam path
    truncate: float | None  # share of the patient's AP depth inside the reconstruction circle
    pad_hu: float  # value outside the reconstruction circle

    def as_meta(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def sample_acquisition(rng: np.random.Generator, pixel_mm: float | None, slice_mm: float | None) -> Acquisition:
    """Draw scan settings; given ``pixel_mm``/``slice_mm`` replace the drawn ones (draws unchanged)."""
    pixel = round(float(rng.uniform(0.5, 1.0)), 3)
    thick = float(rng.choice(SLICE_CHOICES, p=_slice_weights()))
    sharp = rng.random() < 0.6
    noise = float(np.exp(rng.uniform(np.log(8.0), np.log(40.0))))
    return Acquisition(
        pixel_mm=float(pixel_mm) if pixel_mm is not None else pixel,
        slice_mm=float(slice_mm) if slice_mm is not None else thick,
        psf_mm=rng.uniform(0.25, 0.45) if sharp else rng.uniform(0.4, 0.7),
        sharpen=rng.uniform(0.3, 0.9) if sharp else 0.0, noise_hu=noise,
        grain_px=rng.uniform(0.6, 1.4), streak_hu=rng.uniform(0.0, 8.0),
        cupping_hu=rng.uniform(0.0, 15.0), pelvis_noise=rng.uniform(1.1, 1.7),
        truncate=rng.uniform(0.85, 0.97) if rng.random() < 0.08 else None, pad_hu=float(rng.choice([-1000.0, -1024.0, -2048.0, -3024.0])))


def _slice_weights() -> np.ndarray:
    # thin reconstructions and the 2.5–5 mm routine series are the common ones
    w = np.array([2.0, 1.0, 2.0, 1.5, 1.0, 1.5, 1.5, 2.0, 0.5, 1.5])
    return w / w.sum()


def slice_matrix(fine_y: np.ndarray, slice_y: np.ndarray, slice_mm: float) -> sparse.csr_matrix:
    """(slices, fine rows) sparse weights: each slice averages a box ``slice_mm`` wide whose
    edges fall off over a fraction of the thickness (the slice sensitivity profile)."""
    edge = 0.12 * slice_mm + 0.1
    reach = slice_mm / 2 + 4.0 * edge
    dy = float(fine_y[1] - fine_y[0])
    lo = np.searchsorted(fine_y, slice_y - reach)
    count = int(np.ceil(2 * reach / dy)) + 2
    cols = np.clip(lo[:, None] + np.arange(count)[None, :], 0, len(fine_y) - 1)
    y = fine_y[cols]
    scale = edge * math.sqrt(2.0)
    w = 0.5 * (special.erf((y - (slice_y[:, None] - slice_mm / 2)) / scale)
               - special.erf((y - (slice_y[:, None] + slice_mm / 2)) / scale))
    w[np.diff(cols, axis=1, prepend=-1) == 0] = 0.0  # clipped duplicates at the grid's ends
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-9)
    rows = np.repeat(np.arange(len(slice_y)), count)
    return sparse.csr_matrix((w.ravel().astype(np.float32), (rows, cols.ravel())),
                             shape=(len(slice_y), len(fine_y)))


def sample_plane(fine: np.ndarray, slices: sparse.csr_matrix, fine_x: np.ndarray, out_x: np.ndarray,
                 sigma_mm: float, air: float) -> np.ndarray:
    """Fine HU → (slices, output columns): slice profile along SI, a Gaussian point spread along
    AP, then linear sampling at the output columns; beyond the fine grid lies air."""
    rows = np.asarray(slices @ fine, dtype=np.float32)
    dx = float(fine_x[1] - fine_x[0])
    rows = ndimage.gaussian_filter1d(rows, sigma_mm / dx, axis=1, mode="constant", cval=air)
    pos = (out_x - fine_x[0]) / dx
    lower = np.floor(pos).astype(np.intp)
    weight = (pos - lower).astype(np.float32)
    padded = np.pad(rows, ((0, 0), (1, 1)), constant_values=air)
    a = padded[:, np.clip(lower + 1, 0, padded.shape[1] - 1)]
    b = padded[:, np.clip(lower + 2, 0, padded.shape[1] - 1)]
    return a + (b - a) * weight[None, :]


def sharpen_ap(image: np.ndarray, amount: float, axis: int = -1) -> np.ndarray:
    """Edge enhancement of a bone reconstruction kernel (in-plane axes only)."""
    if amount <= 0:
        return image
    return image + amount * (image - ndimage.gaussian_filter1d(image, 1.2, axis=axis, mode="nearest"))


def noise_field(rng: np.random.Generator, shape: tuple[int, ...], grain_px: float) -> np.ndarray:
    """Unit-σ CT-like noise: band-pass in the axial plane (the last axis, and the middle one for
    a volume), independent between slices (axis 0)."""
    white = rng.standard_normal(shape).astype(np.float32)
    sigma = (0.0,) + (grain_px,) * (len(shape) - 1)
    fine = ndimage.gaussian_filter(white, sigma, mode="wrap")
    coarse = ndimage.gaussian_filter(white, tuple(2.5 * s for s in sigma), mode="wrap")
    field = fine - 0.5 * coarse
    return field / max(float(field.std()), 1e-6)


def slice_noise_scale(slice_y: np.ndarray, pelvis_y: float, acq: Acquisition) -> np.ndarray:
    """Per-slice noise σ: thin slices are noisier, the pelvis (long beam paths) noisier still."""
    base = acq.noise_hu * min(1.6, math.sqrt(2.0 / max(acq.slice_mm, 0.5)) ** 0.5)
    pelvis = 1.0 + (acq.pelvis_noise - 1.0) / (1.0 + np.exp(-(slice_y - pelvis_y) / 15.0))
    return (base * pelvis).astype(np.float32)


def streaks(rng: np.random.Generator, dense: np.ndarray, shape: tuple[int, ...], acq: Acquisition) -> np.ndarray:
    """Streaks from dense bone/cement: per-slice patterns whose strength follows how much very
    dense material the slice holds."""
    strength = acq.streak_hu + 60.0 * np.sqrt(dense / max(float(dense.max()), 1.0)) * (dense.max() > 50)
    sigma = (0.0,) + (2.0,) * (len(shape) - 1)
    pattern = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma, mode="wrap")
    pattern /= max(float(pattern.std()), 1e-6)
    return pattern * strength.reshape((-1,) + (1,) * (len(shape) - 1)).astype(np.float32)


def cupping(image: np.ndarray, amount: float, axis: int = -1) -> np.ndarray:
    """Beam hardening: the patient's centre (along ``axis``) reads lower than its edge."""
    if amount <= 0:
        return image
    inside = image > -500.0
    idx = np.arange(image.shape[axis], dtype=np.float32)
    shape = [1] * image.ndim
    shape[axis] = -1
    idx = idx.reshape(shape)
    count = np.maximum(inside.sum(axis=axis, keepdims=True), 1)
    centre = (inside * idx).sum(axis=axis, keepdims=True) / count
    half = np.maximum(count / 2.0, 1.0)
    bowl = np.clip(1.0 - ((idx - centre) / half) ** 2, 0.0, 1.0)
    return image - amount * bowl * inside


def to_reformat_rows(slices: np.ndarray, scan: ScanRange) -> np.ndarray:
    """Linear interpolation from slices (superior first) to reformat rows every ``pixel_mm``,
    exactly as ``core.reformat`` resamples a thick axial stack."""
    n = slices.shape[0]
    step = scan.pixel_mm / scan.slice_mm
    if abs(step - 1.0) < 1e-9 or n == 1:
        return slices[: scan.rows]
    positions = np.arange(scan.rows) * step
    lower = np.clip(np.floor(positions).astype(np.intp), 0, n - 2)
    weight = (positions - lower).astype(np.float32)[:, None]
    return slices[lower] + (slices[lower + 1] - slices[lower]) * weight

"""Image formation and processing: Beer–Lambert, scatter, heel effect, blur, quantum and electronic
noise, grid lines, collimation, log and the processing curve (equalisation, unsharp masking, tone),
burned-in text and lead markers.

The output is 12-bit, bone-bright (high attenuation = high value), like a DX "for presentation"
image; MONOCHROME1 storage is an inversion applied when writing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.synth.options import SynthOptions
from vcfviewer.synth.primitives import MU_LEAD

MAX_VALUE = 4095  # 12 bits stored


@dataclass(frozen=True)
class Acquisition:
    """Draws of one exposure and its processing; kept in ``SyntheticStudy.meta``."""

    exposure: float
    scatter: float
    scatter_sigma_mm: float
    heel: float
    heel_vertical: bool
    focal_blur_mm: float
    detector_blur_mm: float
    electronic_noise: float
    saturation: float
    grid: tuple[float, float, float] | None  # (cycles/px, angle, amplitude)
    drc_sigma_mm: float  # fine equalisation scale (a console's multi-scale processing) ...
    drc_gain: float
    drc_wide_sigma_mm: float  # ... and a wide one that flattens the tissue-thickness gradient
    drc_wide_gain: float
    usm_sigma_mm: float
    usm_gain: float
    low_pct: float
    high_pct: float
    gamma: float
    sigmoid: float
    shutter_black: bool
    roi_window: bool  # console finds the spine and windows on it (else on the whole field)

    def as_meta(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def sample_acquisition(rng: np.random.Generator, options: SynthOptions) -> Acquisition:
    grid = None
    if rng.random() < options.grid_rate:
        grid = (rng.uniform(0.28, 0.48), float(rng.choice([0.0, np.pi / 2])), rng.uniform(0.01, 0.04))
    lo, hi = options.exposure_range
    slo, shi = options.scatter_range
    return Acquisition(
        exposure=float(np.exp(rng.uniform(np.log(lo), np.log(hi)))),
        scatter=float(np.exp(rng.uniform(np.log(slo), np.log(shi)))),
        scatter_sigma_mm=rng.uniform(25.0, 70.0),
        heel=rng.uniform(-0.2, 0.2), heel_vertical=bool(rng.random() < 0.75),
        focal_blur_mm=rng.uniform(0.05, 0.35), detector_blur_mm=rng.uniform(0.06, 0.16),
        electronic_noise=rng.uniform(0.002, 0.03), saturation=rng.uniform(30.0, 400.0),
        grid=grid,
        drc_sigma_mm=rng.uniform(7.0, 25.0), drc_gain=rng.uniform(0.3, 0.9),
        drc_wide_sigma_mm=rng.uniform(30.0, 90.0), drc_wide_gain=rng.uniform(0.0, 0.7),
        usm_sigma_mm=rng.uniform(0.8, 4.0), usm_gain=rng.uniform(0.0, 1.2),
        low_pct=rng.uniform(0.2, 4.0), high_pct=rng.uniform(97.0, 99.9),
        gamma=float(np.exp(rng.normal(0.2, 0.25))), sigmoid=rng.uniform(0.0, 6.0),
        shutter_black=bool(rng.random() < options.shutter_black_rate),
        roi_window=bool(rng.random() < 0.7),
    )


def fast_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur; large sigmas are done on a shrunken copy (same result, a fraction of the cost)."""
    if sigma_px < 0.3:
        return image
    if sigma_px <= 6.0:
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma_px, sigmaY=sigma_px,
                                borderType=cv2.BORDER_REFLECT)
    rows, cols = image.shape
    factor = sigma_px / 3.0
    small = cv2.resize(image, (max(2, int(cols / factor)), max(2, int(rows / factor))),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=3.0, sigmaY=3.0, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)


def add_lead_marker(atten: np.ndarray, rng: np.random.Generator, letter: str, field: np.ndarray,
                    spacing: float) -> tuple[int, int]:
    """Burn a lead L/R marker into the attenuation map near a corner of the exposed field."""
    rows, cols = atten.shape
    size = max(8, int(rng.uniform(8.0, 16.0) / spacing))
    ys, xs = np.nonzero(field[:: max(1, rows // 64), :: max(1, cols // 64)])
    if ys.size == 0:
        return (0, 0)
    r0, r1 = ys.min() * max(1, rows // 64), ys.max() * max(1, rows // 64)
    c0, c1 = xs.min() * max(1, cols // 64), xs.max() * max(1, cols // 64)
    top = bool(rng.random() < 0.5)
    left = bool(rng.random() < 0.5)
    margin = int(rng.uniform(3.0, 25.0) / spacing)
    r = r0 + margin + size if top else r1 - margin
    c = c0 + margin if left else c1 - margin - size
    mark = np.zeros_like(atten, dtype=np.uint8)
    scale = size / 22.0
    thick = max(1, int(round(size / 7)))
    cv2.putText(mark, letter, (int(c), int(r)), cv2.FONT_HERSHEY_SIMPLEX, scale, 1, thick, cv2.LINE_AA)
    if rng.random() < 0.6:  # the plastic holder around the letter
        cv2.rectangle(mark, (int(c - size * 0.3), int(r - size * 1.3)),
                      (int(c + size * 1.1), int(r + size * 0.3)), 1, max(1, thick // 2))
    atten += mark.astype(np.float32) * MU_LEAD * 1.0
    return int(r), int(c)


def _signal(atten: np.ndarray, acq: Acquisition, spacing: float, field: np.ndarray,
            patient: np.ndarray) -> np.ndarray:
    """Primary + scatter reaching the detector, relative to the unattenuated beam."""
    primary = np.exp(-atten.astype(np.float32))
    inside = primary[patient & field]
    cap = float(np.percentile(inside[:: max(1, inside.size // 20000)], 99)) if inside.size else 1.0
    source = np.minimum(primary, cap) * patient
    scatter = fast_blur(source.astype(np.float32), acq.scatter_sigma_mm / spacing) * acq.scatter
    total = np.where(field, primary + scatter, scatter * 0.12)
    rows, cols = total.shape
    axis = np.linspace(-0.5, 0.5, rows if acq.heel_vertical else cols, dtype=np.float32)
    heel = 1.0 + acq.heel * axis
    total *= heel[:, None] if acq.heel_vertical else heel[None, :]
    return fast_blur(total.astype(np.float32), acq.focal_blur_mm / spacing)


def _detect(total: np.ndarray, acq: Acquisition, spacing: float, rng: np.random.Generator,
            patient: np.ndarray, field: np.ndarray) -> tuple[np.ndarray, float]:
    """Quanta with Poisson-like and electronic noise, detector blur and saturation; also Q0."""
    region = total[patient & field]
    median = float(np.median(region[:: max(1, region.size // 20000)])) if region.size else 1.0
    quanta_ref = 800.0 * acq.exposure * (spacing / 0.15) ** 2
    q0 = quanta_ref / max(median, 1e-12)
    q = total * np.float32(q0)
    if acq.grid is not None:
        freq, angle, amp = acq.grid
        rows, cols = q.shape
        coord = (np.arange(cols)[None, :] if angle == 0.0 else np.arange(rows)[:, None]).astype(np.float32)
        q = q * (1.0 + amp * np.cos(2 * np.pi * freq * coord)).astype(np.float32)
    noise = rng.standard_normal(q.shape, dtype=np.float32)
    q = q + np.sqrt(np.maximum(q, 0.0)) * noise
    q = q + rng.standard_normal(q.shape, dtype=np.float32) * np.float32(acq.electronic_noise * quanta_ref)
    q = fast_blur(q, acq.detector_blur_mm / spacing)
    q = np.minimum(q, np.float32(quanta_ref * acq.saturation))
    return q, q0


def _percentiles(values: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    sample = values[:: max(1, values.size // 200000)]
    if sample.size == 0:
        return 0.0, 1.0
    a, b = np.percentile(sample, [lo, hi])
    return float(a), float(max(b, a + 1e-3))


def _process(log_image: np.ndarray, acq: Acquisition, spacing: float, field: np.ndarray,
             patient: np.ndarray, roi: np.ndarray | None) -> np.ndarray:
    """Equalisation, unsharp masking and the tone curve of a DR console; output in [0, 1]."""
    p = log_image
    region = field & patient if (field & patient).any() else field
    base = float(np.mean(p[region][:: 7])) if region.any() else float(p.mean())
    fill = np.where(field, p, base).astype(np.float32)
    for sigma, gain in ((acq.drc_wide_sigma_mm, acq.drc_wide_gain), (acq.drc_sigma_mm, acq.drc_gain)):
        if gain > 0:
            fill = fill - gain * (fast_blur(fill, sigma / spacing) - base)
    if acq.usm_gain > 0:
        fill = fill + acq.usm_gain * (fill - fast_blur(fill, acq.usm_sigma_mm / spacing))
    lo, hi = _percentiles(fill[field], acq.low_pct, acq.high_pct)
    if acq.roi_window and roi is not None and (roi & field).any():
        # exposure recognition on the spine: its bones set the top of the display range
        lo_roi, hi = _percentiles(fill[roi & field], acq.low_pct, acq.high_pct)
        lo = 0.5 * (lo + lo_roi)
    x = np.clip((fill - lo) / (hi - lo), 0.0, 1.0) ** np.float32(acq.gamma)
    if acq.sigmoid > 0.5:
        k = np.float32(acq.sigmoid)
        s = 1.0 / (1.0 + np.exp(-k * (x - 0.5)))
        s0, s1 = 1.0 / (1.0 + np.exp(k * 0.5)), 1.0 / (1.0 + np.exp(-k * 0.5))
        x = (s - s0) / (s1 - s0)
    return x.astype(np.float32)


def expose(atten: np.ndarray, acq: Acquisition, spacing: float, rng: np.random.Generator,
           field: np.ndarray, patient: np.ndarray, roi: np.ndarray | None = None) -> np.ndarray:
    """Attenuation map → processed, bone-bright 12-bit image (float32 of integers 0..4095)."""
    total = _signal(atten, acq, spacing, field, patient)
    q, q0 = _detect(total, acq, spacing, rng, patient, field)
    log_image = np.log(np.float32(q0)) - np.log(np.maximum(q, 0.5))
    x = _process(log_image.astype(np.float32), acq, spacing, field, patient, roi)
    out = np.round(x * MAX_VALUE)
    if not field.all():
        outside = 0.0 if acq.shutter_black else MAX_VALUE * float(rng.uniform(0.8, 1.0))
        out = np.where(field, out, np.round(outside))
    return out.astype(np.float32)


_PHRASES = ("LAT", "L-SPINE LAT", "LUMBAR LAT", "STANDING", "ERECT", "SUPINE", "LATERAL",
            "kV 85  mAs 32", "kV 90  mAs 40", "kV 80  mAs 50", "DR", "PORTABLE", "RADIOLOGY",
            "S 240", "EI 1420", "DAP 1.2 dGycm2", "SID 110cm", "L", "R")


def burn_text(image: np.ndarray, rng: np.random.Generator, spacing: float) -> list[str]:
    """Burned-in annotation text at the corners (never patient data); returns what was written."""
    rows, cols = image.shape
    written = []
    scale = max(0.4, rng.uniform(0.8, 1.6) * rows / 1500.0)
    thick = max(1, int(round(scale * 1.6)))
    value = float(MAX_VALUE * rng.uniform(0.75, 1.0))
    ink = np.zeros(image.shape, dtype=np.uint8)  # cv2 draws text on 8-bit images only
    for _ in range(int(rng.integers(1, 5))):
        text = _PHRASES[int(rng.integers(len(_PHRASES)))]
        if rng.random() < 0.3:
            text = f"{int(rng.integers(2005, 2025))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        x = int(rng.uniform(0.01, 0.05) * cols) if rng.random() < 0.5 else int(cols * 0.97 - w)
        y = int(rng.uniform(0.02, 0.1) * rows + h) if rng.random() < 0.6 else int(rows * rng.uniform(0.9, 0.98))
        cv2.putText(ink, text, (max(0, x), max(h, y)), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick,
                    cv2.LINE_AA)
        written.append(text)
    alpha = ink.astype(np.float32) / 255.0
    image[...] = np.round(image * (1.0 - alpha) + value * alpha)
    return written

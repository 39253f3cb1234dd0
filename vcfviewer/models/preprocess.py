"""Preprocessing (CLINICAL.md §4) with exact inverses so every output maps back to source pixels.

Film stage: clip the top 1 % (and the darkest 0.5 %) of intensities, scale to [0, 1], optionally
mirror (patient facing right → left) and invert (bone dark → bright), letterbox into a square
keeping the aspect ratio, CLAHE, then z-score over the image content (the padding stays at the
content's darkest value after normalisation). ``FilmTransform`` maps points both ways.

Body stage: an affine crop (centre, column-axis rotation, body-relative scale, mirror) resampled
from the source film; ``CropTransform`` keeps the 2x3 matrix and its exact inverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLIP_LOW_PERCENT = 0.5
CLIP_HIGH_PERCENT = 99.0  # §4: markers and implants in the top 1 % would flatten the bone range
CLAHE_CLIP = 2.0
CLAHE_TILES = 8


class PreprocessError(ValueError):
    """An image the model cannot take (empty, constant, non-finite)."""


@dataclass(frozen=True)
class FilmTransform:
    """Source pixel ↔ network input pixel for the letterboxed film (x = column, y = row)."""

    source_shape: tuple[int, int]
    size: int
    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    flipped: bool = False

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Map source [x, y] points (…, 2) into network input pixels."""
        pts = np.asarray(xy, dtype=np.float64).copy()
        if self.flipped:
            pts[..., 0] = (self.source_shape[1] - 1) - pts[..., 0]
        pts[..., 0] = (pts[..., 0] + 0.5) * self.scale_x - 0.5 + self.offset_x
        pts[..., 1] = (pts[..., 1] + 0.5) * self.scale_y - 0.5 + self.offset_y
        return pts

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Map network input [x, y] points (…, 2) back to source pixels (exact inverse)."""
        pts = np.asarray(xy, dtype=np.float64).copy()
        pts[..., 0] = (pts[..., 0] - self.offset_x + 0.5) / self.scale_x - 0.5
        pts[..., 1] = (pts[..., 1] - self.offset_y + 0.5) / self.scale_y - 0.5
        if self.flipped:
            pts[..., 0] = (self.source_shape[1] - 1) - pts[..., 0]
        return pts

    @property
    def scale(self) -> float:
        """Mean input pixels per source pixel."""
        return (self.scale_x + self.scale_y) / 2

    @property
    def content_box(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of the image content inside the square input."""
        h = int(round(self.source_shape[0] * self.scale_y))
        w = int(round(self.source_shape[1] * self.scale_x))
        top, left = int(round(self.offset_y)), int(round(self.offset_x))
        return top, left, top + h, left + w

    def mask_to_source(self, mask: np.ndarray) -> np.ndarray:
        """Resample an input-grid map (size x size) onto the source grid (nearest)."""
        top, left, bottom, right = self.content_box
        content = np.ascontiguousarray(mask[top:bottom, left:right])
        rows, cols = self.source_shape
        out = cv2.resize(content.astype(np.uint8), (cols, rows), interpolation=cv2.INTER_NEAREST)
        return out[:, ::-1] if self.flipped else out


def normalise_unit(pixels: np.ndarray) -> np.ndarray:
    """Clip the darkest 0.5 % and brightest 1 % and scale to float32 [0, 1]."""
    arr = np.asarray(pixels, dtype=np.float32)
    if arr.ndim != 2 or arr.size == 0:
        raise PreprocessError(f"expected a 2-D image, got shape {arr.shape}")
    step = max(1, int(np.sqrt(arr.size / 250_000)))
    sample = arr[::step, ::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        raise PreprocessError("the image has no finite pixel values")
    low, high = np.percentile(sample, [CLIP_LOW_PERCENT, CLIP_HIGH_PERCENT])
    if not high > low:
        raise PreprocessError("the image is constant; nothing to analyse")
    out = (np.nan_to_num(arr, nan=float(low)) - low) / (high - low)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def letterbox(unit: np.ndarray, size: int, flip: bool = False) -> tuple[np.ndarray, FilmTransform]:
    """Resize a [0, 1] image into a size x size square (aspect kept, zero padding, centred)."""
    rows, cols = unit.shape
    scale = size / max(rows, cols)
    h, w = max(1, int(round(rows * scale))), max(1, int(round(cols * scale)))
    oy, ox = (size - h) // 2, (size - w) // 2
    src = unit[:, ::-1] if flip else unit
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(src), (w, h), interpolation=interp)
    canvas = np.zeros((size, size), np.float32)
    canvas[oy:oy + h, ox:ox + w] = small
    # The realised per-axis scales (after rounding) make the inverse exact for the drawn pixels.
    return canvas, FilmTransform((rows, cols), size, w / cols, h / rows, float(ox), float(oy), flip)


def clahe_zscore(canvas: np.ndarray, transform: FilmTransform) -> np.ndarray:
    """CLAHE on the letterboxed [0, 1] image, then z-score over the content region."""
    as8 = np.clip(canvas * 255.0 + 0.5, 0, 255).astype(np.uint8)
    tiles = max(2, CLAHE_TILES * canvas.shape[0] // 512)
    eq = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(tiles, tiles)).apply(as8)
    eq = eq.astype(np.float32) / 255.0
    top, left, bottom, right = transform.content_box
    content = eq[top:bottom, left:right]
    mean, std = float(content.mean()), float(content.std()) + 1e-6
    out = np.full_like(eq, (0.0 - mean) / std)
    out[top:bottom, left:right] = (content - mean) / std
    return out


def prepare_film(pixels: np.ndarray, size: int, flip: bool = False, invert: bool = False,
                 raw_unit: bool = False) -> tuple[np.ndarray, FilmTransform]:
    """Source pixels → normalised square network input plus the transform back.

    ``raw_unit`` says ``pixels`` already went through ``normalise_unit`` (saves a pass).
    """
    unit = pixels if raw_unit else normalise_unit(pixels)
    if invert:
        unit = 1.0 - unit
    canvas, transform = letterbox(unit, size, flip)
    return clahe_zscore(canvas, transform), transform


def prepare_film_exposures(unit: np.ndarray, size: int, gammas: tuple[float, ...],
                           flip: bool = False) -> tuple[np.ndarray, FilmTransform]:
    """Network inputs (len(gammas), size, size) of one [0, 1] film seen at several exposures.

    Gamma < 1 lifts an under-exposed (dark) region, > 1 brings out a burnt-out one, as a reader
    re-windows a film; gamma 1 is ``prepare_film``. The film is letterboxed once, so every input
    shares one transform.
    """
    canvas, transform = letterbox(unit, size, flip)
    inputs = [clahe_zscore(canvas if g == 1.0 else np.power(canvas, g), transform) for g in gammas]
    return np.stack(inputs), transform


@dataclass(frozen=True)
class CropTransform:
    """Affine map source → crop pixels as a 2x3 matrix, with its exact inverse."""

    matrix: np.ndarray  # 2x3, source [x, y, 1] → crop [x, y]
    size: int

    @property
    def source_px_per_crop_px(self) -> float:
        """Side of one crop pixel in source pixels (the body network's resolution there)."""
        return float(1.0 / np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        pts = np.asarray(xy, dtype=np.float64)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        inv = cv2.invertAffineTransform(self.matrix)
        pts = np.asarray(xy, dtype=np.float64)
        return pts @ inv[:, :2].T + inv[:, 2]


def crop_matrix(centre: np.ndarray, angle_rad: float, side: float, size: int,
                flip: bool) -> np.ndarray:
    """2x3 source → crop affine: centre at the crop middle, column axis vertical, optional mirror.

    ``angle_rad`` is the angle of the column axis (superior → inferior) from the image's +y axis;
    the crop is rotated by it so the axis points straight down.
    """
    s = size / side
    c, si = np.cos(angle_rad), np.sin(angle_rad)
    # Rotation taking the direction (sin a, cos a) onto (0, 1).
    rot = np.array([[c, -si], [si, c]]) * s
    if flip:
        rot = np.diag([-1.0, 1.0]) @ rot
    half = (size - 1) / 2.0
    offset = np.array([half, half]) - rot @ np.asarray(centre, dtype=np.float64)
    return np.hstack([rot, offset[:, None]])


def shrink(unit: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Area-averaged downscale by ``factor`` (< 1) and the 3x3 map original → shrunk pixels."""
    h = max(2, int(round(unit.shape[0] * factor)))
    w = max(2, int(round(unit.shape[1] * factor)))
    small = cv2.resize(unit, (w, h), interpolation=cv2.INTER_AREA)
    fx, fy = w / unit.shape[1], h / unit.shape[0]
    pre = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1.0]])
    return small, pre


def extract_crop(unit: np.ndarray, matrix: np.ndarray, size: int,
                 shrunk: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, CropTransform]:
    """Resample a crop from a [0, 1] film, anti-aliased when shrinking; z-scored per crop.

    ``shrunk`` is an optional (film, 3x3 map) from ``shrink`` shared by several crops, so a
    3000 px film is averaged down once rather than once per body.
    """
    m = matrix.astype(np.float64)
    src = unit
    if shrunk is not None:
        src, pre = shrunk
        m = m @ np.linalg.inv(pre)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < 0.6:
        # Shrink first (area averaging) so the warp does not alias a large film.
        src, pre = shrink(src, scale / 0.8)
        m = m @ np.linalg.inv(pre)
    crop = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    crop = (crop - crop.mean()) / (crop.std() + 1e-6)
    return crop.astype(np.float32), CropTransform(matrix.astype(np.float64), size)

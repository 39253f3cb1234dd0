"""PNG / JPEG / TIFF / BMP radiographs (8 or 16 bit, grey, palette or colour) → core Radiograph.

Raster files carry no patient geometry: spacing is unknown and the reader is told that only
ratios can be measured. Colour is reduced to luma; EXIF orientation is applied so a phone photo
of a film shows upright. Dark-bone (inverted) detection is left to the model's preprocessing.
"""

from __future__ import annotations

import os

import numpy as np

from vcfviewer.core.image import PatientInfo, Radiograph, SourceRef, SpacingSource, Window
from vcfviewer.core.progress import Job, Progress
from vcfviewer.io.errors import LoadError, describe

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
NO_SPACING_NOTE = "no pixel spacing: ratios only"
# Refuse images beyond this many pixels (decompression bombs, corrupt headers).
MAX_PIXELS = 400_000_000
_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def is_raster_path(path: str | os.PathLike[str]) -> bool:
    """Whether the file name says PNG/JPEG/TIFF/BMP."""
    return os.fspath(path).lower().endswith(RASTER_SUFFIXES)


def raster_size(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(rows, columns, frames) from the file header only, or raise LoadError."""
    from PIL import Image

    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            frames = int(getattr(image, "n_frames", 1) or 1)
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except Exception as exc:  # PIL raises UnidentifiedImageError, OSError, SyntaxError...
        raise LoadError(path, f"not a readable image file: {describe(exc)}") from None
    return int(height), int(width), frames


def _to_array(image: "object") -> tuple[np.ndarray, str]:
    """PIL image → (2-D float32 array, its nominal maximum value) for any mode PIL opens."""
    mode = image.mode  # type: ignore[attr-defined]
    if mode == "P":
        palette_mode = image.palette.mode if image.palette else "RGB"  # type: ignore[attr-defined]
        image = image.convert("RGBA" if "A" in palette_mode else "RGB")  # type: ignore[attr-defined]
        mode = image.mode  # type: ignore[attr-defined]
    if mode in ("1", "L", "LA", "I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(image.getchannel(0) if mode == "LA" else image)  # type: ignore[attr-defined]
        return arr.astype(np.float32), "grey"
    if mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")  # type: ignore[attr-defined]
    rgb = np.asarray(image)[..., :3].astype(np.float32)
    return rgb @ _GREY_WEIGHTS, "colour"


def _open_image(path: str) -> tuple[np.ndarray, list[str], int]:
    """Decode the first frame: (grey float32 pixels, notes, bit depth)."""
    from PIL import Image, ImageOps

    notes: list[str] = []
    with Image.open(path) as image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise LoadError(path, f"image too large ({width} x {height} pixels)")
        frames = int(getattr(image, "n_frames", 1) or 1)
        if frames > 1:
            notes.append(f"multi-page file: showing page 1 of {frames}")
        oriented = ImageOps.exif_transpose(image)
        if oriented is not None and oriented.size != image.size:
            notes.append("rotated according to the EXIF orientation")
        source = oriented if oriented is not None else image
        bits = 8 if source.mode in ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr") else 16
        pixels, kind = _to_array(source)
    if kind == "colour":
        notes.append("colour image converted to grey")
    return pixels, notes, bits


def _window(pixels: np.ndarray, bits: int) -> Window:
    """8-bit files are meant to be shown as stored; deeper ones rarely use their full range."""
    if bits == 8:
        return Window.from_range(0.0, 255.0)
    return Window.from_percentiles(pixels)


def load_raster_image(path: str | os.PathLike[str]) -> Radiograph:
    """Read a PNG/JPEG/TIFF/BMP file as a Radiograph without spacing, or raise LoadError."""
    path = os.fspath(path)
    try:
        pixels, notes, bits = _open_image(path)
    except LoadError:
        raise
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except MemoryError:
        raise LoadError(path, "not enough memory to load the image") from None
    except Exception as exc:  # PIL: UnidentifiedImageError, OSError (truncated), bomb errors...
        raise LoadError(path, f"not a readable image file: {describe(exc)}") from None
    if pixels.ndim != 2 or min(pixels.shape) < 2:
        raise LoadError(path, f"not a 2-D image (shape {pixels.shape})")
    notes.append(NO_SPACING_NOTE)
    return Radiograph(
        pixels=np.ascontiguousarray(pixels),
        spacing_mm=None,
        spacing_source=SpacingSource.NONE,
        window=_window(pixels, bits),
        source=SourceRef(path=path),
        patient=PatientInfo(),
        notes=tuple(notes),
    )


def load_raster(path: str | os.PathLike[str]) -> Job[Radiograph]:
    """Job wrapper around ``load_raster_image`` for the GUI worker."""
    yield Progress("read", 0.0, "reading image file")
    image = load_raster_image(path)
    yield Progress("decode", 1.0, "image ready")
    return image

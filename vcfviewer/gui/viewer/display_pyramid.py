"""A half-resolution copy of big films for drawing when zoomed out.

At fit-to-window a 3000 × 2500 film covers fewer than a million screen pixels, yet windowing
it redraws all 7.5 million. Drawing a 2 × 2 block mean instead makes every window/level change
about four times cheaper with no visible loss; the full array comes back as soon as the reader
zooms in. Values under the cursor always come from the full array. Pure numpy, so the worker
thread can build it right after loading.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from vcfviewer.core.image import Radiograph
from vcfviewer.core.progress import Progress

PREVIEW_MIN_PIXELS = 4_000_000  # below this the full film is cheap enough to draw
USE_HALF_BELOW_ZOOM = 0.45  # screen pixels per image pixel; hysteresis avoids flip-flopping
USE_FULL_ABOVE_ZOOM = 0.55


def half_resolution(pixels: np.ndarray) -> np.ndarray:
    """2 × 2 block mean (float32); an odd last row/column is dropped."""
    rows, cols = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2
    out = pixels[0:rows:2, 0:cols:2].astype(np.float32, copy=True)
    out += pixels[1:rows:2, 0:cols:2]
    out += pixels[0:rows:2, 1:cols:2]
    out += pixels[1:rows:2, 1:cols:2]
    out *= np.float32(0.25)
    return out


@dataclass(frozen=True, eq=False)
class DisplayPyramid:
    """The film as drawn: full resolution, plus a half-resolution level for big films."""

    full: np.ndarray
    half: np.ndarray | None = None

    @classmethod
    def build(cls, pixels: np.ndarray) -> "DisplayPyramid":
        """Add the half level only when the film is big enough to need it."""
        if pixels.size < PREVIEW_MIN_PIXELS or min(pixels.shape) < 4:
            return cls(pixels)
        return cls(pixels, half_resolution(pixels))

    def level_for(self, zoom: float, current: int) -> int:
        """0 (full) or 1 (half) for a zoom in screen pixels per image pixel."""
        if self.half is None:
            return 0
        if current == 1:
            return 0 if zoom > USE_FULL_ABOVE_ZOOM else 1
        return 1 if zoom < USE_HALF_BELOW_ZOOM else 0

    def array(self, level: int) -> np.ndarray:
        return self.half if level == 1 and self.half is not None else self.full

    def extent(self, level: int) -> tuple[float, float]:
        """(width, height) in full-resolution pixels that ``array(level)`` covers."""
        shown = self.array(level)
        scale = 2.0 if level == 1 and self.half is not None else 1.0
        return shown.shape[1] * scale, shown.shape[0] * scale


def load_for_display(job: Generator[Progress, None, Any]) -> Generator[Progress, None, tuple]:
    """Run a load job, then build the drawing pyramid too (still off the GUI thread)."""
    image = yield from job
    if isinstance(image, Radiograph):
        yield Progress("display", 1.0, "Preparing the display")
        return image, DisplayPyramid.build(image.pixels)
    return image, None

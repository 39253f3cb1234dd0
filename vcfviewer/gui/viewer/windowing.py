"""Window/level presets and the mouse-drag rule, kept free of Qt so they are tested as plain maths."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vcfviewer.core.image import Window

# Screen pixels of drag that double the width (horizontal) or move the centre by one width
# (vertical): slow enough for fine bone windows, fast enough to cross a 12-bit range in one swipe.
DRAG_PIXELS_PER_DOUBLING = 200.0
DRAG_PIXELS_PER_WIDTH = 250.0
MIN_WIDTH_FRACTION = 1e-4  # of the data range, so the window never collapses to zero


@dataclass(frozen=True)
class WindowPreset:
    """A named window; ``window`` None means "the image's own (header) window"."""

    key: str
    label: str
    window: Window | None = None


DEFAULT = WindowPreset("default", "Default (header)")
FULL_RANGE = WindowPreset("full", "Full range")
BONE = WindowPreset("bone", "Bone (W 1800 / L 400)", Window(center=400.0, width=1800.0))
SOFT_TISSUE = WindowPreset("soft", "Soft tissue (W 400 / L 40)", Window(center=40.0, width=400.0))

RADIOGRAPH_PRESETS: tuple[WindowPreset, ...] = (DEFAULT, FULL_RANGE)
CT_PRESETS: tuple[WindowPreset, ...] = (DEFAULT, BONE, SOFT_TISSUE, FULL_RANGE)


def presets_for(is_ct: bool) -> tuple[WindowPreset, ...]:
    """The presets offered for a CT plane or a radiograph."""
    return CT_PRESETS if is_ct else RADIOGRAPH_PRESETS


def resolve_preset(preset: WindowPreset, header: Window, data_range: tuple[float, float]) -> Window:
    """The concrete window a preset stands for on an image with this header window and range."""
    if preset.window is not None:
        return preset.window
    if preset.key == FULL_RANGE.key:
        return Window.from_range(*data_range)
    return header


def drag_window(
    window: Window, dx: float, dy: float, data_range: tuple[float, float]
) -> Window:
    """Window after a drag of (dx, dy) screen pixels: right widens, down raises the level (darker)."""
    low, high = data_range
    span = max(high - low, 1e-6)
    width = window.width * math.pow(2.0, dx / DRAG_PIXELS_PER_DOUBLING)
    width = min(max(width, span * MIN_WIDTH_FRACTION), span * 4.0)
    center = window.center + dy * window.width / DRAG_PIXELS_PER_WIDTH
    # Keep the centre within reach of the data so a wild drag cannot lose the image.
    center = min(max(center, low - span), high + span)
    return Window(center=center, width=width)

"""pyqtgraph is configured once, before any image item exists (ARCHITECTURE rule 12)."""

from __future__ import annotations

import pyqtgraph as pg

VIEW_BACKGROUND = "#050607"  # near black: the film, not the frame, should be the brightest thing

_configured = False


def configure_pyqtgraph() -> None:
    """Row-major images (array[row, column]) and antialiased overlays; safe to call repeatedly."""
    global _configured
    if _configured:
        return
    pg.setConfigOptions(
        imageAxisOrder="row-major",
        antialias=True,
        background=VIEW_BACKGROUND,
        foreground="#d8dde3",
    )
    _configured = True

"""The dark reading-room theme: Fusion style, a dark palette and ``resources/style/dark.qss``."""

from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from vcfviewer.paths import resources_dir

log = logging.getLogger(__name__)

_PALETTE = {
    QPalette.ColorRole.Window: "#1b1e23",
    QPalette.ColorRole.WindowText: "#d8dde3",
    QPalette.ColorRole.Base: "#14171b",
    QPalette.ColorRole.AlternateBase: "#1f2329",
    QPalette.ColorRole.ToolTipBase: "#2a2f36",
    QPalette.ColorRole.ToolTipText: "#e6e9ed",
    QPalette.ColorRole.Text: "#d8dde3",
    QPalette.ColorRole.Button: "#262a31",
    QPalette.ColorRole.ButtonText: "#d8dde3",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#2f6db5",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6fa8ff",
    QPalette.ColorRole.PlaceholderText: "#7d8590",
}


def stylesheet_text(name: str = "dark") -> str:
    """The stylesheet ``resources/style/<name>.qss``, or "" (with a log line) when missing."""
    path = resources_dir() / "style" / f"{name}.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        log.warning("stylesheet %s not found; using the plain palette", path.name)
        return ""


def dark_palette() -> QPalette:
    """Palette behind the stylesheet, so widgets the sheet does not mention are dark too."""
    palette = QPalette()
    for role, colour in _PALETTE.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5c636b"))
    return palette


def apply_theme(app: QApplication) -> None:
    """Fusion + dark palette + stylesheet + window icon."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(stylesheet_text())
    icon_path = resources_dir() / "icons" / "vcfviewer.svg"
    if icon_path.is_file():
        app.setWindowIcon(QIcon(str(icon_path)))

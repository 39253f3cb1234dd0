"""Adding a body the model missed: the reader clicks the six landmarks in order with a guide.

While the tool is active, left clicks on the image place the next point instead of selecting a
body; a guide over the image names the point to click next and shows the order on a small sketch.
The placed points are drawn numbered and joined. Undo (Ctrl+Z) takes back the last point;
Esc stops. Six points emit ``completed`` with the (6, 2) array in LANDMARK_NAMES order.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from vcfviewer.core.annotation import LANDMARK_NAMES
from vcfviewer.gui.viewer.overlay import OverlayLayer, points_item

PLACING_GROUP = "placing"
GUIDE_COLOUR = "#ff9f1a"
_HINTS = (
    "upper endplate, front corner",
    "upper endplate, middle",
    "upper endplate, back corner",
    "lower endplate, front corner",
    "lower endplate, middle",
    "lower endplate, back corner",
)
_SKETCH = "1 ── 2 ── 3   upper endplate, front → back\n│         │\n4 ── 5 ── 6   lower endplate, front → back"


def guide_text(placed: int) -> str:
    """The guide shown after ``placed`` points."""
    if placed >= len(LANDMARK_NAMES):
        return "All six points placed."
    step = placed + 1
    name = LANDMARK_NAMES[placed].replace("_", " ")
    return (f"Add body: click point {step} of 6, {name}\n({_HINTS[placed]})\n\n"
            f"{_SKETCH}\n\nCtrl+Z takes back the last point · Esc stops")


class AddBodyTool(QObject):
    """The six-click placement state machine and its on-image guide."""

    completed = Signal(object)  # np.ndarray (6, 2) [x, y]
    active_changed = Signal(bool)

    def __init__(self, layer: OverlayLayer, host: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._layer = layer
        self._points: list[tuple[float, float]] = []
        self._active = False
        self.level: str | None = None  # chosen in advance (tests, scripted use), else asked later
        self.guide = QLabel(host)
        self.guide.setObjectName("addBodyGuide")
        self.guide.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.guide.setStyleSheet(
            "QLabel#addBodyGuide { background: rgba(40, 28, 6, 225); color: #ffe2b0;"
            f" border: 1px solid {GUIDE_COLOUR}; border-radius: 4px; padding: 6px 10px;"
            " font-family: monospace; font-size: 10pt; }")
        self.guide.hide()
        self._host = host

    @property
    def active(self) -> bool:
        return self._active

    @property
    def points(self) -> np.ndarray:
        """The points placed so far, (n, 2)."""
        return np.array(self._points, dtype=float).reshape(-1, 2)

    def start(self, level: str | None = None) -> None:
        """Begin placing a new body (``level`` given now, or asked when the six are in)."""
        self._points = []
        self.level = level
        self._active = True
        self._refresh()
        self.active_changed.emit(True)

    def stop(self) -> None:
        """Leave the tool without adding anything."""
        if not self._active:
            return
        self._active = False
        self._points = []
        self._layer.clear(PLACING_GROUP)
        self.guide.hide()
        self.active_changed.emit(False)

    def add_point(self, x: float, y: float) -> None:
        """Place the next point; the sixth completes the body."""
        if not self._active:
            return
        self._points.append((float(x), float(y)))
        if len(self._points) == len(LANDMARK_NAMES):
            points = self.points
            self.stop()
            self.completed.emit(points)
            return
        self._refresh()

    def take_back(self) -> bool:
        """Remove the last placed point; False when none was placed."""
        if not self._active or not self._points:
            return False
        self._points.pop()
        self._refresh()
        return True

    def _refresh(self) -> None:
        items: list = []
        if self._points:
            pts = self.points
            order = [i for i in (0, 1, 2, 5, 4, 3) if i < len(pts)]
            path = pts[order]
            items.append(pg.PlotCurveItem(path[:, 0], path[:, 1],
                                          pen=pg.mkPen(QColor(GUIDE_COLOUR), width=1.5,
                                                       style=Qt.PenStyle.DashLine)))
            items.append(points_item(pts, GUIDE_COLOUR, size=10))
            for number, (x, y) in enumerate(pts, start=1):
                text = pg.TextItem(str(number), color=QColor("#000000"), anchor=(-0.3, 1.2),
                                   fill=pg.mkBrush(QColor(GUIDE_COLOUR)))
                text.setPos(x, y)
                items.append(text)
        self._layer.set_items(PLACING_GROUP, items)
        self.guide.setText(guide_text(len(self._points)))
        self.guide.adjustSize()
        # Bottom centre, above the corner texts: the column usually runs through the middle.
        self.guide.move(max((self._host.width() - self.guide.width()) // 2, 0),
                        max(self._host.height() - self.guide.height() - 40, 0))
        self.guide.show()
        self.guide.raise_()

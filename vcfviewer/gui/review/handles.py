"""Draggable landmark handles: six per body, one drag = one undo step.

All handles are ONE graphics item that paints small circles of constant screen size and finds the
landmark under the mouse itself: a film with twenty bodies has 120 handles, and 120 separate
items would cost a noticeable pause every time a new analysis is shown. A drag that starts away
from every landmark is ignored, so it reaches the view box and pans as usual.

The item reports the start, every move and the end of a drag (pyqtgraph's drag events); the review
controller turns them into ``ReviewSession.move_landmark(..., drag_id)`` calls and one
``end_drag()``. Moves only change the painted points, never rebuild anything, so the grab holds.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

from vcfviewer.core.annotation import LANDMARK_NAMES, StudyAnnotation
from vcfviewer.gui.viewer.overlay import OverlayLayer

HANDLE_GROUP = "handles"
HANDLE_COLOUR = "#00e5ff"
SELECTED_HANDLE_COLOUR = "#ffe14d"
HOVER_COLOUR = "#ffffff"
SMALL, LARGE = 3.5, 5.5  # radius in screen pixels: every body / the selected body
GRAB = 7.0  # a press this many screen pixels from a landmark grabs it


class HandleItem(pg.GraphicsObject):
    """Paints every landmark and turns drags near one into the owner's signals."""

    def __init__(self, owner: "HandleSet") -> None:
        super().__init__()
        self.owner = owner
        self.keys: list[tuple[str, int]] = []
        self.points = np.zeros((0, 2))
        self.selected: str | None = None
        self._bounds = QRectF()
        self._hover: int | None = None
        self._dragging: int | None = None
        self.setAcceptHoverEvents(True)

    def set_points(self, keys: list[tuple[str, int]], points: np.ndarray,
                   selected: str | None) -> None:
        """Show ``points`` (n, 2) [x, y] for ``keys`` (finding id, landmark index)."""
        self.keys, self.points, self.selected = keys, np.asarray(points, float), selected
        if len(self.points):
            low, high = self.points.min(axis=0), self.points.max(axis=0)
            bounds = QRectF(QPointF(*low), QPointF(*high)).adjusted(-1, -1, 1, 1)
        else:
            bounds = QRectF()
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        # The circles reach a few screen pixels beyond the points; at any zoom that is covered by
        # padding the points' box with the grab distance in item units.
        px, py = self._pixel()
        return self._bounds.adjusted(-GRAB * px, -GRAB * py, GRAB * px, GRAB * py)

    def _pixel(self) -> tuple[float, float]:
        vectors = self.pixelVectors()
        if vectors is None or vectors[0] is None:
            return 1.0, 1.0
        return max(abs(vectors[0].x()), 1e-6), max(abs(vectors[1].y()), 1e-6)

    def paint(self, painter: QPainter, *_args) -> None:
        """Circles of constant screen size: selected body large and yellow, hovered white."""
        if not len(self.points):
            return
        transform = painter.transform()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor("#000000"), 1.0))
        for i, ((fid, _), (x, y)) in enumerate(zip(self.keys, self.points, strict=True)):
            chosen = fid == self.selected
            colour = HOVER_COLOUR if i in (self._hover, self._dragging) else (
                SELECTED_HANDLE_COLOUR if chosen else HANDLE_COLOUR)
            painter.setBrush(QBrush(QColor(colour)))
            radius = LARGE if chosen else SMALL
            painter.drawEllipse(transform.map(QPointF(float(x), float(y))), radius, radius)
        painter.setTransform(transform)

    def nearest(self, x: float, y: float) -> int | None:
        """Index of the landmark within GRAB screen pixels of item point (x, y) (selected first)."""
        if not len(self.points):
            return None
        px, py = self._pixel()
        distance = np.hypot((self.points[:, 0] - x) / px, (self.points[:, 1] - y) / py)
        chosen = np.array([fid == self.selected for fid, _ in self.keys])
        distance = distance - np.where(chosen, LARGE - SMALL, 0.0)  # bigger circles win ties
        best = int(np.argmin(distance))
        return best if distance[best] <= GRAB else None

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        """Drag the landmark under the press; anything else goes on to the view box (pan)."""
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            down = ev.buttonDownPos()
            self._dragging = self.nearest(down.x(), down.y())
            if self._dragging is not None:
                self.owner.drag_started.emit(*self.keys[self._dragging])
        if self._dragging is None:
            ev.ignore()
            return
        ev.accept()
        fid, index = self.keys[self._dragging]
        point = ev.pos()
        self.owner.drag_moved.emit(fid, index, float(point.x()), float(point.y()))
        if ev.isFinish():
            self._dragging = None
            self.owner.drag_finished.emit(fid, index)

    def hoverEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        """Highlight the landmark a press would grab, and claim the left-button drag there."""
        hover = None if ev.isExit() else self.nearest(ev.pos().x(), ev.pos().y())
        if hover is not None:
            ev.acceptDrags(Qt.MouseButton.LeftButton)
        if hover != self._hover:
            self.setToolTip("" if hover is None else
                            LANDMARK_NAMES[self.keys[hover][1]].replace("_", " "))
            self._hover = hover
            self.setCursor(Qt.CursorShape.SizeAllCursor if hover is not None
                           else Qt.CursorShape.ArrowCursor)
            self.update()


class HandleSet(QObject):
    """The landmark handles of an annotation in the overlay group "handles"."""

    drag_started = Signal(str, int)  # finding id, landmark index
    drag_moved = Signal(str, int, float, float)  # ..., x, y in image pixels
    drag_finished = Signal(str, int)

    def __init__(self, layer: OverlayLayer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._layer = layer
        self.item = HandleItem(self)
        self.dragging = False
        self.drag_started.connect(self._on_drag_started)
        self.drag_finished.connect(self._on_drag_finished)

    def __len__(self) -> int:
        return len(self.item.keys)

    def position(self, finding_id: str, index: int) -> tuple[float, float]:
        """Where the handle of landmark ``index`` of body ``finding_id`` is drawn."""
        x, y = self.item.points[self.item.keys.index((finding_id, index))]
        return float(x), float(y)

    def clear(self) -> None:
        """No handles."""
        self.item.set_points([], np.zeros((0, 2)), None)

    def sync(self, annotation: StudyAnnotation | None, selected: str | None) -> None:
        """Handles at the annotation's landmarks (the item is put back if the view cleared it)."""
        if not any(item is self.item for item in self._layer.items(HANDLE_GROUP)):
            self._layer.set_items(HANDLE_GROUP, [self.item])
        findings = [] if annotation is None else [
            f for f in annotation.findings if f.landmarks is not None]
        keys = [(f.finding_id, i) for f in findings for i in range(len(LANDMARK_NAMES))]
        points = np.vstack([f.landmarks for f in findings]) if findings else np.zeros((0, 2))
        self.item.set_points(keys, points, selected)

    def _on_drag_started(self, _fid: str, _index: int) -> None:
        self.dragging = True

    def _on_drag_finished(self, _fid: str, _index: int) -> None:
        self.dragging = False

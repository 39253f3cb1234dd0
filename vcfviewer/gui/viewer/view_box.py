"""A pyqtgraph ViewBox with radiology mouse habits.

Right-drag (or Ctrl+left-drag) sets window/level, middle- or left-drag pans, the wheel zooms to
the cursor, a left click is announced (issue 6 selects a vertebra with it). Items drawn on top
(landmark handles) receive their own drags first; only what they ignore reaches this box.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal

import pyqtgraph as pg


def _is_window_drag(button: Qt.MouseButton, modifiers: Qt.KeyboardModifier) -> bool:
    if button == Qt.MouseButton.RightButton:
        return True
    return button == Qt.MouseButton.LeftButton and bool(
        modifiers & Qt.KeyboardModifier.ControlModifier
    )


class SpineViewBox(pg.ViewBox):
    """Image-pixel coordinates (x = column, y = row, row 0 at the top) with locked aspect."""

    window_drag_started = Signal()
    window_dragged = Signal(float, float)  # dx, dy in screen pixels since the last event
    window_drag_finished = Signal()
    clicked = Signal(QPointF, object)  # image coordinates, Qt.KeyboardModifier

    def __init__(self) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self.setMouseMode(pg.ViewBox.PanMode)
        self.disableAutoRange()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - Qt override
        if _is_window_drag(ev.button(), ev.modifiers()):
            ev.accept()
            if ev.isStart():
                self.window_drag_started.emit()
            delta = ev.screenPos() - ev.lastScreenPos()
            if delta.x() or delta.y():
                self.window_dragged.emit(float(delta.x()), float(delta.y()))
            if ev.isFinish():
                self.window_drag_finished.emit()
            return
        if ev.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan(ev)
            return
        ev.ignore()

    def _pan(self, ev) -> None:
        ev.accept()
        last = self.mapToView(ev.lastPos())
        now = self.mapToView(ev.pos())
        shift = last - now
        self.translateBy(x=shift.x(), y=shift.y())

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - Qt override
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapSceneToView(ev.scenePos()), ev.modifiers())
            return
        # The right button belongs to window/level; no context menu pops up after a drag.
        ev.accept()

"""Draggable landmark handles: six per body, one drag = one undo step.

A handle reports the start, every move and the end of a drag (pyqtgraph's drag events); the
review controller turns them into ``ReviewSession.move_landmark(..., drag_id)`` calls and one
``end_drag()``. Handles are moved in place when the annotation changes, never rebuilt during a
drag, so the handle under the mouse keeps its grab.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor

import pyqtgraph as pg

from vcfviewer.core.annotation import LANDMARK_NAMES, StudyAnnotation
from vcfviewer.gui.viewer.overlay import OverlayLayer

HANDLE_GROUP = "handles"
HANDLE_COLOUR = "#00e5ff"
SELECTED_HANDLE_COLOUR = "#ffe14d"
SMALL, LARGE = 7, 11  # screen pixels: every body / the selected body


class LandmarkHandle(pg.TargetItem):
    """One landmark of one body; emits through its ``HandleSet``."""

    def __init__(self, owner: "HandleSet", finding_id: str, index: int, x: float, y: float
                 ) -> None:
        super().__init__(pos=(x, y), size=SMALL, symbol="o", pen=pg.mkPen("#000000", width=1),
                         brush=pg.mkBrush(QColor(HANDLE_COLOUR)),
                         hoverPen=pg.mkPen("#ffffff", width=2),
                         hoverBrush=pg.mkBrush(QColor(SELECTED_HANDLE_COLOUR)))
        self.owner = owner
        self.finding_id = finding_id
        self.index = index
        self.setToolTip(LANDMARK_NAMES[index].replace("_", " "))
        self._dragging = False

    def set_emphasis(self, selected: bool) -> None:
        """Larger and yellow on the selected body."""
        self.scale = LARGE if selected else SMALL
        self.setBrush(pg.mkBrush(QColor(SELECTED_HANDLE_COLOUR if selected else HANDLE_COLOUR)))
        self._shape = None
        self.prepareGeometryChange()
        self.update()

    def place(self, x: float, y: float) -> None:
        """Move without announcing it (the annotation already has this point)."""
        self.blockSignals(True)
        try:
            self.setPos(QPointF(float(x), float(y)))
        finally:
            self.blockSignals(False)

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self._dragging = True
            self.owner.drag_started.emit(self.finding_id, self.index)
        if not self._dragging:
            return
        point = self.mapToView(ev.pos())
        self.owner.drag_moved.emit(self.finding_id, self.index, float(point.x()),
                                   float(point.y()))
        if ev.isFinish():
            self._dragging = False
            self.owner.drag_finished.emit(self.finding_id, self.index)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        ev.ignore()  # a click on a handle selects its body, like a click anywhere on it


class HandleSet(QObject):
    """All handles of an annotation in the overlay group "handles"."""

    drag_started = Signal(str, int)  # finding id, landmark index
    drag_moved = Signal(str, int, float, float)  # ..., x, y in image pixels
    drag_finished = Signal(str, int)

    def __init__(self, layer: OverlayLayer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._layer = layer
        self._handles: dict[tuple[str, int], LandmarkHandle] = {}
        self._selected: str | None = None
        self.dragging = False
        self.drag_started.connect(self._on_drag_started)
        self.drag_finished.connect(self._on_drag_finished)

    def handle(self, finding_id: str, index: int) -> LandmarkHandle:
        """The handle of landmark ``index`` of body ``finding_id`` (KeyError when absent)."""
        return self._handles[(finding_id, index)]

    def __len__(self) -> int:
        return len(self._handles)

    def clear(self) -> None:
        """Remove every handle."""
        self._handles = {}
        self._layer.clear(HANDLE_GROUP)

    def sync(self, annotation: StudyAnnotation | None, selected: str | None) -> None:
        """Handles at the annotation's landmarks; moved in place when the bodies are the same."""
        wanted = {} if annotation is None else {
            (f.finding_id, i): (float(x), float(y))
            for f in annotation.findings if f.landmarks is not None
            for i, (x, y) in enumerate(f.landmarks)
        }
        if set(wanted) != set(self._handles) and not self.dragging:
            self._handles = {key: LandmarkHandle(self, key[0], key[1], *xy)
                             for key, xy in wanted.items()}
            self._layer.set_items(HANDLE_GROUP, list(self._handles.values()))
            self._selected = None
            for handle in self._handles.values():
                handle.set_emphasis(False)
        for key, xy in wanted.items():
            handle = self._handles.get(key)
            if handle is not None and (handle.pos().x(), handle.pos().y()) != xy:
                handle.place(*xy)
        if selected != self._selected:
            for (fid, _), handle in self._handles.items():
                if fid in (selected, self._selected):
                    handle.set_emphasis(fid == selected)
            self._selected = selected

    def _on_drag_started(self, _fid: str, _index: int) -> None:
        self.dragging = True

    def _on_drag_finished(self, _fid: str, _index: int) -> None:
        self.dragging = False

"""The overlay layer: named groups of graphics items drawn over the image in image pixels.

Issue 6 fills it: one group per kind of mark ("masks", "labels", "landmarks", "heights", ...),
each replaced as a whole when the annotation changes, toggled and faded per group. Items are
positioned in source-image pixels (x = column, y = row), the coordinates of ``core.annotation``,
so no drawing code ever converts to millimetres. The small factories below make the common items
with settings that stay readable at any zoom (cosmetic pens, text in screen pixels).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

OVERLAY_Z = 10.0  # image sits at 0; groups stack above it in the order they were created


class OverlayLayer(QObject):
    """Named, independently visible groups of items on top of the image."""

    changed = Signal(str)  # group name

    def __init__(self, view_box: pg.ViewBox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view_box = view_box
        self._groups: dict[str, pg.ItemGroup] = {}
        self._items: dict[str, list[QGraphicsItem]] = {}

    def _group(self, name: str) -> pg.ItemGroup:
        group = self._groups.get(name)
        if group is None:
            group = pg.ItemGroup()
            group.setZValue(OVERLAY_Z + len(self._groups))
            self._view_box.addItem(group, ignoreBounds=True)
            self._groups[name] = group
            self._items[name] = []
        return group

    def set_items(self, name: str, items: Iterable[QGraphicsItem]) -> None:
        """Replace everything in group ``name`` with ``items`` (image-pixel coordinates)."""
        group = self._group(name)
        self._remove_items(name)
        kept = list(items)
        for item in kept:
            item.setParentItem(group)
        self._items[name] = kept
        self.changed.emit(name)

    def add_item(self, name: str, item: QGraphicsItem) -> None:
        """Add one item to group ``name`` (e.g. a handle while the reader places points)."""
        item.setParentItem(self._group(name))
        self._items[name].append(item)
        self.changed.emit(name)

    def items(self, name: str) -> list[QGraphicsItem]:
        """The items currently in group ``name`` (empty when it does not exist)."""
        return list(self._items.get(name, []))

    def groups(self) -> list[str]:
        """Group names, bottom to top."""
        return list(self._groups)

    def clear(self, name: str | None = None) -> None:
        """Empty one group, or every group when ``name`` is None (groups keep visibility/opacity)."""
        for group_name in [name] if name is not None else list(self._groups):
            if group_name in self._groups:
                self._remove_items(group_name)
                self.changed.emit(group_name)

    def set_visible(self, name: str, visible: bool) -> None:
        """Show or hide a whole group (a toggle key in the GUI)."""
        self._group(name).setVisible(visible)

    def is_visible(self, name: str) -> bool:
        group = self._groups.get(name)
        return bool(group is not None and group.isVisible())

    def set_opacity(self, name: str, opacity: float) -> None:
        """Fade a whole group; 0 is invisible, 1 opaque."""
        self._group(name).setOpacity(float(min(max(opacity, 0.0), 1.0)))

    def opacity(self, name: str) -> float:
        group = self._groups.get(name)
        return float(group.opacity()) if group is not None else 1.0

    def _remove_items(self, name: str) -> None:
        scene = self._view_box.scene()
        for item in self._items.get(name, []):
            item.setParentItem(None)
            if scene is not None and item.scene() is scene:
                scene.removeItem(item)
        self._items[name] = []


def mask_item(array: np.ndarray, top: int, left: int, color: QColor | str, alpha: float = 0.35
              ) -> pg.ImageItem:
    """A boolean mask (bounding-box crop at row ``top``, column ``left``) as a tinted image."""
    rgba = np.zeros(array.shape + (4,), dtype=np.uint8)
    qcolor = QColor(color)
    rgba[array.astype(bool)] = (qcolor.red(), qcolor.green(), qcolor.blue(), int(255 * alpha))
    item = pg.ImageItem(rgba, levels=(0, 255))
    item.setPos(float(left), float(top))
    return item


def label_item(text: str, x: float, y: float, color: QColor | str = "#ffffff",
               anchor: tuple[float, float] = (0.0, 0.5)) -> pg.TextItem:
    """Text anchored at image point (x, y); its size stays the same on screen at any zoom."""
    item = pg.TextItem(text=text, color=QColor(color), anchor=anchor, fill=pg.mkBrush(0, 0, 0, 150))
    item.setPos(float(x), float(y))
    return item


def polyline_item(points: Sequence[Sequence[float]], color: QColor | str, width: float = 1.5,
                  closed: bool = False) -> pg.PlotCurveItem:
    """A line through image points [[x, y], ...] with a pen that keeps its width on screen."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if closed and len(pts) > 1:
        pts = np.vstack([pts, pts[:1]])
    return pg.PlotCurveItem(pts[:, 0], pts[:, 1], pen=pg.mkPen(QColor(color), width=width))


def points_item(points: Sequence[Sequence[float]], color: QColor | str, size: float = 8.0
                ) -> pg.ScatterPlotItem:
    """Markers at image points [[x, y], ...], sized in screen pixels."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    return pg.ScatterPlotItem(
        pts[:, 0], pts[:, 1], size=size, pen=pg.mkPen("#000000", width=1), brush=pg.mkBrush(QColor(color))
    )

"""The central image view: one radiograph, or the sagittal planes of a CT volume.

Pixels are drawn with explicit levels (never per-frame auto-levels) in image-pixel coordinates
(x = column, y = row); the view box locks the aspect to the pixel spacing so anisotropic CT
reformats look anatomically right while overlays stay in source pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from vcfviewer.core.image import Radiograph, Volume, Window
from vcfviewer.gui.viewer import windowing
from vcfviewer.gui.viewer.corner_text import CornerText
from vcfviewer.gui.viewer.display_pyramid import DisplayPyramid
from vcfviewer.gui.viewer.overlay import OverlayLayer
from vcfviewer.gui.viewer.pg_setup import VIEW_BACKGROUND, configure_pyqtgraph
from vcfviewer.gui.viewer.view_box import SpineViewBox

_INVERTED_LUT = np.arange(255, -1, -1, dtype=np.uint8)
FIT_PADDING = 0.02


@dataclass(frozen=True)
class CursorInfo:
    """What lies under the mouse: image pixel, its value, and the position in mm when known."""

    x: float
    y: float
    row: int
    column: int
    value: float
    units: str  # "HU" for CT, "" for radiograph stored values
    x_mm: float | None
    y_mm: float | None


def _data_range(values: np.ndarray) -> tuple[float, float]:
    """Min/max of a strided sample: cheap on whole films and volumes, close enough for a preset."""
    step = max(1, int(round((values.size / 2_000_000) ** (1 / values.ndim))))
    sample = values[(slice(None, None, step),) * values.ndim]
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low, high) if high > low else (low, low + 1.0)


class ImageView(QWidget):
    """Radiograph/CT viewer with window/level, zoom, pan, invert, planes and an overlay layer."""

    window_changed = Signal(object)  # Window
    cursor_moved = Signal(object)  # CursorInfo, or None outside the image
    plane_changed = Signal(int)  # sagittal plane index (CT only)
    image_shown = Signal(object)  # the Radiograph now on screen (new image or new plane)
    clicked = Signal(QPointF, object)  # image coordinates, keyboard modifiers
    view_changed = Signal()  # zoom or pan

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.graphics = pg.GraphicsView(background=VIEW_BACKGROUND)
        self.graphics.setObjectName("imageGraphics")
        # Interpolate when magnified, like reading workstations, and filter when minified.
        self.graphics.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.view_box = SpineViewBox()
        self.graphics.setCentralItem(self.view_box)
        self.image_item = pg.ImageItem()
        self.image_item.setZValue(0)
        self.view_box.addItem(self.image_item)
        self.overlay = OverlayLayer(self.view_box, self)
        self.corners = CornerText(self.graphics)
        self._build_plane_bar()
        self._layout()
        self._reset_state()
        self._connect()
        self._show_placeholder(True)

    # ----------------------------------------------------------------- construction
    def _build_plane_bar(self) -> None:
        self.plane_bar = QWidget(self)
        self.plane_bar.setObjectName("planeBar")
        self.plane_slider = QSlider(Qt.Orientation.Horizontal, self.plane_bar)
        self.plane_slider.setObjectName("planeSlider")
        self.plane_slider.setToolTip("Sagittal plane (PageUp / PageDown)")
        self.plane_label = QLabel(self.plane_bar)
        self.plane_label.setObjectName("planeLabel")
        self.plane_label.setMinimumWidth(150)
        row = QHBoxLayout(self.plane_bar)
        row.setContentsMargins(10, 4, 10, 4)
        row.addWidget(QLabel("Sagittal plane", self.plane_bar))
        row.addWidget(self.plane_slider, 1)
        row.addWidget(self.plane_label)
        self.plane_bar.hide()

    def _layout(self) -> None:
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.graphics, 1)
        column.addWidget(self.plane_bar)

    def _reset_state(self) -> None:
        self._radiograph: Radiograph | None = None
        self._volume: Volume | None = None
        self._plane_index = 0
        self._plane_count = 0
        self._header_window = Window(0.5, 1.0)
        self._window = self._header_window
        self._data_range = (0.0, 1.0)
        self._inverted = False
        self._title = ""
        self._last_cursor: CursorInfo | None = None
        self._pyramid: DisplayPyramid | None = None
        self._level = -1
        self._plane_note = ""

    def _connect(self) -> None:
        vb = self.view_box
        vb.window_dragged.connect(self._on_view_box_window_dragged)
        vb.clicked.connect(self.clicked)
        vb.sigRangeChanged.connect(self._on_view_box_range_changed)
        self.graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self.plane_slider.valueChanged.connect(self._on_plane_slider_value_changed)

    # ----------------------------------------------------------------- showing images
    @property
    def radiograph(self) -> Radiograph | None:
        """The 2-D image on screen (for CT: the current sagittal plane)."""
        return self._radiograph

    @property
    def volume(self) -> Volume | None:
        return self._volume

    @property
    def is_ct(self) -> bool:
        return self._volume is not None

    def show_radiograph(self, radiograph: Radiograph, title: str = "",
                        pyramid: DisplayPyramid | None = None) -> None:
        """Show a radiograph at its header window, fitted, with overlays cleared.

        ``pyramid`` is the drawing copy built off the GUI thread (``load_for_display``); it is
        built here when missing.
        """
        self._volume = None
        self._plane_count = 0
        self.plane_bar.hide()
        self._header_window = radiograph.window
        self._data_range = _data_range(radiograph.pixels)
        if pyramid is None or pyramid.full is not radiograph.pixels:
            pyramid = DisplayPyramid.build(radiograph.pixels)
        self._start_new_image(radiograph, title, radiograph.window, pyramid)

    def show_volume(self, volume: Volume, title: str = "", plane: int | None = None) -> None:
        """Show a CT/NIfTI volume as sagittal planes, starting mid-sagittal in its bone window."""
        from vcfviewer.core import reformat  # numpy-only; imported here to keep start-up light

        self._volume = volume
        self._plane_count = int(reformat.sagittal_count(volume))
        index = reformat.mid_sagittal_index(volume) if plane is None else plane
        self._plane_index = int(min(max(index, 0), self._plane_count - 1))
        first = reformat.sagittal_plane(volume, self._plane_index)
        self._header_window = volume.window
        self._data_range = _data_range(volume.voxels)
        self._configure_plane_slider()
        self.plane_bar.show()
        self._start_new_image(first, title, first.window, DisplayPyramid(first.pixels))

    def clear(self) -> None:
        """Back to the empty view."""
        self.overlay.clear()
        self.image_item.clear()
        self._reset_state()
        self.plane_bar.hide()
        self._show_placeholder(True)

    def _start_new_image(self, radiograph: Radiograph, title: str, window: Window,
                         pyramid: DisplayPyramid) -> None:
        self.overlay.clear()
        self._inverted = False
        self._plane_note = ""
        self.image_item.setLookupTable(None)
        self._title = title
        self._window = window
        self._show_placeholder(False)
        self._level = -1  # nothing drawn yet: range changes while fitting must not draw
        self._radiograph = radiograph
        self.view_box.setAspectLocked(True, ratio=self._aspect_ratio(radiograph))
        self.fit()  # first, so the drawing level is chosen for the zoom the reader will see
        self._display(radiograph, pyramid)
        self.window_changed.emit(self._window)

    def _display(self, radiograph: Radiograph, pyramid: DisplayPyramid) -> None:
        self._radiograph = radiograph
        self._pyramid = pyramid
        self.view_box.setAspectLocked(True, ratio=self._aspect_ratio(radiograph))
        self._draw_level(pyramid.level_for(self.zoom(), current=0))
        self._update_corners()
        self.image_shown.emit(radiograph)

    def _draw_level(self, level: int) -> None:
        pyramid = self._pyramid
        self.image_item.setImage(
            pyramid.array(level), autoLevels=False, levels=(self._window.low, self._window.high)
        )
        width, height = pyramid.extent(level)
        # The drawn array may be half size; its rectangle stays in full-resolution pixels so
        # overlays and the cursor never see the difference.
        self.image_item.setRect(QRectF(0.0, 0.0, width, height))
        self._level = level

    @property
    def drawing_level(self) -> int:
        """0 when the full array is drawn, 1 for the half-resolution copy (zoomed out)."""
        return self._level

    @staticmethod
    def _aspect_ratio(radiograph: Radiograph) -> float:
        # pyqtgraph's ratio is x-scale / y-scale in screen pixels per unit; one mm must look the
        # same both ways, so a column (x) gets spacing_x / spacing_y times a row's screen size.
        if radiograph.spacing_mm is None:
            return 1.0
        row_mm, col_mm = radiograph.spacing_mm
        return float(col_mm / row_mm)

    def _show_placeholder(self, show: bool) -> None:
        self.corners.set_placeholder(
            "Open a study: File ▸ Open folder (Ctrl+O) or File ▸ Open file,\n"
            "or drop a folder or file here." if show else ""
        )

    # ----------------------------------------------------------------- window / level
    @property
    def window(self) -> Window:
        return self._window

    @property
    def header_window(self) -> Window:
        return self._header_window

    @property
    def data_range(self) -> tuple[float, float]:
        return self._data_range

    def set_window(self, window: Window) -> None:
        """Apply a window (stored values, HU for CT) with explicit levels."""
        self._window = window
        if self._radiograph is not None:
            self.image_item.setLevels((window.low, window.high))
        self._update_corners()
        self.window_changed.emit(window)

    def presets(self) -> tuple[windowing.WindowPreset, ...]:
        """Window presets that make sense for what is on screen."""
        return windowing.presets_for(self.is_ct)

    def apply_preset(self, key: str) -> bool:
        """Apply the preset named ``key``; False when it does not apply to this image."""
        for preset in self.presets():
            if preset.key == key:
                self.set_window(
                    windowing.resolve_preset(preset, self._header_window, self._data_range)
                )
                return True
        return False

    @Slot(float, float)
    def _on_view_box_window_dragged(self, dx: float, dy: float) -> None:
        if self._radiograph is not None:
            self.set_window(windowing.drag_window(self._window, dx, dy, self._data_range))

    # ----------------------------------------------------------------- invert
    @property
    def inverted(self) -> bool:
        return self._inverted

    def set_inverted(self, inverted: bool) -> None:
        """Show bone dark (True) or bright (False) without touching the window."""
        self._inverted = bool(inverted)
        self.image_item.setLookupTable(_INVERTED_LUT if self._inverted else None)
        self._update_corners()

    def toggle_inverted(self) -> None:
        self.set_inverted(not self._inverted)

    # ----------------------------------------------------------------- zoom / pan
    def image_rect(self) -> QRectF:
        """The image's extent in view coordinates (pixels)."""
        if self._radiograph is None:
            return QRectF(0, 0, 1, 1)
        return QRectF(0, 0, self._radiograph.columns, self._radiograph.rows)

    def fit(self) -> None:
        """Whole image in the window."""
        self.view_box.setRange(rect=self.image_rect(), padding=FIT_PADDING)

    def actual_size(self) -> None:
        """One image column per screen pixel, centred where the view is centred now."""
        rect = self.view_box.viewRect()
        width, height = self.view_box.width(), self.view_box.height()
        if width <= 0 or height <= 0:
            return
        ratio = self._aspect_ratio(self._radiograph) if self._radiograph is not None else 1.0
        center = rect.center()
        half_w, half_h = width / 2.0, height * ratio / 2.0
        self.view_box.setRange(
            xRange=(center.x() - half_w, center.x() + half_w),
            yRange=(center.y() - half_h, center.y() + half_h),
            padding=0.0,
        )

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out around the centre of the view."""
        if factor > 0:
            self.view_box.scaleBy(s=(1.0 / factor, 1.0 / factor))

    def zoom(self) -> float:
        """Screen pixels per image column (1.0 = 1:1)."""
        size_x, _ = self.view_box.viewPixelSize()
        return 1.0 / size_x if size_x > 0 else 1.0

    def reset(self) -> None:
        """Header window, not inverted, fitted."""
        self.set_inverted(False)
        start = self._radiograph.window if self.is_ct and self._radiograph else self._header_window
        self.set_window(start)
        self.fit()

    @Slot()
    def _on_view_box_range_changed(self) -> None:
        if self._pyramid is not None and self._level >= 0:
            level = self._pyramid.level_for(self.zoom(), self._level)
            if level != self._level:
                self._draw_level(level)
        self._update_corners()
        self.view_changed.emit()

    # ----------------------------------------------------------------- CT planes
    @property
    def plane_index(self) -> int:
        return self._plane_index

    @property
    def plane_count(self) -> int:
        return self._plane_count

    def set_plane(self, index: int) -> None:
        """Show sagittal plane ``index`` (clamped), keeping window, zoom and pan."""
        if self._volume is None:
            return
        from vcfviewer.core import reformat

        index = int(min(max(index, 0), self._plane_count - 1))
        if index == self._plane_index and self._radiograph is not None:
            return
        self._plane_index = index
        plane = reformat.sagittal_plane(self._volume, index)
        self._display(plane, DisplayPyramid(plane.pixels))
        self._sync_plane_slider()
        self.plane_changed.emit(index)

    def step_plane(self, delta: int) -> None:
        """Move ``delta`` planes (positive = towards higher indices)."""
        self.set_plane(self._plane_index + delta)

    def _configure_plane_slider(self) -> None:
        self.plane_slider.blockSignals(True)
        self.plane_slider.setRange(0, max(self._plane_count - 1, 0))
        self.plane_slider.setPageStep(10)
        self.plane_slider.blockSignals(False)
        self._sync_plane_slider()

    def _sync_plane_slider(self) -> None:
        self.plane_slider.blockSignals(True)
        self.plane_slider.setValue(self._plane_index)
        self.plane_slider.blockSignals(False)
        self.plane_label.setText(f"{self._plane_index + 1} / {self._plane_count}")

    @Slot(int)
    def _on_plane_slider_value_changed(self, value: int) -> None:
        self.set_plane(value)

    # ----------------------------------------------------------------- cursor
    @Slot(object)
    def _on_scene_mouse_moved(self, scene_pos: QPointF) -> None:
        info = None
        if self._radiograph is not None and self.view_box.sceneBoundingRect().contains(scene_pos):
            point = self.view_box.mapSceneToView(scene_pos)
            info = self.cursor_info(point.x(), point.y())
        if info != self._last_cursor:
            self._last_cursor = info
            self.cursor_moved.emit(info)

    def cursor_info(self, x: float, y: float) -> CursorInfo | None:
        """Value and position at image point (x, y), or None outside the image."""
        image = self._radiograph
        if image is None:
            return None
        column, row = int(math.floor(x)), int(math.floor(y))
        if not (0 <= row < image.rows and 0 <= column < image.columns):
            return None
        x_mm = y_mm = None
        if image.spacing_mm is not None:
            y_mm, x_mm = y * image.spacing_mm[0], x * image.spacing_mm[1]
        units = self._volume.units if self._volume is not None else ""
        value = float(image.pixels[row, column])
        return CursorInfo(x, y, row, column, value, units, x_mm, y_mm)

    # ----------------------------------------------------------------- corner text
    def set_title(self, title: str) -> None:
        """Top-left caption (series description, modality): never the patient's name."""
        self._title = title
        self._update_corners()

    def _update_corners(self) -> None:
        image = self._radiograph
        if image is None:
            self.corners.set_texts("", "", "", "")
            return
        self.corners.set_texts(
            top_left=f"{self._title}\n{image.columns} × {image.rows} px".strip(),
            top_right=self._plane_text(),
            bottom_left=self._window_text(),
            bottom_right=self._spacing_text(image),
        )

    def _window_text(self) -> str:
        win = self._window
        text = f"W {win.width:.0f}   L {win.center:.0f}   Zoom {self.zoom() * 100:.0f}%"
        return text + ("   Inverted" if self._inverted else "")

    def set_plane_note(self, note: str) -> None:
        """A line under "Sagittal n / m" about this plane (the review: bodies measured on it)."""
        if note != self._plane_note:
            self._plane_note = note
            self._update_corners()

    @property
    def plane_note(self) -> str:
        return self._plane_note

    def _plane_text(self) -> str:
        if self._volume is None:
            return ""
        text = f"Sagittal {self._plane_index + 1} / {self._plane_count}"
        return f"{text}\n{self._plane_note}" if self._plane_note else text

    @staticmethod
    def _spacing_text(image: Radiograph) -> str:
        if image.spacing_mm is None:
            return "No pixel spacing: ratios only"
        row_mm, col_mm = image.spacing_mm
        return f"{col_mm:.3g} × {row_mm:.3g} mm/px ({image.spacing_source.value})"

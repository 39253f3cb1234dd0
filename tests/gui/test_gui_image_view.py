"""The image view on its own: window/level by drag and preset, zoom, fit, 1:1, invert, aspect, CT planes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from vcfviewer.core.image import Radiograph, SourceRef, SpacingSource, Volume, Window
from vcfviewer.gui.viewer import overlay as ov
from vcfviewer.gui.viewer.image_view import ImageView


def make_radiograph(rows: int = 120, cols: int = 80, spacing=(0.2, 0.2)) -> Radiograph:
    pixels = np.tile(np.linspace(0, 4000, cols, dtype=np.float32), (rows, 1))
    pixels[10, 7] = 1234.0
    source = SpacingSource.PIXEL_SPACING if spacing else SpacingSource.NONE
    return Radiograph(pixels, spacing, source, Window(2000.0, 4000.0), SourceRef("mem.dcm"))


def make_volume() -> Volume:
    """(slice z, row y, column x) = (10, 16, 12); HU; axial, 1 mm voxels."""
    voxels = np.full((10, 16, 12), -1000.0, dtype=np.float32)
    voxels[:, 4:12, 3:9] = 50.0
    voxels[:, 8:11, 5:7] = 800.0
    return Volume(voxels, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3), Window(40.0, 400.0),
                  SourceRef("ct/"))


@pytest.fixture
def view(qtbot) -> ImageView:
    widget = ImageView()
    qtbot.addWidget(widget)
    widget.resize(500, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def send_mouse(widget, kind: QEvent.Type, pos: QPoint, button: Qt.MouseButton,
               buttons: Qt.MouseButton, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    point = QPointF(pos)
    event = QMouseEvent(kind, point, widget.mapToGlobal(point), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(view: ImageView, start: QPoint, end: QPoint, button: Qt.MouseButton,
         modifiers=Qt.KeyboardModifier.NoModifier, steps: int = 5) -> None:
    viewport = view.graphics.viewport()
    send_mouse(viewport, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for i in range(1, steps + 1):
        QTest.qWait(12)  # pyqtgraph drops moves closer than 10 ms (mouseRateLimit)
        pos = start + (end - start) * i / steps
        send_mouse(viewport, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, button,
                   modifiers)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton,
               modifiers)


def test_shows_radiograph_with_explicit_header_levels(view: ImageView) -> None:
    view.show_radiograph(make_radiograph(), "DX · LAT")
    assert view.window == Window(2000.0, 4000.0)
    assert tuple(view.image_item.getLevels()) == pytest.approx((0.0, 4000.0))
    assert view.corners.text("bottom_left").startswith("W 4000   L 2000")
    assert "0.2 × 0.2 mm/px" in view.corners.text("bottom_right")
    assert not view.plane_bar.isVisibleTo(view)


def test_right_drag_changes_window_and_levels(view: ImageView, qtbot) -> None:
    view.show_radiograph(make_radiograph())
    before = view.window
    centre = view.graphics.viewport().rect().center()
    drag(view, centre, centre + QPoint(100, 0), Qt.MouseButton.RightButton)
    # 100 px right = half a doubling: width × 2 ** 0.5, centre unchanged
    assert view.window.width == pytest.approx(before.width * 2 ** 0.5, rel=1e-6)
    assert view.window.center == pytest.approx(before.center)
    drag(view, centre, centre + QPoint(0, 50), Qt.MouseButton.RightButton)
    assert view.window.center > before.center  # down = higher level
    assert tuple(view.image_item.getLevels()) == pytest.approx((view.window.low, view.window.high))


def test_ctrl_left_drag_is_window_level_plain_left_drag_pans(view: ImageView) -> None:
    view.show_radiograph(make_radiograph())
    before_window, before_rect = view.window, view.view_box.viewRect()
    centre = view.graphics.viewport().rect().center()
    drag(view, centre, centre + QPoint(60, 0), Qt.MouseButton.LeftButton,
         Qt.KeyboardModifier.ControlModifier)
    assert view.window.width > before_window.width
    assert view.view_box.viewRect() == before_rect
    drag(view, centre, centre + QPoint(40, 0), Qt.MouseButton.MiddleButton)
    assert view.view_box.viewRect().left() < before_rect.left()  # image moved right


def test_presets_fit_zoom_and_one_to_one(view: ImageView) -> None:
    view.show_radiograph(make_radiograph())
    assert view.apply_preset("full")
    assert (view.window.low, view.window.high) == pytest.approx((0.0, 4000.0))
    assert not view.apply_preset("bone")  # CT-only preset refused on a radiograph
    view.set_window(Window(100.0, 50.0))
    assert view.apply_preset("default") and view.window == Window(2000.0, 4000.0)
    fitted = view.zoom()
    view.zoom_by(2.0)
    assert view.zoom() == pytest.approx(2 * fitted, rel=1e-3)
    view.actual_size()
    assert view.zoom() == pytest.approx(1.0, rel=1e-3)
    view.fit()
    assert view.zoom() == pytest.approx(fitted, rel=1e-3)
    rect = view.view_box.viewRect()
    assert rect.contains(QRectF(0, 0, 80, 120))


def test_wheel_zooms_around_the_cursor(view: ImageView) -> None:
    view.show_radiograph(make_radiograph())
    viewport = view.graphics.viewport()
    pos = QPointF(viewport.width() * 0.3, viewport.height() * 0.4)
    under_before = view.view_box.mapSceneToView(view.graphics.mapToScene(pos.toPoint()))
    zoom_before = view.zoom()
    wheel = QWheelEvent(pos, viewport.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    under_after = view.view_box.mapSceneToView(view.graphics.mapToScene(pos.toPoint()))
    assert view.zoom() > zoom_before * 1.1
    assert under_after.x() == pytest.approx(under_before.x(), abs=0.6)
    assert under_after.y() == pytest.approx(under_before.y(), abs=0.6)


def test_invert_uses_a_reversed_lookup_table_and_reset_clears_it(view: ImageView) -> None:
    view.show_radiograph(make_radiograph())
    view.set_inverted(True)
    assert view.inverted and view.image_item.lut is not None
    assert int(view.image_item.lut[0]) == 255 and int(view.image_item.lut[-1]) == 0
    assert "Inverted" in view.corners.text("bottom_left")
    view.set_window(Window(10.0, 5.0))
    view.zoom_by(3.0)
    view.reset()
    assert not view.inverted and view.image_item.lut is None
    assert view.window == Window(2000.0, 4000.0)


def test_anisotropic_spacing_keeps_millimetres_square(view: ImageView) -> None:
    view.show_radiograph(make_radiograph(rows=100, cols=100, spacing=(0.4, 0.2)))
    corner = view.view_box.mapViewToScene(QPointF(100, 100))
    origin = view.view_box.mapViewToScene(QPointF(0, 0))
    width, height = corner.x() - origin.x(), corner.y() - origin.y()
    # 100 columns × 0.2 mm = 20 mm wide, 100 rows × 0.4 mm = 40 mm tall
    assert height / width == pytest.approx(2.0, rel=1e-3)


def test_cursor_reports_value_and_millimetres(view: ImageView) -> None:
    view.show_radiograph(make_radiograph())
    info = view.cursor_info(7.5, 10.25)
    assert (info.row, info.column, info.value) == (10, 7, 1234.0)
    assert (info.x_mm, info.y_mm) == pytest.approx((1.5, 2.05))
    assert view.cursor_info(-0.5, 3.0) is None and view.cursor_info(80.0, 3.0) is None
    view.show_radiograph(make_radiograph(spacing=None))
    info = view.cursor_info(7.5, 10.25)
    assert info.x_mm is None and info.units == ""
    assert view.corners.text("bottom_right") == "No pixel spacing: ratios only"


def test_ct_planes_scroll_and_keep_the_window(view: ImageView, qtbot) -> None:
    volume = make_volume()
    view.show_volume(volume, "CT")
    assert view.is_ct and view.plane_count == 12 and view.plane_bar.isVisibleTo(view)
    assert view.window == Window(400.0, 1800.0)  # the reformat's bone window
    assert view.apply_preset("soft") and view.window == Window(40.0, 400.0)
    start = view.plane_index
    with qtbot.waitSignal(view.plane_changed) as blocker:
        view.step_plane(-3)
    assert blocker.args == [start - 3] and view.plane_slider.value() == start - 3
    view.plane_slider.setValue(0)
    assert view.plane_index == 0
    assert view.window == Window(40.0, 400.0)
    info = view.cursor_info(0.5, 0.5)
    assert info.units == "HU" and info.value == -1000.0
    view.step_plane(-5)
    assert view.plane_index == 0  # clamped
    assert view.corners.text("top_right") == "Sagittal 1 / 12"


def test_overlay_groups_replace_toggle_and_clear(view: ImageView) -> None:
    view.show_radiograph(make_radiograph())
    layer = view.overlay
    mask = np.zeros((5, 4), dtype=bool)
    mask[1:4, 1:3] = True
    layer.set_items("masks", [ov.mask_item(mask, top=20, left=10, color="#ff0000")])
    layer.set_items("labels", [ov.label_item("L1", 30, 22), ov.points_item([[1, 2], [3, 4]], "#0f0")])
    layer.add_item("labels", ov.polyline_item([[0, 0], [5, 5], [5, 0]], "#00f", closed=True))
    assert layer.groups() == ["masks", "labels"] and len(layer.items("labels")) == 3
    assert layer.items("masks")[0].pos() == QPointF(10, 20)
    layer.set_visible("masks", False)
    layer.set_opacity("labels", 0.5)
    assert not layer.is_visible("masks") and layer.opacity("labels") == pytest.approx(0.5)
    layer.set_items("masks", [])
    assert layer.items("masks") == []
    view.show_radiograph(make_radiograph())  # a new image starts without marks
    assert layer.items("labels") == []


def test_big_film_draws_half_resolution_when_zoomed_out(view: ImageView) -> None:
    rows, cols = 2400, 2000  # 4.8 MP: above the preview threshold
    pixels = np.zeros((rows, cols), dtype=np.float32)
    pixels[1001, 1501] = 777.0
    film = Radiograph(pixels, (0.15, 0.15), SpacingSource.PIXEL_SPACING, Window(0.0, 10.0),
                      SourceRef("big.dcm"))
    view.show_radiograph(film)
    assert view.zoom() < 0.45 and view.drawing_level == 1
    assert view.image_item.image.shape == (1200, 1000)
    # the half-size array still spans the full film in image coordinates
    assert view.image_item.mapRectToParent(view.image_item.boundingRect()) == QRectF(0, 0, cols, rows)
    assert view.cursor_info(1501.5, 1001.5).value == 777.0  # values from the full array
    view.set_window(Window(5.0, 20.0))
    assert tuple(view.image_item.getLevels()) == pytest.approx((-5.0, 15.0))
    view.actual_size()
    assert view.drawing_level == 0 and view.image_item.image.shape == (rows, cols)
    assert tuple(view.image_item.getLevels()) == pytest.approx((-5.0, 15.0))

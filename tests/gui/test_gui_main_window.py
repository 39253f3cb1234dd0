"""The main window end to end (offscreen): open folders, load series, window, CT planes, problems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from vcfviewer.core.image import Radiograph, Volume, Window
from vcfviewer.gui import settings as app_settings
from vcfviewer.gui.main_window import MainWindow, format_cursor
from vcfviewer.gui.viewer.image_view import CursorInfo
from vcfviewer.gui.workers import running_threads

LOAD_TIMEOUT_MS = 20_000


@pytest.fixture
def window(qtbot) -> MainWindow:
    win = MainWindow(auto_analyse=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def open_and_wait(qtbot, win: MainWindow, path: Path | str) -> object:
    """Open ``path`` and wait for the first image to be on screen; returns it."""
    with qtbot.waitSignal(win.image_loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        win.open_path(str(path))
    return blocker.args[0]


def test_open_dx_folder_lists_series_and_problems_and_shows_the_image(qtbot, window, dx_folder):
    image = open_and_wait(qtbot, window, dx_folder)
    assert isinstance(image, Radiograph) and image.pixels.shape == (96, 64)
    captions = [item.text(0) for item in window.browser.series_items()]
    assert captions == ["#1 · LAT L-SPINE", "#2 · AP L-SPINE"]
    top = window.browser.topLevelItem(0)
    assert "TEST GUI" in top.text(0) and top.child(0).text(0) == "SPINE  ·  2024-01-31"
    assert [item.text(1) for item in window.browser.series_items()] == ["DX", "DX"]
    problem_names = sorted(Path(path).name for path, _ in window.browser.problems())
    assert "broken.dcm" in problem_names and "notes.bin" in problem_names
    assert all(reason for _, reason in window.browser.problems())
    view = window.image_view
    assert view.window == Window(2000.0, 3000.0)  # the header window
    assert window.windowTitle().startswith("#1 · LAT L-SPINE")
    info = view.cursor_info(30.5, 45.5)
    assert info.value == 4000.0 and info.x_mm == pytest.approx(6.1)
    assert "4000" in format_cursor(info) and "(6.1, 9.1) mm" in format_cursor(info)


def test_selecting_another_series_loads_it(qtbot, window, dx_folder):
    open_and_wait(qtbot, window, dx_folder)
    second = window.browser.series_items()[1]
    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS) as blocker:
        window.browser.setCurrentItem(second)
    assert blocker.args[0].pixels.shape == (80, 60)
    assert window.image_view.window == Window(1500.0, 3000.0)


def test_window_actions_drive_the_view(qtbot, window, dx_folder):
    open_and_wait(qtbot, window, dx_folder)
    view = window.image_view
    assert not window.actions["preset_bone"].isEnabled()
    window.actions["preset_full"].trigger()
    assert view.window.low == pytest.approx(view.data_range[0])
    window.actions["invert"].trigger()
    assert view.inverted
    fitted = view.zoom()
    window.actions["zoom_in"].trigger()
    assert view.zoom() == pytest.approx(1.25 * fitted, rel=1e-3)
    window.actions["actual_size"].trigger()
    assert view.zoom() == pytest.approx(1.0, rel=1e-3)
    window.actions["reset_view"].trigger()
    assert not view.inverted and not window.actions["invert"].isChecked()
    assert view.window == Window(2000.0, 3000.0) and view.zoom() == pytest.approx(fitted, rel=1e-3)


def test_ct_series_scrolls_sagittal_planes_with_page_keys(qtbot, window, ct_folder):
    image = open_and_wait(qtbot, window, ct_folder)
    assert isinstance(image, Volume) and image.shape == (12, 24, 20)
    view = window.image_view
    assert view.is_ct and view.plane_count == 20
    assert window.actions["preset_bone"].isEnabled()
    start = view.plane_index
    window.image_view.graphics.setFocus()
    qtbot.keyClick(window.image_view.graphics, Qt.Key.Key_PageDown)
    assert view.plane_index == start + 1
    qtbot.keyClick(window.image_view.graphics, Qt.Key.Key_PageUp)
    qtbot.keyClick(window.image_view.graphics, Qt.Key.Key_PageUp)
    assert view.plane_index == start - 1
    window.browser.setFocus()  # page keys scroll planes even while the browser has focus
    qtbot.keyClick(window.browser, Qt.Key.Key_PageDown)
    assert view.plane_index == start
    window.actions["preset_soft"].trigger()
    assert view.window == Window(40.0, 400.0)
    window.actions["preset_default"].trigger()
    assert view.window == image.window
    info = view.cursor_info(0.5, 0.5)
    assert info.units == "HU" and info.value == pytest.approx(-1000.0)


def test_missing_path_gives_a_readable_message(qtbot, window, tmp_path):
    window.open_path(str(tmp_path / "nowhere"))
    assert "does not exist" in window.banner.text()
    assert window.banner.level == "error"
    assert "Traceback" not in window.banner.text()


def test_an_image_that_cannot_be_displayed_is_a_message(qtbot, window, monkeypatch, dx_folder):
    image = open_and_wait(qtbot, window, dx_folder)

    def broken(*_args, **_kwargs):
        raise ValueError("no planes")

    monkeypatch.setattr(window.image_view, "show_radiograph", broken)
    loaded: list[object] = []
    window.image_loaded.connect(loaded.append)
    window._on_load_result(image, caption="odd")
    assert window.banner.text() == "Could not display odd: unexpected ValueError: no planes"
    assert window.current_image is None and loaded == []
    assert window.image_view.radiograph is None


def test_missing_sample_study_is_a_message(qtbot, window, tmp_path, monkeypatch):
    import vcfviewer.paths

    monkeypatch.setattr(vcfviewer.paths, "sample_study_dir", lambda: tmp_path / "absent")
    window.open_sample()
    assert window.banner.text().startswith("The sample study is not installed")


def test_folder_without_images_warns(qtbot, window, tmp_path):
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "empty" / "readme.bin").write_text("nothing here")
    with qtbot.waitSignal(window.study_opened, timeout=LOAD_TIMEOUT_MS):
        window.open_path(str(tmp_path / "empty"))
    assert "No DICOM images found" in window.banner.text()
    assert [Path(p).name for p, _ in window.browser.problems()] == ["readme.bin"]


def test_raster_file_opens_without_spacing(qtbot, window, tmp_path):
    from PIL import Image

    picture = tmp_path / "film.png"
    Image.fromarray((np.arange(60 * 40) % 251).astype(np.uint8).reshape(60, 40)).save(picture)
    image = open_and_wait(qtbot, window, picture)
    assert isinstance(image, Radiograph) and image.spacing_mm is None
    assert window.image_view.corners.text("bottom_right") == "No pixel spacing: ratios only"
    assert window.image_view.cursor_info(1.5, 1.5).x_mm is None


def test_recent_folders_and_layout_are_remembered(qtbot, window, dx_folder, ct_folder):
    open_and_wait(qtbot, window, dx_folder)
    open_and_wait(qtbot, window, ct_folder)
    recent = app_settings.recent_paths(window.settings)
    assert recent[:2] == [str(ct_folder.resolve()), str(dx_folder.resolve())]
    texts = [a.text() for a in window.recent_menu.actions()]
    assert texts[0].startswith("&1  ct_series")
    window.actions["toggle_browser"].trigger()  # hide the study browser
    assert window.browser_dock.isHidden()
    window.close()
    assert window.settings.value(app_settings.KEY_GEOMETRY) is not None
    again = MainWindow(auto_analyse=False)
    qtbot.addWidget(again)
    again.show()
    assert again.browser_dock.isHidden() and not again.actions["toggle_browser"].isChecked()


def test_drop_a_folder_opens_it(qtbot, window, dx_folder):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dx_folder))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        window.dropEvent(drop)
    assert window.current_image is not None


def test_load_error_lands_under_problems_and_the_rest_stays_usable(qtbot, window, dx_folder):
    open_and_wait(qtbot, window, dx_folder)
    second = window.browser.series_items()[1].data(0, Qt.ItemDataRole.UserRole)
    Path(second.files[0]).write_bytes(b"DICM gone")  # breaks after the scan
    before = len(window.browser.problems())
    window.browser.setCurrentItem(window.browser.series_items()[1])
    qtbot.waitUntil(lambda: len(window.browser.problems()) == before + 1, timeout=LOAD_TIMEOUT_MS)
    assert window.banner.text().startswith("Could not load ap.dcm")
    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_TIMEOUT_MS):
        window.browser.setCurrentItem(window.browser.series_items()[0])


def test_cancel_scan_leaves_no_thread(qtbot, window, tmp_path, monkeypatch):
    import threading
    import time

    from vcfviewer.core.progress import Progress
    from vcfviewer.io import discovery

    entered = threading.Event()

    def slow_scan(path):
        entered.set()
        while True:
            time.sleep(0.005)
            yield Progress("scan", float("nan"), "scanning…")

    monkeypatch.setattr(discovery, "scan", slow_scan)
    window.open_path(str(tmp_path))
    assert entered.wait(5)
    assert not window.progress_panel.isHidden()
    task = window.scan_runner.current
    window.actions["cancel_job"].trigger()
    qtbot.waitUntil(lambda: task.is_finished, timeout=5000)
    assert window.progress_panel.isHidden()
    assert not running_threads()


def test_help_lists_every_shortcut(qtbot, window):
    window.actions["shortcuts"].trigger()
    dialog = window._shortcuts_dialog
    qtbot.addWidget(dialog)
    with_keys = [a for a in window.actions.values() if a.shortcuts()]
    assert dialog.row_count() == len(with_keys) >= 15
    shown = {dialog.table.item(r, 2).text() for r in range(dialog.row_count())}
    assert "PgDown" in shown or "Page Down" in " ".join(shown)


def test_format_cursor_text():
    info = CursorInfo(3.2, 4.7, 4, 3, -12.5, "HU", 2.4, 3.5)
    assert format_cursor(info) == "x 3  y 4   -12.5 HU   (2.4, 3.5) mm"
    assert format_cursor(None) == ""


def test_sample_study_opens_when_present(qtbot, window):
    from vcfviewer.paths import sample_study_dir

    if not sample_study_dir().is_dir():
        pytest.skip("the bundled sample study has not been generated yet")
    with qtbot.waitSignal(window.image_loaded, timeout=60_000) as blocker:
        window.open_sample()
    assert isinstance(blocker.args[0], Radiograph)
    assert window.image_view.radiograph is not None


def test_many_problems_are_collapsed_few_are_open(qtbot, window, dx_folder):
    open_and_wait(qtbot, window, dx_folder)
    node = window.browser._problems_item
    assert node.childCount() == 2 and node.isExpanded()
    for i in range(6):
        (dx_folder / f"junk{i}.bin").write_bytes(b"\0" * 10)
    open_and_wait(qtbot, window, dx_folder)
    node = window.browser._problems_item
    assert node.text(0) == "Problems (8)" and not node.isExpanded()

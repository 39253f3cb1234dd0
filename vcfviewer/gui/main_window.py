"""The main window: study browser, image view, status bar with progress, menus and shortcuts.

Scanning and loading run as headless jobs on worker threads (``workers.JobRunner``); this class
only starts them and reacts to their signals. Issue 6 builds on the hooks kept public here:
``image_loaded``, ``make_runner``, ``add_actions``, ``add_dock``, ``set_device_text``,
``close_guards`` and the image view's overlay layer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.gui import settings as app_settings_mod
from vcfviewer.gui.actions import ACTIONS, ActionSpec, build_actions
from vcfviewer.gui.menus import fill_recent_menu, install_menus_and_toolbar
from vcfviewer.gui.opening import OpenRequest, classify_path, open_file_dialog, open_folder_dialog
from vcfviewer.gui.viewer.display_pyramid import DisplayPyramid, load_for_display
from vcfviewer.gui.viewer.image_view import CursorInfo, ImageView
from vcfviewer.gui.widgets.message_banner import MessageBanner
from vcfviewer.gui.widgets.progress_panel import ProgressPanel
from vcfviewer.gui.widgets.study_browser import StudyBrowser, series_caption
from vcfviewer.gui.workers import JobFactory, JobRunner, JobTask, describe_error

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1440, 900)
DEFAULT_BROWSER_WIDTH = 380


class MainWindow(QMainWindow):
    """The reading window."""

    image_loaded = Signal(object)  # Radiograph | Volume, once it is on screen
    study_opened = Signal(object)  # ScanResult, once the browser shows it

    def __init__(self, auto_analyse: bool = True, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("vcfviewer")
        self.auto_analyse = auto_analyse  # read by the analysis workflow (issue 6)
        self.settings = settings or app_settings_mod.app_settings()
        self.close_guards: list[Callable[[], bool]] = []  # any False vetoes closing
        self.about_extra_html = ""
        self._runners: list[JobRunner] = []
        self._image: Radiograph | Volume | None = None
        self._current_caption = ""
        self._build_central()
        self._build_browser_dock()
        self._build_status_bar()
        self.scan_runner = self.make_runner("scan")
        self.load_runner = self.make_runner("load")
        self.actions = build_actions(self, ACTIONS)
        install_menus_and_toolbar(self)
        self._connect()
        self._restore_layout()
        self.setAcceptDrops(True)
        self._update_view_actions()

    # ----------------------------------------------------------------- construction
    def _build_central(self) -> None:
        self.image_view = ImageView(self)
        self.image_view.graphics.setAcceptDrops(False)  # drops go to the window
        self.banner = MessageBanner(self)
        central = QWidget(self)
        central.setObjectName("centralArea")
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.image_view, 1)
        self.setCentralWidget(central)

    def _build_browser_dock(self) -> None:
        self.browser = StudyBrowser(self)
        self.browser_dock = self.add_dock(
            self.browser, "Studies", Qt.DockWidgetArea.LeftDockWidgetArea, "studyBrowserDock"
        )

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        self.cursor_label = QLabel(self)
        self.cursor_label.setObjectName("cursorLabel")
        self.cursor_label.setMinimumWidth(360)
        self.progress_panel = ProgressPanel(self)
        self.device_label = QLabel(self)  # device and model version, filled by issue 6
        self.device_label.setObjectName("deviceLabel")
        bar.addPermanentWidget(self.progress_panel)
        bar.addPermanentWidget(self.cursor_label)
        bar.addPermanentWidget(self.device_label)

    def _connect(self) -> None:
        view = self.image_view
        view.cursor_moved.connect(self._on_image_view_cursor_moved)
        view.image_shown.connect(self._on_image_view_image_shown)
        self.browser.series_selected.connect(self._on_browser_series_selected)
        self.browser.message.connect(self.show_status)
        handlers: dict[str, Callable[[], Any]] = {
            "open_folder": self.choose_folder,
            "open_file": self.choose_file,
            "open_sample": self.open_sample,
            "quit": self.close,
            "fit": view.fit,
            "actual_size": view.actual_size,
            "zoom_in": lambda: view.zoom_by(1.25),
            "zoom_out": lambda: view.zoom_by(0.8),
            "reset_view": self._reset_view,
            "next_plane": lambda: view.step_plane(1),
            "previous_plane": lambda: view.step_plane(-1),
            "next_plane_fast": lambda: view.step_plane(10),
            "previous_plane_fast": lambda: view.step_plane(-10),
            "cancel_job": self.progress_panel.cancel_current,
            "shortcuts": self.show_shortcuts,
            "about": self.show_about,
        }
        for key, handler in handlers.items():
            self.actions[key].triggered.connect(handler)
        for key in ("default", "bone", "soft", "full"):
            self.actions[f"preset_{key}"].triggered.connect(
                lambda _checked=False, k=key: view.apply_preset(k)
            )
        self.actions["invert"].toggled.connect(view.set_inverted)
        self.actions["toggle_browser"].setChecked(True)
        self.actions["toggle_browser"].toggled.connect(self.browser_dock.setVisible)
        self.browser_dock.visibilityChanged.connect(self._on_browser_dock_visibility_changed)

    # ----------------------------------------------------------------- public hooks
    def make_runner(self, name: str, track_progress: bool = True) -> JobRunner:
        """A job runner whose tasks stop when the window closes and, when ``track_progress``,
        show in the status bar (background chores such as autosave do not)."""
        runner = JobRunner(name, self)
        if track_progress:
            runner.task_started.connect(self.progress_panel.track)
        self._runners.append(runner)
        return runner

    def add_actions(self, specs: Iterable[ActionSpec]) -> dict[str, QAction]:
        """Add more actions (issue 6's review actions); they join ``self.actions`` and Help."""
        added = build_actions(self, specs)
        self.actions.update(added)
        return added

    def add_dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, name: str
                 ) -> QDockWidget:
        """Dock ``widget``; ``name`` is its objectName, which the saved layout is keyed on."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def set_device_text(self, text: str) -> None:
        """The permanent status-bar area for the compute device and model version."""
        self.device_label.setText(text)

    @property
    def current_image(self) -> Radiograph | Volume | None:
        """What was loaded last (the whole volume for CT)."""
        return self._image

    @property
    def current_caption(self) -> str:
        return self._current_caption

    def show_status(self, text: str, timeout_ms: int = 8000) -> None:
        """A transient status-bar message."""
        self.statusBar().showMessage(text, timeout_ms)

    def show_error(self, text: str, level: str = "error") -> None:
        """A readable, non-modal message above the image and in the status bar."""
        self.banner.show_message(text, level)
        self.show_status(text.splitlines()[0] if text else "", 15000)

    # ----------------------------------------------------------------- opening
    def choose_folder(self) -> None:
        """File ▸ Open folder."""
        path = open_folder_dialog(self, app_settings_mod.last_directory(self.settings))
        if path:
            self.open_path(path)

    def choose_file(self) -> None:
        """File ▸ Open file."""
        path = open_file_dialog(self, app_settings_mod.last_directory(self.settings))
        if path:
            self.open_path(path)

    def open_sample(self) -> None:
        """File ▸ Open sample study (also ``vcfviewer --sample``)."""
        from vcfviewer.paths import sample_study_dir

        folder = sample_study_dir()
        if not folder.is_dir():
            self.show_error(f"The sample study is not installed (expected at {folder}).")
            return
        self.open_path(str(folder))

    def open_path(self, path: str) -> None:
        """Open a folder, DICOM file, DICOMDIR, NIfTI or raster file; the work runs off-thread."""
        request = classify_path(path)
        if request.error:
            self.show_error(request.error)
            return
        self.banner.dismiss()
        app_settings_mod.add_recent_path(request.path, self.settings)
        fill_recent_menu(self)
        self._start_scan(request)

    def _start_scan(self, request: OpenRequest) -> None:
        from vcfviewer.io import discovery

        self.load_runner.cancel()  # a load from the previous folder must not land after this
        self.image_view.clear()
        self._image = None
        self.browser.clear()
        self.show_status(f"Scanning {request.path}…")
        task = self.scan_runner.start(lambda: discovery.scan(request.path), "scanning")
        task.result.connect(self._on_scan_result)
        task.error.connect(lambda message: self.show_error(f"Could not scan the folder: {message}"))
        task.cancelled.connect(lambda: self.show_status("Scan cancelled"))

    def _start_load(self, factory: JobFactory, caption: str, source: str) -> JobTask:
        task = self.load_runner.start(factory, "loading")
        task.result.connect(lambda loaded: self._on_load_result(*loaded, caption=caption))
        task.error.connect(lambda message: self._on_load_error(task, message, source))
        task.cancelled.connect(lambda: self.show_status(f"Loading {caption} cancelled"))
        self.show_status(f"Loading {caption}…")
        return task

    # ----------------------------------------------------------------- job results
    @Slot(object)
    def _on_scan_result(self, scan: Any) -> None:
        first = self.browser.set_scan(scan)
        series_count = sum(1 for _ in self.browser.series_items())
        problems = len(scan.problems)
        summary = f"Found {series_count} series in {scan.files_seen} files"
        if problems:
            summary += f"; {problems} unreadable (see Problems)"
        self.show_status(summary)
        self.study_opened.emit(scan)
        if first is not None:
            self.browser.select_series(first)
        elif series_count == 0:
            self.show_error(f"No DICOM images found in {scan.root}.", "warning")
        else:
            self.show_error("This folder holds no image series that can be displayed.", "warning")

    def _on_browser_series_selected(self, series: Any) -> None:
        from vcfviewer.io import loader

        caption = series_caption(series)
        source = str(series.files[0]) if getattr(series, "files", None) else caption
        self._start_load(lambda: load_for_display(loader.load_series(series)), caption, source)

    def _on_load_result(self, image: Radiograph | Volume, pyramid: DisplayPyramid | None = None,
                        *, caption: str) -> None:
        title = _image_title(image, caption)
        try:
            if isinstance(image, Volume):
                self.image_view.show_volume(image, title)
            else:
                self.image_view.show_radiograph(image, title, pyramid)
        except Exception as exc:  # noqa: BLE001 - a bad image must not leave a half-drawn window
            self.image_view.clear()
            self._image = None
            self.show_error(f"Could not display {caption}: {describe_error(exc)}")
            return
        self._image = image
        self._current_caption = caption
        self.actions["invert"].setChecked(False)
        self.setWindowTitle(f"{caption} — vcfviewer")
        notes = "; ".join(image.notes)
        self.show_status(f"Loaded {caption}" + (f" ({notes})" if notes else ""))
        self._update_view_actions()
        self.image_loaded.emit(image)

    def _on_load_error(self, task: JobTask, message: str, source: str) -> None:
        exc = task.exception
        path, reason = getattr(exc, "path", source), getattr(exc, "reason", message)
        self.browser.add_problem(str(path), str(reason))
        self.show_error(f"Could not load {Path(str(path)).name}: {reason}")

    # ----------------------------------------------------------------- view state
    def _reset_view(self) -> None:
        self.image_view.reset()
        self.actions["invert"].setChecked(False)

    @Slot(object)
    def _on_image_view_image_shown(self, _image: Radiograph) -> None:
        self._update_view_actions()

    def _update_view_actions(self) -> None:
        has_image = self.image_view.radiograph is not None
        is_ct = self.image_view.is_ct
        for key in ("fit", "actual_size", "zoom_in", "zoom_out", "invert", "reset_view",
                    "preset_default", "preset_full"):
            self.actions[key].setEnabled(has_image)
        for key in ("preset_bone", "preset_soft", "next_plane", "previous_plane",
                    "next_plane_fast", "previous_plane_fast"):
            self.actions[key].setEnabled(has_image and is_ct)

    @Slot(object)
    def _on_image_view_cursor_moved(self, info: CursorInfo | None) -> None:
        self.cursor_label.setText(format_cursor(info))

    @Slot(bool)
    def _on_browser_dock_visibility_changed(self, visible: bool) -> None:
        if not self.isMinimized():
            self.actions["toggle_browser"].setChecked(visible)

    # ----------------------------------------------------------------- help
    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts (non-modal)."""
        from vcfviewer.gui.actions import shortcut_rows
        from vcfviewer.gui.widgets.dialogs import ShortcutsDialog

        self._shortcuts_dialog = ShortcutsDialog(shortcut_rows(self.actions), self)
        self._shortcuts_dialog.show()

    def show_about(self) -> None:
        """Help ▸ About (non-modal)."""
        from vcfviewer.gui.widgets.dialogs import AboutDialog

        self._about_dialog = AboutDialog(self, self.about_extra_html)
        self._about_dialog.show()

    # ----------------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        # Open after the drop returns, so the source application is not kept waiting.
        QTimer.singleShot(0, lambda: self.open_path(paths[0]))
        if len(paths) > 1:
            self.show_status(f"Opened the first of {len(paths)} dropped items")

    # ----------------------------------------------------------------- layout and closing
    def _restore_layout(self) -> None:
        geometry = self.settings.value(app_settings_mod.KEY_GEOMETRY)
        state = self.settings.value(app_settings_mod.KEY_STATE)
        if geometry is None or not self.restoreGeometry(geometry):
            self._default_geometry()
        if state is None or not self.restoreState(state):
            self.resizeDocks([self.browser_dock], [DEFAULT_BROWSER_WIDTH],
                             Qt.Orientation.Horizontal)

    def _default_geometry(self) -> None:
        # First start: most of the screen (reading is done full-screen), centred.
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is None or screen.width() < 400:
            self.resize(*DEFAULT_SIZE)
            return
        width = min(int(screen.width() * 0.92), 2400)
        height = min(int(screen.height() * 0.92), 1500)
        self.resize(width, height)
        self.move(screen.x() + (screen.width() - width) // 2,
                  screen.y() + (screen.height() - height) // 2)

    def save_layout(self) -> None:
        """Remember geometry, docks and toolbars for the next start."""
        self.settings.setValue(app_settings_mod.KEY_GEOMETRY, self.saveGeometry())
        self.settings.setValue(app_settings_mod.KEY_STATE, self.saveState())
        self.settings.sync()

    def shutdown_jobs(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every running job and wait for its thread; True when all stopped in time."""
        ok = True
        for runner in self._runners:
            ok = runner.shutdown(timeout_ms) and ok
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not all(guard() for guard in self.close_guards):
            event.ignore()
            return
        self.save_layout()
        self.shutdown_jobs()
        event.accept()


def _image_title(image: Radiograph | Volume, caption: str) -> str:
    modality = image.patient.modality or ("CT" if isinstance(image, Volume) else "")
    return f"{modality} · {caption}" if modality else caption


def format_cursor(info: CursorInfo | None) -> str:
    """Status-bar text for the pixel under the mouse."""
    if info is None:
        return ""
    value = f"{info.value:.0f}" if abs(info.value) >= 100 else f"{info.value:.4g}"
    text = f"x {info.column}  y {info.row}   {value}{' ' + info.units if info.units else ''}"
    if info.x_mm is not None and info.y_mm is not None:
        text += f"   ({info.x_mm:.1f}, {info.y_mm:.1f}) mm"
    return text

"""Menus and the toolbar of the main window, laid out from its action table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QMenu, QToolBar

from vcfviewer.gui import settings as app_settings_mod

if TYPE_CHECKING:
    from vcfviewer.gui.main_window import MainWindow

SEPARATOR = "-"
RECENT = "@recent"

MENU_LAYOUT: dict[str, tuple[str, ...]] = {
    "&File": ("open_folder", "open_file", RECENT, "open_sample", SEPARATOR, "quit"),
    "&View": (
        "fit", "actual_size", "zoom_in", "zoom_out", SEPARATOR,
        "preset_default", "preset_bone", "preset_soft", "preset_full", "invert", "reset_view",
        SEPARATOR, "next_plane", "previous_plane", "next_plane_fast", "previous_plane_fast",
        SEPARATOR, "cancel_job",
    ),
    "&Window": ("toggle_browser",),
    "&Help": ("shortcuts", "about"),
}
TOOLBAR_LAYOUT: tuple[str, ...] = (
    "open_folder", "open_file", SEPARATOR, "fit", "actual_size", "invert", "reset_view",
    SEPARATOR, "preset_default", "preset_bone", "preset_soft",
)


def install_menus_and_toolbar(window: "MainWindow") -> None:
    """Create the menu bar and the main toolbar from ``window.actions``."""
    window.menus = {}
    for title, keys in MENU_LAYOUT.items():
        menu = window.menuBar().addMenu(title)
        menu.setObjectName(f"menu{title.replace('&', '')}")
        window.menus[title.replace("&", "")] = menu
        for key in keys:
            if key == SEPARATOR:
                menu.addSeparator()
            elif key == RECENT:
                window.recent_menu = menu.addMenu("Open &recent")
                window.recent_menu.setObjectName("menuRecent")
            else:
                menu.addAction(window.actions[key])
    fill_recent_menu(window)
    window.toolbar = _toolbar(window)


def ensure_menu(window: "MainWindow", title: str) -> QMenu:
    """The menu called ``title``, created just before Help when it does not exist (issue 6)."""
    name = title.replace("&", "")
    if name in window.menus:
        return window.menus[name]
    menu = QMenu(title, window)
    menu.setObjectName(f"menu{name}")
    window.menuBar().insertMenu(window.menus["Help"].menuAction(), menu)
    window.menus[name] = menu
    return menu


def _toolbar(window: "MainWindow") -> QToolBar:
    toolbar = QToolBar("Main toolbar", window)
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setIconSize(QSize(16, 16))
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for key in TOOLBAR_LAYOUT:
        if key == SEPARATOR:
            toolbar.addSeparator()
        else:
            toolbar.addAction(window.actions[key])
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    return toolbar


def fill_recent_menu(window: "MainWindow") -> None:
    """Refill File ▸ Open recent from the settings (missing paths are dropped)."""
    menu: QMenu = window.recent_menu
    menu.clear()
    paths = app_settings_mod.recent_paths(window.settings)
    for index, path in enumerate(paths, start=1):
        entry = Path(path)
        action = menu.addAction(f"&{index}  {entry.name}   —   {entry.parent}")
        action.setToolTip(path)
        action.triggered.connect(lambda _checked=False, p=path: window.open_path(p))
    if not paths:
        menu.addAction("(nothing yet)").setEnabled(False)
        return
    menu.addSeparator()
    menu.addAction("Clear list").triggered.connect(lambda: _clear_recent(window))


def _clear_recent(window: "MainWindow") -> None:
    app_settings_mod.clear_recent_paths(window.settings)
    fill_recent_menu(window)

"""The viewer's actions as one table: text, shortcut, menu and tooltip for each.

``build_actions`` turns specs into QActions owned by the window, so the same shortcut works
wherever the focus is, and Help ▸ Keyboard shortcuts lists exactly what is bound. Issue 6 adds
its review actions with another table passed to ``MainWindow.add_actions``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class ActionSpec:
    """One user action; ``shortcuts`` are QKeySequence strings, the first one is shown in menus."""

    key: str
    text: str
    menu: str  # "File", "View", "Window", "Help", ...
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    checkable: bool = False
    icon_text: str = ""  # short label for toolbar buttons

    def __post_init__(self) -> None:
        if not self.key or not self.text:
            raise ValueError("an action needs a key and a text")


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_folder", "Open &folder…", "File", ("Ctrl+O",),
               "Open a folder of DICOM files (searched recursively)", icon_text="Open folder"),
    ActionSpec("open_file", "Open f&ile…", "File", ("Ctrl+Shift+O",),
               "Open one DICOM file, a DICOMDIR, a NIfTI volume or a PNG/JPEG/TIFF radiograph",
               icon_text="Open file"),
    ActionSpec("open_sample", "Open &sample study", "File", (),
               "Open the bundled synthetic sample study"),
    ActionSpec("quit", "&Quit", "File", ("Ctrl+Q",), "Close the viewer"),
    ActionSpec("fit", "&Fit to window", "View", ("F",), "Show the whole image", icon_text="Fit"),
    ActionSpec("actual_size", "&1:1 (actual pixels)", "View", ("Ctrl+1",),
               "One image pixel per screen pixel", icon_text="1:1"),
    ActionSpec("zoom_in", "Zoom &in", "View", ("+", "="), "Zoom in around the centre"),
    ActionSpec("zoom_out", "Zoom &out", "View", ("-",), "Zoom out around the centre"),
    ActionSpec("invert", "&Invert", "View", ("I",), "Show bone dark instead of bright",
               checkable=True, icon_text="Invert"),
    ActionSpec("reset_view", "&Reset view", "View", ("R",),
               "Header window, not inverted, fitted", icon_text="Reset"),
    ActionSpec("preset_default", "Window: &default (header)", "View", ("F2",),
               "The window stored in the image header", icon_text="Default W/L"),
    ActionSpec("preset_bone", "Window: &bone", "View", ("F3",),
               "CT bone window W 1800 / L 400", icon_text="Bone"),
    ActionSpec("preset_soft", "Window: &soft tissue", "View", ("F4",),
               "CT soft-tissue window W 400 / L 40", icon_text="Soft tissue"),
    ActionSpec("preset_full", "Window: full &range", "View", ("F5",),
               "From the darkest to the brightest value", icon_text="Full range"),
    ActionSpec("next_plane", "&Next sagittal plane", "View", ("PgDown",),
               "CT: one plane further (towards higher plane numbers)"),
    ActionSpec("previous_plane", "&Previous sagittal plane", "View", ("PgUp",),
               "CT: one plane back"),
    ActionSpec("next_plane_fast", "Next plane ×10", "View", ("Shift+PgDown",),
               "CT: ten planes further"),
    ActionSpec("previous_plane_fast", "Previous plane ×10", "View", ("Shift+PgUp",),
               "CT: ten planes back"),
    ActionSpec("cancel_job", "&Cancel running job", "View", ("Esc",),
               "Stop the scan or load in progress"),
    ActionSpec("toggle_browser", "Study &browser", "Window", ("Ctrl+B",),
               "Show or hide the study browser", checkable=True),
    ActionSpec("shortcuts", "&Keyboard shortcuts", "Help", ("F1",), "List every shortcut"),
    ActionSpec("about", "&About vcfviewer", "Help", (), "Versions and licence"),
)


def build_actions(parent: QWidget, specs: Iterable[ActionSpec]) -> dict[str, QAction]:
    """QActions for ``specs``, added to ``parent`` so their shortcuts work anywhere in the window."""
    actions: dict[str, QAction] = {}
    for spec in specs:
        action = QAction(spec.text, parent)
        action.setObjectName(f"action_{spec.key}")
        if spec.shortcuts:
            action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        tip = spec.tip or spec.text.replace("&", "")
        if spec.shortcuts:
            tip = f"{tip} ({shortcut_text(spec)})"
        action.setToolTip(tip)
        action.setStatusTip(spec.tip)
        action.setCheckable(spec.checkable)
        if spec.icon_text:
            action.setIconText(spec.icon_text)
        action.setData(spec.menu)
        parent.addAction(action)
        actions[spec.key] = action
    return actions


def shortcut_text(spec: ActionSpec) -> str:
    """Shortcuts as the reader's platform writes them, e.g. "Ctrl+O" or "+, =" ."""
    return ", ".join(
        QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in spec.shortcuts
    )


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str, str]]:
    """(menu, action, shortcut) for every action that has a shortcut, for the Help listing."""
    rows = []
    for action in actions.values():
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        if keys:
            rows.append((str(action.data() or ""), action.text().replace("&", ""), ", ".join(keys)))
    return rows

"""The review workflow (issue 6) plugged into the main window.

``install_review(window)`` adds the findings table and detail docks, the Review menu and toolbar,
the review actions (listed in Help) and the controller that runs the model, draws the overlays
and applies the reader's corrections; it returns that ``ReviewController``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMainWindow, QToolBar, QVBoxLayout, QWidget

from vcfviewer.gui.review.actions import (
    FILE_ITEMS,
    REVIEW_ACTIONS,
    REVIEW_MENU,
    TOOLBAR_ITEMS,
    WINDOW_ITEMS,
)
from vcfviewer.gui.review.analysis import ModelHolder
from vcfviewer.gui.review.controller import OPACITY_STEP, ReviewController
from vcfviewer.gui.review.overlays import MARK_GROUPS
from vcfviewer.gui.review.saving import SaveFlow

__all__ = ["install_review", "ReviewController"]

FINDINGS_DOCK_WIDTH = 590
BROWSER_WIDTH = 240
FINDINGS_DETAIL_HEIGHTS = [420, 480]  # a 17-body table above a detail panel without scrolling


def install_review(window: QMainWindow, model: ModelHolder | None = None,
                   autosave_folder: Path | None = None, offer_recovery: bool = True,
                   warm_up: bool = True) -> ReviewController:
    """Add the review workflow to ``window`` (a MainWindow) and return its controller.

    ``warm_up`` loads the model in the background right away; ``offer_recovery`` asks about
    autosaved, never exported corrections once the window is up (tests turn both off).
    """
    from vcfviewer.gui.widgets.detail_panel import DetailPanel

    window.detail_panel = DetailPanel(window)
    right = Qt.DockWidgetArea.RightDockWidgetArea
    window.findings_dock = window.add_dock(_findings_area(window), "Findings", right,
                                           "findingsDock")
    window.detail_dock = window.add_dock(window.detail_panel, "Selected vertebra", right,
                                         "detailDock")
    window.add_actions(REVIEW_ACTIONS)
    controller = ReviewController(window, model)
    controller.saving = SaveFlow(controller, autosave_folder)
    window.review = controller
    _install_menus(window)
    _install_toolbar(window, controller)
    _connect_actions(window, controller)
    controller.connect_view()
    window.findings_table.finding_selected.connect(controller.select)
    from vcfviewer.gui.settings import KEY_STATE

    if not window.restoreState(window.settings.value(KEY_STATE) or b""):
        # First start: the film gets the width; the browser is only needed to pick a series.
        window.resizeDocks([window.browser_dock, window.findings_dock],
                           [BROWSER_WIDTH, FINDINGS_DOCK_WIDTH], Qt.Orientation.Horizontal)
        window.resizeDocks([window.findings_dock, window.detail_dock], FINDINGS_DETAIL_HEIGHTS,
                           Qt.Orientation.Vertical)
    _set_device_placeholder(window)
    controller.refresh()
    if offer_recovery:
        QTimer.singleShot(0, controller.saving.offer_recovery)
    if warm_up:
        QTimer.singleShot(0, controller.warm_up)
    return controller


def _findings_area(window: Any) -> QWidget:
    """The findings dock's content: the display controls above the table.

    The controls sit here rather than in a toolbar: two toolbars do not fit one row beside a
    browser and this dock, and a second toolbar row would take height from the film.
    """
    from vcfviewer.gui.review.prefs import load_prefs
    from vcfviewer.gui.widgets.findings_table import FindingsTable
    from vcfviewer.gui.widgets.overlay_controls import OverlayControls

    prefs = load_prefs(window.settings)
    area = QWidget(window)
    column = QVBoxLayout(area)
    column.setContentsMargins(0, 4, 0, 0)
    column.setSpacing(4)
    window.overlay_controls = OverlayControls(prefs.colour_scheme, prefs.mask_opacity, area)
    window.findings_table = FindingsTable(area)
    column.addWidget(window.overlay_controls)
    column.addWidget(window.findings_table, 1)
    return area


def _install_menus(window: Any) -> None:
    from vcfviewer.gui.menus import ensure_menu

    review = ensure_menu(window, "&Review")
    for key in REVIEW_MENU:
        review.addSeparator() if key == "-" else review.addAction(window.actions[key])
    file_menu = window.menus["File"]
    quit_action = window.actions["quit"]
    for key in FILE_ITEMS:
        file_menu.insertAction(quit_action, window.actions[key])
    file_menu.insertSeparator(quit_action)
    for key in WINDOW_ITEMS:
        window.menus["Window"].addAction(window.actions[key])


def _install_toolbar(window: Any, controller: ReviewController) -> None:
    toolbar = QToolBar("Review toolbar", window)
    toolbar.setObjectName("reviewToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for key in TOOLBAR_ITEMS:
        toolbar.addSeparator() if key == "-" else toolbar.addAction(window.actions[key])
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    window.review_toolbar = toolbar
    controls = window.overlay_controls
    controls.scheme_changed.connect(lambda scheme: apply_scheme(window, controller, scheme))
    controls.opacity_changed.connect(controller.set_opacity)


def _connect_actions(window: Any, c: ReviewController) -> None:
    actions = window.actions
    handlers: dict[str, Callable[[], Any]] = {
        "analyse": c.analyse, "undo": c.undo, "redo": c.redo, "cycle_type": c.cycle_type,
        "relabel": c.relabel, "renumber_up": lambda: c.renumber(-1),
        "renumber_down": lambda: c.renumber(1), "name_l6": c.name_l6,
        "swap_facing": c.swap_facing, "analyse_other_way": c.analyse_other_way,
        "add_body": c.begin_add_body,
        "delete_body": c.delete_selected, "next_body": lambda: c.step_selection(1),
        "previous_body": lambda: c.step_selection(-1), "accept_all": c.accept_all,
        "export": c.saving.export, "export_to": lambda: c.saving.export(choose=True),
        "recover": c.saving.recover, "preferences": lambda: show_preferences(window, c),
        "opacity_down": lambda: _nudge_opacity(window, c, -OPACITY_STEP),
        "opacity_up": lambda: _nudge_opacity(window, c, OPACITY_STEP),
    }
    for key, handler in handlers.items():
        actions[key].triggered.connect(lambda _checked=False, h=handler: h())
    for grade in range(4):
        actions[f"grade_{grade}"].triggered.connect(lambda _c=False, g=grade: c.set_grade(g))
    actions["cancel_job"].triggered.connect(c.cancel_tools)
    _toggle(actions["toggle_masks"], lambda on: c.set_group_visible(("masks",), on))
    _toggle(actions["toggle_marks"], lambda on: c.set_group_visible(MARK_GROUPS, on))
    _toggle(actions["toggle_labels"], c.set_labels_visible)
    actions["colour_by_grade"].setChecked(c.prefs.colour_scheme == "grade")
    actions["colour_by_grade"].toggled.connect(
        lambda on: apply_scheme(window, c, "grade" if on else "level"))
    for key, dock in (("toggle_findings", window.findings_dock),
                      ("toggle_details", window.detail_dock)):
        actions[key].setChecked(True)
        actions[key].toggled.connect(dock.setVisible)
        dock.visibilityChanged.connect(
            lambda visible, a=actions[key]: a.setChecked(visible) if not window.isMinimized()
            else None)


def _toggle(action: Any, apply: Callable[[bool], None]) -> None:
    action.setChecked(True)
    action.toggled.connect(apply)


def apply_scheme(window: Any, c: ReviewController, scheme: str) -> None:
    """Colour by "level" or "grade": the controller, the toolbar combo and the C action agree."""
    c.set_scheme(scheme)
    window.overlay_controls.set_scheme(scheme)
    action = window.actions["colour_by_grade"]
    blocked = action.blockSignals(True)
    action.setChecked(scheme == "grade")
    action.blockSignals(blocked)


def _nudge_opacity(window: Any, c: ReviewController, step: float) -> None:
    c.set_opacity(c.prefs.mask_opacity + step)
    window.overlay_controls.set_opacity(c.prefs.mask_opacity)


def _set_device_placeholder(window: Any) -> None:
    from vcfviewer.gui.review.analysis import KINDS
    from vcfviewer.models.registry import list_models, model_id_for

    cards = {card.id: card for card in list_models()}
    chosen = [cards[i] for i in dict.fromkeys(model_id_for(kind) for kind in KINDS) if i in cards]
    names = " + ".join(f"{card.id} {card.version}" for card in chosen)
    window.set_device_text(f"Model {names} (loads on first analysis)" if chosen
                           else "No model installed")


def show_preferences(window: Any, c: ReviewController) -> None:
    """File ▸ Preferences (modal; applies on OK)."""
    from vcfviewer.gui.review.prefs import THRESHOLD_PRESETS, PreferencesDialog

    loaded = c.model.loaded
    presets = sorted(loaded.card.thresholds) if loaded is not None else list(THRESHOLD_PRESETS)
    dialog = PreferencesDialog(c.prefs, presets, window)
    if dialog.exec():
        new = dialog.prefs()
        c.set_prefs(new)
        apply_scheme(window, c, new.colour_scheme)

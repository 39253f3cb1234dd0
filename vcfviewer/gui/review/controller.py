"""The review controller: analysis on a worker, the review session, overlays, selection and edits.

It owns no pixels and computes no numbers: the model runs as a job on the window's runner, the
``ReviewSession`` holds the annotation, undo and measurements, and this class only wires them to
the overlays, the findings table, the detail panel and the actions. Saving (export, autosave,
restore, close prompt) lives in ``saving.SaveFlow``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QPointF, Signal, Slot
from PySide6.QtWidgets import QInputDialog, QMessageBox

from vcfviewer.core import levels as _levels
from vcfviewer.core.annotation import FractureType, Proposal, StudyAnnotation
from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.session import EditError, ReviewSession
from vcfviewer.gui.review import geometry
from vcfviewer.gui.review.analysis import AnalysisResult, ModelHolder
from vcfviewer.gui.review.handles import HandleSet
from vcfviewer.gui.review.overlays import Legend, OverlayPainter
from vcfviewer.gui.review.placing import AddBodyTool
from vcfviewer.gui.review.prefs import ReviewPrefs, load_prefs, save_prefs
from vcfviewer.gui.review.storage import image_ref_for

log = logging.getLogger(__name__)

TYPE_CYCLE = (FractureType.WEDGE, FractureType.BICONCAVE, FractureType.CRUSH)
OPACITY_STEP = 0.1
DIRTY_MARK = "• "


class ReviewController(QObject):
    """Wires analysis, session, overlays, widgets and actions of one main window."""

    session_changed = Signal(object)  # StudyAnnotation, or None when there is no session
    selection_changed = Signal(object)  # finding id or None
    analysis_done = Signal(object)  # AnalysisResult

    def __init__(self, window, model: ModelHolder | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.view = window.image_view
        self.prefs: ReviewPrefs = load_prefs(window.settings)
        self.model = model or ModelHolder()
        self.runner = window.make_runner("analysis")
        self.session: ReviewSession | None = None
        self.selected: str | None = None
        self.image: Radiograph | None = None  # the 2-D image the session belongs to / will
        self.model_text = ""
        self._unsubscribe: Callable[[], None] | None = None
        self._drag_serial = 0
        self.painter = OverlayPainter(self.view.overlay)
        self.handles = HandleSet(self.view.overlay, self)
        self.placing = AddBodyTool(self.view.overlay, self.view.graphics, self)
        self.legend = Legend(self.view.graphics, self.view.corners.labels["top_right"])
        self.view.overlay.set_opacity("masks", self.prefs.mask_opacity)
        self.saving = None  # set by install_review (SaveFlow needs the controller first)
        # Confirmation hooks (tests replace them; the GUI asks with message boxes).
        self.confirm_replace: Callable[[], bool] = self._ask_replace
        self.ask_level: Callable[[str, list[str]], str | None] = self._ask_level

    # ----------------------------------------------------------------- wiring
    def connect_view(self) -> None:
        """React to new images, clicks, plane changes and landmark drags."""
        self.window.image_loaded.connect(self._on_window_image_loaded)
        self.view.clicked.connect(self._on_view_clicked)
        self.view.plane_changed.connect(self._on_view_plane_changed)
        self.handles.drag_started.connect(self._on_handles_drag_started)
        self.handles.drag_moved.connect(self._on_handles_drag_moved)
        self.handles.drag_finished.connect(self._on_handles_drag_finished)
        self.placing.completed.connect(self._on_placing_completed)

    # ----------------------------------------------------------------- state
    @property
    def annotation(self) -> StudyAnnotation | None:
        return self.session.annotation if self.session is not None else None

    @property
    def analysing(self) -> bool:
        return self.runner.current is not None

    def set_prefs(self, prefs: ReviewPrefs) -> None:
        """Adopt and persist new preferences (colours and opacity apply at once)."""
        self.prefs = prefs
        save_prefs(self.window.settings, prefs)
        self.view.overlay.set_opacity("masks", prefs.mask_opacity)
        self.refresh()

    # ----------------------------------------------------------------- new images
    @Slot(object)
    def _on_window_image_loaded(self, image: Radiograph | Volume) -> None:
        self.runner.cancel()  # a result for the previous image must never land on this one
        self.placing.stop()
        if self.saving is not None:
            self.saving.leave_session()
        self.set_session(None)
        self.image = self.view.radiograph
        plane = self.view.plane_index if isinstance(image, Volume) else None
        if self.image is None:
            return
        restored = self.saving.restore(image_ref_for(self.image, plane)) if self.saving else None
        if restored is not None:
            return
        if isinstance(image, Volume):
            self.window.show_status("CT: press A to analyse the sagittal plane on screen")
        elif self.window.auto_analyse and self.prefs.auto_analyse:
            self.analyse(confirm=False)

    @Slot(int)
    def _on_view_plane_changed(self, index: int) -> None:
        self.image = self.view.radiograph
        if self.session is not None:
            self.refresh()  # overlays only show on the plane they were made on
            if self.session.annotation.image.plane_index != index:
                self.window.show_status(
                    f"Findings are on plane {self.session.annotation.image.plane_index + 1}; "
                    "A analyses this plane")

    # ----------------------------------------------------------------- analysis
    def analyse(self, confirm: bool = True) -> None:
        """Run the model on the image on screen (asks first when corrections would be lost)."""
        image = self.view.radiograph
        if image is None:
            self.window.show_status("Open an image first")
            return
        if confirm and self.is_dirty and not self.confirm_replace():
            return
        self.image = image
        plane = self.view.plane_index if self.view.is_ct else None
        preset = self.prefs.threshold_preset
        task = self.runner.start(lambda: self.model.analysis_job(image, preset, plane),
                                 "analysing")
        task.result.connect(lambda result: self._on_analysis_result(image, result))
        task.error.connect(lambda message: self.window.show_error(
            f"Analysis failed: {message}"))
        task.cancelled.connect(lambda: self.window.show_status("Analysis cancelled"))
        self.window.show_status("Analysing…")

    def _on_analysis_result(self, image: Radiograph, result: AnalysisResult) -> None:
        if image is not self.view.radiograph:
            return  # the reader moved on; this result belongs to nothing on screen
        if self.saving is not None:
            self.saving.leave_session(discard=True)
        self.model_text = f"{result.model_id} {result.model_version} · {result.device_name}"
        self.window.set_device_text(self.model_text)
        self.window.about_extra_html = _model_html(self.model.loaded)
        self.start_session(result.proposal)
        count = len(result.proposal.annotation.vertebrae)
        self.window.show_status(f"Analysis: {count} vertebral bodies in {result.seconds:.1f} s")
        self.analysis_done.emit(result)

    # ----------------------------------------------------------------- session
    def start_session(self, proposal: Proposal, annotation: StudyAnnotation | None = None) -> None:
        """Review ``proposal`` (or a saved ``annotation`` of it) from now on."""
        self.set_session(ReviewSession(proposal, annotation))

    def set_session(self, session: ReviewSession | None) -> None:
        """Replace the session (None ends reviewing); overlays and widgets follow."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session = session
        self.selected = None
        if session is not None:
            self._unsubscribe = session.subscribe(self._on_session_changed)
        self.refresh()
        self.session_changed.emit(self.annotation)

    @property
    def is_dirty(self) -> bool:
        """Corrections that no export holds yet."""
        if self.session is None:
            return False
        return self.session.dirty or bool(self.saving and self.saving.restored_unsaved)

    def _on_session_changed(self, annotation: StudyAnnotation) -> None:
        if self.selected is not None and all(f.finding_id != self.selected
                                             for f in annotation.findings):
            self.selected = None
        self.refresh()
        if self.saving is not None:
            self.saving.on_edit(annotation)
        self.session_changed.emit(annotation)

    def _on_screen(self) -> bool:
        """The session's image is the one on screen (same CT plane too)."""
        if self.session is None or self.view.radiograph is None:
            return False
        plane = self.session.annotation.image.plane_index
        return plane is None or (self.view.is_ct and plane == self.view.plane_index)

    def refresh(self) -> None:
        """Redraw overlays and widgets from the session (cheap: unchanged parts are skipped)."""
        if not self._on_screen():
            self.painter.clear()
            self.handles.clear()
            self.legend.hide()
        else:
            annotation, ms = self.session.annotation, self.session.measurements
            self.painter.draw(annotation, ms, self.selected, self.prefs.colour_scheme)
            self.handles.sync(annotation, self.selected)
            self.legend.show_for(self.prefs.colour_scheme)
        annotation = self.annotation
        ms = self.session.measurements if self.session is not None else None
        self.window.findings_dock.setWindowTitle(
            f"Findings (heights in {ms.unit})" if ms is not None else "Findings")
        self.window.findings_table.show_study(annotation, ms, self.selected)
        self.window.detail_panel.show_study(annotation, ms, self.selected, self.model_text)
        self.update_actions()

    def update_actions(self) -> None:
        """Enable what applies now and name what Undo/Redo would do."""
        from vcfviewer.gui.review.actions import SESSION_ACTIONS

        actions = self.window.actions
        has = self.session is not None
        for key in SESSION_ACTIONS:
            actions[key].setEnabled(has)
        actions["analyse"].setEnabled(self.view.radiograph is not None)
        session = self.session
        undo, redo = actions["undo"], actions["redo"]
        undo.setEnabled(bool(has and session.can_undo) or self.placing.active)
        redo.setEnabled(bool(has and session.can_redo))
        undo.setText(f"&Undo {session.undo_label}" if has and session.can_undo else "&Undo")
        redo.setText(f"&Redo {session.redo_label}" if has and session.can_redo else "&Redo")
        # "• " in front of the title: corrections that no export holds yet.
        base = self.window.windowTitle().removeprefix(DIRTY_MARK)
        self.window.setWindowTitle(f"{DIRTY_MARK if self.is_dirty else ''}{base}")

    # ----------------------------------------------------------------- selection
    def select(self, finding_id: str | None) -> None:
        """Select a body (None clears); the table, detail panel and overlays follow."""
        if finding_id == self.selected:
            return
        self.selected = finding_id
        self.refresh()
        self.selection_changed.emit(finding_id)

    @Slot(QPointF, object)
    def _on_view_clicked(self, point: QPointF, _modifiers: object) -> None:
        if self.placing.active:
            self.placing.add_point(point.x(), point.y())
            self.update_actions()
            return
        if self._on_screen():
            self.select(geometry.finding_at(self.session.annotation, point.x(), point.y()))

    def step_selection(self, delta: int) -> None:
        """Select the next (+1, caudal) or previous (-1) body."""
        if self.session is None or not self.session.annotation.findings:
            return
        ids = [f.finding_id for f in self.session.annotation.findings]
        if self.selected not in ids:
            self.select(ids[0] if delta > 0 else ids[-1])
            return
        self.select(ids[min(max(ids.index(self.selected) + delta, 0), len(ids) - 1)])

    # ----------------------------------------------------------------- landmark drags
    @Slot(str, int)
    def _on_handles_drag_started(self, finding_id: str, _index: int) -> None:
        self._drag_serial += 1
        self.select(finding_id)

    @Slot(str, int, float, float)
    def _on_handles_drag_moved(self, finding_id: str, index: int, x: float, y: float) -> None:
        self.edit(lambda s: s.move_landmark(finding_id, index, (x, y),
                                            drag_id=self._drag_serial))

    @Slot(str, int)
    def _on_handles_drag_finished(self, _finding_id: str, _index: int) -> None:
        if self.session is not None:
            self.session.end_drag()
        self.refresh()  # handles may be rebuilt now that the drag is over

    # ----------------------------------------------------------------- edits
    def edit(self, change: Callable[[ReviewSession], object]) -> bool:
        """Apply one edit; an edit the annotation refuses becomes a message. True when applied."""
        if self.session is None:
            self.window.show_status("Nothing to correct yet: analyse the image first (A)")
            return False
        try:
            change(self.session)
        except EditError as exc:
            self.window.show_error(str(exc), "warning")
            return False
        return True

    def _selected_or_say(self) -> str | None:
        if self.selected is None:
            self.window.show_status("Select a body first (click it, or N)")
        return self.selected

    def set_grade(self, grade: int) -> None:
        """Decide the selected body's grade (0 clears the fracture; T changes the type)."""
        fid = self._selected_or_say()
        if fid is None:
            return
        if grade == 0:
            self.edit(lambda s: s.clear_fracture(fid))
            return
        ftype = self._type_for(fid)
        if self.edit(lambda s: s.set_grade(fid, grade, ftype)):
            level = self.session.annotation.finding(fid).level
            self.window.show_status(f"{level}: grade {grade}, {ftype.value} (T changes the type)")

    def _type_for(self, finding_id: str) -> FractureType:
        """The type a newly graded body gets: its own, the measured one, else its lowest height's."""
        finding = self.session.annotation.finding(finding_id)
        if finding.fracture_type != FractureType.NONE:
            return finding.fracture_type
        m = self.session.measurements.by_id.get(finding_id)
        if m is not None and m.measured_type != FractureType.NONE:
            return m.measured_type
        by_height = {"anterior": FractureType.WEDGE, "middle": FractureType.BICONCAVE,
                     "posterior": FractureType.CRUSH}
        return by_height.get(getattr(m, "smallest_height", None) or "", FractureType.WEDGE)

    def cycle_type(self) -> None:
        """Wedge → biconcave → crush for the selected fractured body."""
        fid = self._selected_or_say()
        if fid is None:
            return
        finding = self.session.annotation.finding(fid)
        if not finding.is_fractured:
            self.window.show_status(f"{finding.level} is not called fractured; give a grade first")
            return
        index = TYPE_CYCLE.index(finding.fracture_type) if finding.fracture_type in TYPE_CYCLE else -1
        new_type = TYPE_CYCLE[(index + 1) % len(TYPE_CYCLE)]
        self.edit(lambda s: s.set_grade(fid, finding.grade, new_type))

    def relabel(self, level: str | None = None) -> None:
        """Rename the selected body's level (asks which when ``level`` is None)."""
        fid = self._selected_or_say()
        if fid is None:
            return
        current = self.session.annotation.finding(fid).level
        level = level or self.ask_level(f"New level for {current}", _level_choices(current))
        if level:
            self.edit(lambda s: s.relabel(fid, level))

    def renumber(self, steps: int) -> None:
        """Shift every level of the column by ``steps`` (positive = caudal)."""
        self.edit(lambda s: s.renumber_column(steps))

    def delete_selected(self) -> None:
        """Remove the selected body."""
        fid = self._selected_or_say()
        if fid is not None:
            self.edit(lambda s: s.delete_finding(fid))

    def begin_add_body(self, level: str | None = None) -> None:
        """Start placing the six points of a missed body."""
        if self.session is None:
            self.window.show_status("Analyse the image first (A); then add missed bodies")
            return
        self.select(None)
        self.placing.start(level)
        self.update_actions()

    def add_body(self, points: np.ndarray, level: str | None = None) -> str | None:
        """Add a body with six ``points``; the level is suggested from its neighbours."""
        if self.session is None:
            return None
        if level is None:
            centre_y = float(np.asarray(points, float)[:, 1].mean())
            suggestion = geometry.suggest_level(self.session.annotation, centre_y) or ""
            level = self.ask_level("Level of the new body", _level_choices(suggestion))
        if not level:
            return None
        added: list[str] = []
        if self.edit(lambda s: added.append(s.add_finding(level, points))):
            self.select(added[0])
            return added[0]
        return None

    @Slot(object)
    def _on_placing_completed(self, points: np.ndarray) -> None:
        self.add_body(points, self.placing.level)
        self.update_actions()

    def accept_all(self) -> None:
        """Sign off every finding as the reader named in Preferences."""
        if not self.prefs.reader:
            self.window.show_error("Set your name in File ▸ Preferences before accepting "
                                   "the findings (it is recorded as the reader).", "warning")
            return
        if self.edit(lambda s: s.accept_all(self.prefs.reader)):
            self.window.show_status("All findings accepted")

    def undo(self) -> None:
        """Undo the last correction (or the last point while adding a body)."""
        if self.placing.take_back():
            return
        if self.session is not None and self.session.undo():
            self.window.show_status("Undone")

    def redo(self) -> None:
        """Redo the last undone correction."""
        if self.session is not None and self.session.redo():
            self.window.show_status("Redone")

    def cancel_tools(self) -> None:
        """Esc: stop placing a body."""
        if self.placing.active:
            self.placing.stop()
            self.window.show_status("Adding a body cancelled")
            self.update_actions()

    # ----------------------------------------------------------------- display
    def set_group_visible(self, groups: tuple[str, ...], visible: bool) -> None:
        """Show or hide overlay groups (masks, marks, labels)."""
        for name in groups:
            self.view.overlay.set_visible(name, visible)

    def set_labels_visible(self, visible: bool) -> None:
        """Level labels, badges and the legend (L)."""
        self.set_group_visible(("labels",), visible)
        self.legend.enabled = visible
        if visible and self._on_screen():
            self.legend.show_for(self.prefs.colour_scheme)
        else:
            self.legend.hide()

    def set_scheme(self, scheme: str) -> None:
        """Colour bodies by "level" or "grade" (remembered)."""
        if scheme != self.prefs.colour_scheme:
            from dataclasses import replace

            self.set_prefs(replace(self.prefs, colour_scheme=scheme))

    def set_opacity(self, opacity: float) -> None:
        """Mask opacity 0..1 (remembered)."""
        from dataclasses import replace

        opacity = float(min(max(opacity, 0.0), 1.0))
        self.prefs = replace(self.prefs, mask_opacity=opacity)
        save_prefs(self.window.settings, self.prefs)
        self.view.overlay.set_opacity("masks", opacity)

    # ----------------------------------------------------------------- dialogs
    def _ask_replace(self) -> bool:
        answer = QMessageBox.question(
            self.window, "Re-run the model?",
            "Running the model again replaces the findings on screen, including your "
            "corrections that were not exported. Continue?")
        return answer == QMessageBox.StandardButton.Yes

    def _ask_level(self, title: str, choices: list[str]) -> str | None:
        level, ok = QInputDialog.getItem(self.window, "Level", title, choices, 0, True)
        return level.strip().upper() if ok and level.strip() else None


def _level_choices(first: str) -> list[str]:
    """Every level, ``first`` first (the suggestion or the current name)."""
    names = [n for n in _levels.ALL_LEVELS]
    if first in names:
        names.remove(first)
        names.insert(0, first)
    return names


def _model_html(analyzer) -> str:
    if analyzer is None:
        return ""
    card = getattr(analyzer, "card", None)
    task = getattr(card, "task", "")
    presets = ", ".join(sorted(getattr(card, "thresholds", {}) or {}))
    return (f"<p><b>Model</b> {analyzer.model_id} {analyzer.model_version} ({task}) on "
            f"{analyzer.device_name}; threshold presets: {presets}; active: "
            f"{getattr(analyzer, 'threshold_preset', '')}</p>")


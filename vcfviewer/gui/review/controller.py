"""The review controller: analysis on a worker, the review session, overlays, selection and edits.

Corrections are in ``editing.EditCommands``. It owns no pixels and computes no numbers: the model runs as a job on the window's runner, the
``ReviewSession`` holds the annotation, undo and measurements, and this class only wires them to
the overlays, the findings table, the detail panel and the actions. Saving (export, autosave,
restore, close prompt) lives in ``saving.SaveFlow``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from PySide6.QtCore import QObject, QPointF, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from vcfviewer.core.annotation import Proposal, StudyAnnotation
from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.progress import Progress
from vcfviewer.core.session import ReviewSession
from vcfviewer.gui.review import geometry
from vcfviewer.gui.review.analysis import AnalysisResult, ModelHolder
from vcfviewer.gui.review.editing import EditCommands
from vcfviewer.gui.review.handles import HandleSet
from vcfviewer.gui.review.overlays import Legend, OverlayPainter
from vcfviewer.gui.review.placing import AddBodyTool
from vcfviewer.gui.review.prefs import ReviewPrefs, load_prefs, save_prefs
from vcfviewer.core.annotation import image_ref_for

log = logging.getLogger(__name__)

OPACITY_STEP = 0.1
DIRTY_MARK = "• "


class ReviewController(EditCommands, QObject):
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
        self._overlays_pending = False
        self._label_pixel = 1.0
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
        self.view.view_changed.connect(self._on_view_view_changed)
        self.handles.drag_started.connect(self._on_handles_drag_started)
        self.handles.drag_moved.connect(self._on_handles_drag_moved)
        self.handles.drag_finished.connect(self._on_handles_drag_finished)
        self.placing.completed.connect(self._on_placing_completed)
        self.placing.active_changed.connect(self._on_placing_active_changed)

    def _pixel_height(self) -> float:
        """One screen pixel in image rows (labels are spaced in screen pixels)."""
        _, height = self.view.view_box.viewPixelSize()
        return float(height) if height > 0 else 1.0

    @Slot()
    def _on_view_view_changed(self) -> None:
        # Zooming changes how many image rows a label needs; panning does not.
        pixel = self._pixel_height()
        if self._on_screen() and abs(pixel - self._label_pixel) > 0.02 * self._label_pixel:
            self._refresh_overlays()

    @Slot(bool)
    def _on_placing_active_changed(self, active: bool) -> None:
        if active:
            self.legend.hide()  # the guide replaces it while the reader places points
        else:
            self.refresh()

    # ----------------------------------------------------------------- state
    @property
    def annotation(self) -> StudyAnnotation | None:
        """The annotation under review, or None."""
        return self.session.annotation if self.session is not None else None

    @property
    def analysing(self) -> bool:
        """An analysis job is running."""
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
    def warm_up(self) -> None:
        """Load the model in the background now, not when the reader first asks for it.

        Importing torch holds the interpreter for about half a second whichever thread does it;
        at start-up nobody is working yet, so the window's one hiccup happens there.
        """
        from vcfviewer.models.registry import list_models

        if self.model.loaded is not None or not list_models():
            return
        preset = self.prefs.threshold_preset

        def job():
            yield Progress("model", math.nan, "Loading the model")
            return self.model.get(preset)

        task = self.window.make_runner("model").start(job, "loading the model")
        task.result.connect(self._on_model_ready)
        task.error.connect(lambda message: self.window.show_error(
            f"The model could not be loaded: {message}", "warning"))

    def _on_model_ready(self, analyzer) -> None:
        self.model_text = f"{analyzer.model_id} {analyzer.model_version} · {analyzer.device_name}"
        self.window.set_device_text(self.model_text)
        self.window.about_extra_html = _model_html(analyzer)
        self._refresh_widgets()

    def analyse(self, confirm: bool = True) -> None:
        """Run the model on the image on screen (asks first when corrections would be lost)."""
        image = self.view.radiograph
        if image is None:
            self.window.show_status("Open an image first")
            return
        corrected = self.session is not None and (self.is_dirty or
                                                  self.session.annotation.reader_edited)
        if confirm and corrected and not self.confirm_replace():
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
        # Table and panel now, overlays on the next turn of the event loop: the window never
        # freezes for the whole of it at once (bench_gui_review measures the longest stall).
        self.set_session(ReviewSession(result.proposal), overlays_later=True)
        count = len(result.proposal.annotation.vertebrae)
        self.window.show_status(f"Analysis: {count} vertebral bodies in {result.seconds:.1f} s")
        self.analysis_done.emit(result)

    # ----------------------------------------------------------------- session
    def start_session(self, proposal: Proposal, annotation: StudyAnnotation | None = None) -> None:
        """Review ``proposal`` (or a saved ``annotation`` of it) from now on."""
        self.set_session(ReviewSession(proposal, annotation))

    def set_session(self, session: ReviewSession | None, overlays_later: bool = False) -> None:
        """Replace the session (None ends reviewing); overlays and widgets follow."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session = session
        self.selected = None
        if session is not None:
            self._unsubscribe = session.subscribe(self._on_session_changed)
        self.refresh(overlays_later)
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

    def refresh(self, overlays_later: bool = False) -> None:
        """Redraw overlays and widgets from the session (cheap: unchanged parts are skipped)."""
        if overlays_later:
            if not self._overlays_pending:
                self._overlays_pending = True
                QTimer.singleShot(0, self._refresh_overlays)
        else:
            self._refresh_overlays()
        self._refresh_widgets()

    def _refresh_overlays(self) -> None:
        self._overlays_pending = False
        if not self._on_screen():
            self.painter.clear()
            self.handles.clear()
            self.legend.hide()
        else:
            annotation, ms = self.session.annotation, self.session.measurements
            self._label_pixel = self._pixel_height()
            self.painter.draw(annotation, ms, self.selected, self.prefs.colour_scheme,
                              self._label_pixel)
            self.handles.sync(annotation, self.selected)
            self.legend.show_for(self.prefs.colour_scheme)

    def _refresh_widgets(self) -> None:
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
            "corrections (an earlier export keeps its copy until you export again). Continue?")
        return answer == QMessageBox.StandardButton.Yes

def _model_html(analyzer) -> str:
    if analyzer is None:
        return ""
    card = getattr(analyzer, "card", None)
    task = getattr(card, "task", "")
    presets = ", ".join(sorted(getattr(card, "thresholds", {}) or {}))
    return (f"<p><b>Model</b> {analyzer.model_id} {analyzer.model_version} ({task}) on "
            f"{analyzer.device_name}; threshold presets: {presets}; active: "
            f"{getattr(analyzer, 'threshold_preset', '')}</p>")

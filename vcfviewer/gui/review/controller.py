"""The review controller: analysis on a worker, the review session, overlays, selection and edits.

Corrections are in ``editing.EditCommands``. It owns no pixels and computes no numbers: the model
runs as a job on the window's runner, the ``ReviewSession`` holds the annotation, undo and
measurements, and this class only wires them to the overlays, the findings table, the detail panel
and the actions. Saving (export, autosave, restore, close prompt) lives in ``saving.SaveFlow``.

A CT volume is analysed whole; each body lives on its own sagittal plane. The plane on screen
shows its bodies in full and editable, the others as ghosts (``planes.split``); selecting a body
anywhere (table, ghost, N / Shift+N) brings its plane on screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QPointF, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from vcfviewer.core.annotation import ImageRef, Proposal, StudyAnnotation, image_ref_for
from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.session import ReviewSession
from vcfviewer.gui.review import geometry, planes
from vcfviewer.gui.review.analysis import KINDS, AnalysisResult, ModelHolder
from vcfviewer.gui.review.editing import EditCommands
from vcfviewer.gui.review.handles import HandleSet
from vcfviewer.gui.review.overlays import Legend, OverlayPainter
from vcfviewer.gui.review.placing import AddBodyTool
from vcfviewer.gui.review.prefs import ReviewPrefs, load_prefs, save_prefs

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
        self.volume: Volume | None = None  # the CT volume on screen (its planes are ``image``)
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
        self.volume = image if isinstance(image, Volume) else None
        if self.image is None:
            return
        restored = self.saving.restore(self.image_ref()) if self.saving else None
        if restored is not None:
            if restored.image.plane_index is not None:  # an older one-plane CT annotation
                self.view.set_plane(restored.image.plane_index)
            return
        if self.window.auto_analyse and self.prefs.auto_analyse:
            self.analyse(confirm=False)

    def image_ref(self) -> ImageRef | None:
        """The reference an annotation of what is on screen has (a CT: the whole reformat)."""
        if self.image is None:
            return None
        if self.view.is_ct:
            return image_ref_for(self.image, plane_count=self.view.plane_count)
        return image_ref_for(self.image)

    @Slot(int)
    def _on_view_plane_changed(self, _index: int) -> None:
        self.image = self.view.radiograph
        if self.session is not None:
            self.refresh()  # this plane's bodies in full, the others as ghosts

    # ----------------------------------------------------------------- analysis
    def warm_up(self) -> None:
        """Load the models (radiograph, then CT) in the background now, not at first use.

        Importing torch holds the interpreter for about half a second whichever thread does it;
        at start-up nobody is working yet, so the window's one hiccup happens there.
        """
        from vcfviewer.models.registry import list_models

        if not list_models() or all(self.model.loaded_for(kind) is not None for kind in KINDS):
            return
        preset = self.prefs.threshold_preset
        task = self.window.make_runner("model").start(lambda: self.model.warm_job(preset),
                                                      "loading the model")
        task.result.connect(self._on_model_ready)
        task.error.connect(lambda message: self.window.show_error(
            f"The model could not be loaded: {message}", "warning"))

    def _on_model_ready(self, analyzer) -> None:
        # Both warm models when CT has its own: "vcf-lateral 1.0.0 + vcf-ct 1.0.0 · CPU".
        loaded = [analyzer]
        for kind in KINDS:
            other = self.model.loaded_for(kind)
            if other is not None and all(other is not a for a in loaded):
                loaded.append(other)
        names = " + ".join(f"{a.model_id} {a.model_version}" for a in loaded)
        self.model_text = f"{names} · {analyzer.device_name}"
        self.window.set_device_text(self.model_text)
        self.window.about_extra_html = "".join(_model_html(a) for a in loaded)
        self._refresh_widgets()

    def analyse(self, confirm: bool = True, facing: str = "auto") -> None:
        """Run the model on what is on screen: the film, or the whole CT volume (asks first when
        corrections would be lost). ``facing`` "left"/"right" overrules the model's call of
        which way a radiograph's patient faces."""
        image = self.view.radiograph
        if image is None:
            self.window.show_status("Open an image first")
            return
        corrected = self.session is not None and (self.is_dirty or
                                                  self.session.annotation.reader_edited)
        if confirm and corrected and not self.confirm_replace():
            return
        volume = self.view.volume
        start_plane = self.view.plane_index if volume is not None else None
        if volume is not None and volume.units != "HU":
            self.window.show_status("Only CT volumes (in Hounsfield units) are analysed; this "
                                    "volume is not (MR, a label map?)", 15000)
            return
        self.image = image
        preset = self.prefs.threshold_preset
        if volume is not None:
            source: Radiograph | Volume = volume
            task = self.runner.start(lambda: self.model.volume_job(volume, preset),
                                     "analysing the CT volume")
        else:
            source = image
            task = self.runner.start(lambda: self.model.analysis_job(image, preset, facing=facing),
                                     "analysing")
        task.result.connect(lambda result: self._on_analysis_result(source, result, start_plane))
        task.error.connect(lambda message: self.window.show_error(
            f"Analysis failed: {message}"))
        task.cancelled.connect(lambda: self.window.show_status("Analysis cancelled"))
        self.window.show_status("Analysing the whole volume…" if volume is not None
                                else "Analysing…")

    def analyse_other_way(self) -> None:
        """The model read the patient's facing wrong: analyse the film again the other way round
        (unlike swapping the landmarks, the bodies are found and graded afresh)."""
        from vcfviewer.models.facing import other_side  # pure, no torch

        facing = self.session.proposal.facing if self.session is not None else None
        if facing is None or self.view.volume is not None:
            self.window.show_status("Analyse the radiograph first (A); a CT volume is oriented "
                                    "by its own geometry")
            return
        self.analyse(facing=other_side(facing))

    def _on_analysis_result(self, source: Radiograph | Volume, result: AnalysisResult,
                            start_plane: int | None = None) -> None:
        on_screen = self.view.volume if isinstance(source, Volume) else self.view.radiograph
        if source is not on_screen:
            return  # the reader moved on; this result belongs to nothing on screen
        if self.saving is not None:
            self.saving.leave_session(discard=True)
        self.model_text = f"{result.model_id} {result.model_version} · {result.device_name}"
        self.window.set_device_text(self.model_text)
        self.window.about_extra_html = _model_html(
            self.model.loaded_for("ct" if isinstance(source, Volume) else "radiograph"))
        # Table and panel now, overlays on the next turn of the event loop: the window never
        # freezes for the whole of it at once (bench_gui_review measures the longest stall).
        self.set_session(ReviewSession(result.proposal), overlays_later=True)
        annotation = result.proposal.annotation
        count = len(annotation.vertebrae)
        used = {annotation.plane_of(f) for f in annotation.vertebrae} - {None}
        where = f" on {len(used)} sagittal planes" if len(used) > 1 else ""
        planes = sorted(annotation.plane_of(f) for f in annotation.vertebrae
                        if annotation.plane_of(f) is not None)
        if planes and start_plane is not None and self.view.plane_index == start_plane:
            # The reader did not scroll meanwhile: show the column where most bodies were measured.
            self.view.set_plane(planes[len(planes) // 2])
        facing = result.proposal.facing
        read = f", read facing {facing}" if facing else ""
        self.window.show_status(
            f"Analysis: {count} vertebral bodies{where}{read} in {result.seconds:.1f} s")
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
        """The session's image is the one on screen (any plane of its CT volume)."""
        if self.session is None or self.view.radiograph is None:
            return False
        return self.view.is_ct or not self.session.annotation.image.is_reformat

    @property
    def current_plane(self) -> int | None:
        """The sagittal plane on screen (None for a radiograph)."""
        return self.view.plane_index if self.view.is_ct else None

    def plane_split(self) -> planes.PlaneSplit:
        """The session's bodies on the plane on screen, and the others (ghosts)."""
        return planes.split(self.session.annotation, self.current_plane)

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
        self._refresh_plane_note()
        if not self._on_screen():
            self.painter.clear()
            self.handles.clear()
            self.legend.hide()
        else:
            split, ms = self.plane_split(), self.session.measurements
            self._label_pixel = self._pixel_height()
            self.painter.draw(split.on_plane, ms, self.selected, self.prefs.colour_scheme,
                              self._label_pixel, split.ghosts)
            self.handles.sync(split.on_plane, self.selected)  # only this plane's are editable
            if self.session.annotation.findings:
                self.legend.show_for(self.prefs.colour_scheme, self.view.is_ct)
            else:
                self.legend.hide()  # nothing found: a key to nothing only hides the image

    def _refresh_plane_note(self) -> None:
        if not self.view.is_ct:
            return
        note = planes.plane_note(self.annotation if self._on_screen() else None,
                                 self.view.plane_index)
        if note != self.view.plane_note:
            self.view.set_plane_note(note)
            if self.legend.label.isVisible():
                self.legend.place()  # the corner text above it changed height

    def _refresh_widgets(self) -> None:
        annotation = self.annotation
        ms = self.session.measurements if self.session is not None else None
        self.window.findings_dock.setWindowTitle(
            f"Findings (heights in {ms.unit})" if ms is not None else "Findings")
        self.window.findings_table.show_study(annotation, ms, self.selected, self.current_plane)
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
        actions["analyse_other_way"].setEnabled(
            has and self.view.volume is None and self.session.proposal.facing is not None)
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
        """Select a body (None clears); the table, detail panel and overlays follow, and on a CT
        the view goes to the plane the body is measured on."""
        changed = finding_id != self.selected
        self.selected = finding_id
        jumped = self._show_plane_of(finding_id)  # a new plane refreshes everything itself
        if changed and not jumped:
            self.refresh()
        if changed:
            self.selection_changed.emit(finding_id)

    def _show_plane_of(self, finding_id: str | None) -> bool:
        """Bring the plane of ``finding_id`` on screen; True when the plane changed."""
        if finding_id is None or self.session is None or not self.view.is_ct:
            return False
        try:
            plane = self.session.annotation.plane_of(self.session.annotation.finding(finding_id))
        except KeyError:
            return False
        if plane is None or plane == self.view.plane_index or plane >= self.view.plane_count:
            return False
        self.view.set_plane(plane)
        return True

    @Slot(QPointF, object)
    def _on_view_clicked(self, point: QPointF, _modifiers: object) -> None:
        if self.placing.active:
            self.placing.add_point(point.x(), point.y())
            self.update_actions()
            return
        if not self._on_screen():
            return
        split = self.plane_split()
        x, y = point.x(), point.y()
        picked = geometry.finding_at(split.on_plane, x, y)
        if picked is None and split.ghosts:  # a ghost: go to the plane it is measured on
            ghosts = replace(self.session.annotation, findings=[f for f, _ in split.ghosts])
            picked = geometry.finding_at(ghosts, x, y)
        self.select(picked)

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
            self._refresh_overlays()
        else:
            self.legend.hide()

    def set_scheme(self, scheme: str) -> None:
        """Colour bodies by "level" or "grade" (remembered)."""
        if scheme != self.prefs.colour_scheme:
            self.set_prefs(replace(self.prefs, colour_scheme=scheme))

    def set_opacity(self, opacity: float) -> None:
        """Mask opacity 0..1 (remembered)."""
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

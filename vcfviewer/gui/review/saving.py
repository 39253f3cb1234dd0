"""Saving the review: export on a worker, restore on reopen, autosave, recovery, close prompt.

* Export writes every format via ``io.export.export_study`` into the chosen folder (remembered).
* Reopening an image restores, in this order, its autosave (unexported corrections from a
  session that ended without export) or its exported annotation, instead of re-running the model.
* Unsaved corrections prompt on close (Export / Discard / Cancel) through ``close_guards``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from vcfviewer.core.annotation import ImageRef, Proposal, StudyAnnotation
from vcfviewer.gui.autosave import Autosaver, describe_entries, find_autosave, list_autosaves
from vcfviewer.gui.review.storage import find_exported, with_reader

log = logging.getLogger(__name__)

EXPORT, DISCARD, CANCEL = "export", "discard", "cancel"


class SaveFlow(QObject):
    """Export, restore, autosave and the close prompt for one ReviewController."""

    exported = Signal(object)  # ExportReport

    def __init__(self, controller, autosave_folder: Path | None = None) -> None:
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self.runner = self.window.make_runner("export")
        self.autosaver = Autosaver(self.window.make_runner("autosave", track_progress=False),
                                   autosave_folder, parent=self)
        self.autosaver.failed.connect(lambda text: self.window.show_error(text, "warning"))
        self.restored_unsaved = False  # the session came from an autosave: not exported yet
        self._close_after_export = False
        self.ask_unsaved: Callable[[], str] = self._ask_unsaved
        self.choose_folder: Callable[[str], str] = self._choose_folder
        self.window.close_guards.append(self.close_guard)

    # ----------------------------------------------------------------- restore
    def restore(self, ref: ImageRef) -> StudyAnnotation | None:
        """Start a session from this image's autosave or export, if either exists."""
        autosaved = find_autosave(ref, self.autosaver.folder)
        if autosaved is not None:
            self._start(autosaved, unsaved=True)
            self.window.show_status("Restored unexported corrections from the autosave "
                                    "(Analyse re-runs the model)", 15000)
            return autosaved
        exported = find_exported(ref, self.controller.prefs.export_dir)
        if exported is not None:
            self._start(exported, unsaved=False)
            self.window.show_status("Restored the exported annotation "
                                    "(Analyse re-runs the model)", 15000)
            return exported
        return None

    def _start(self, annotation: StudyAnnotation, unsaved: bool) -> None:
        prov = annotation.provenance
        if prov.model_id:
            self.controller.model_text = f"{prov.model_id} {prov.model_version or ''} (restored)"
        self.restored_unsaved = unsaved
        self.controller.start_session(Proposal(annotation=annotation, device="restored"))

    # ----------------------------------------------------------------- autosave
    def on_edit(self, annotation: StudyAnnotation) -> None:
        """After every edit: schedule the autosave (nothing to keep when the state is saved)."""
        if self.controller.is_dirty:
            self.autosaver.schedule(annotation)
        else:
            self.autosaver.discard(annotation.image)

    def leave_session(self, discard: bool = False) -> None:
        """The session is about to end: keep its corrections in the autosave (or drop them)."""
        session = self.controller.session
        if session is None:
            return
        if discard:
            self.autosaver.discard(session.annotation.image)
        elif self.controller.is_dirty:
            self.autosaver.schedule(session.annotation)
            self.autosaver.flush()
            self.window.show_status("Unexported corrections kept in the autosave; reopen the "
                                    "image to continue", 15000)
        self.restored_unsaved = False

    def offer_recovery(self) -> None:
        """At start: offer to reopen images whose corrections were autosaved, never exported."""
        entries = list_autosaves(self.autosaver.folder)
        if not entries:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved work",
                          f"Corrections that were never exported were found for "
                          f"{describe_entries(entries)}.\nReopen the most recent now?",
                          QMessageBox.StandardButton.NoButton, self.window)
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setObjectName("recoveryBox")

        def on_done(_result: int) -> None:
            if box.clickedButton() is recover:
                self.recover(entries[0].annotation)
            elif box.clickedButton() is discard:
                for entry in entries:
                    entry.path.unlink(missing_ok=True)
        box.finished.connect(on_done)
        self.recovery_box = box
        box.open()  # non-modal: the window stays usable behind it

    def recover(self, annotation: StudyAnnotation | None = None) -> None:
        """Reopen an autosaved image (the newest, or ``annotation``'s); restore does the rest."""
        if annotation is None:
            entries = list_autosaves(self.autosaver.folder)
            if not entries:
                self.window.show_status("No unsaved review to recover")
                return
            annotation = entries[0].annotation
        path = annotation.image.path
        if not path or not Path(path).exists():
            self.window.show_error(f"The autosaved image is no longer at {path or '(unknown)'}.")
            return
        self.window.open_path(path)

    # ----------------------------------------------------------------- export
    def export(self, choose: bool = False) -> bool:
        """Export the session into the export folder (asked once, or when ``choose``)."""
        controller = self.controller
        session, image = controller.session, controller.image
        if session is None or image is None:
            self.window.show_status("Nothing to export yet")
            return False
        folder = controller.prefs.export_dir
        if choose or not folder or not Path(folder).is_dir():
            folder = self.choose_folder(folder)
            if not folder:
                return False
            controller.set_prefs(replace(controller.prefs, export_dir=folder))
        state = session.annotation
        annotation = with_reader(state, controller.prefs.reader)
        reformat = annotation.image.is_reformat
        source = image.source.path if image.source.sop_instance_uid and not reformat else None
        measurements = session.measurements
        volume = controller.volume if reformat else None

        def job():
            from vcfviewer.io.export import export_study

            extra = {"volume": volume} if volume is not None and _takes_volume(export_study) \
                else {}
            return (yield from export_study(image, annotation, folder, source_dicom_path=source,
                                            measurements=measurements, **extra))

        task = self.runner.start(job, "exporting")
        task.result.connect(lambda report: self._on_export_result(state, report))
        task.error.connect(lambda message: self._on_export_failed(message))
        task.cancelled.connect(lambda: self.window.show_status("Export cancelled"))
        self.window.show_status(f"Exporting to {folder}…")
        return True

    def _on_export_result(self, state: StudyAnnotation, report) -> None:
        session = self.controller.session
        if "json" in report.written and session is not None and session.annotation is state:
            session.mark_saved()
            self.restored_unsaved = False
            self.autosaver.discard(state.image)
            self.controller.update_actions()
        if report.failed:
            self.window.show_error("Export finished with errors:\n" + report.summary(), "warning")
            self._close_after_export = False
        else:
            self.window.show_status(f"Exported {len(report.written)} files to {report.out_dir}",
                                    15000)
        self.exported.emit(report)
        if self._close_after_export:
            self._close_after_export = False
            QTimer.singleShot(0, self.window.close)

    def _on_export_failed(self, message: str) -> None:
        self._close_after_export = False
        self.window.show_error(f"Export failed: {message}")

    # ----------------------------------------------------------------- closing
    def close_guard(self) -> bool:
        """False vetoes closing: unsaved corrections are exported or discarded first."""
        if not self.controller.is_dirty:
            return True
        answer = self.ask_unsaved()
        if answer == EXPORT:
            self._close_after_export = self.export()
            return False
        if answer == DISCARD:
            self.autosaver.discard(self.controller.session.annotation.image)
            return True
        return False

    def _ask_unsaved(self) -> str:
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved corrections",
                          "This image has corrections that were not exported.",
                          QMessageBox.StandardButton.NoButton, self.window)
        box.setInformativeText("Export them now, or discard them?")
        export = box.addButton("Export", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(export)
        box.exec()
        clicked = box.clickedButton()
        return EXPORT if clicked is export else DISCARD if clicked is discard else CANCEL

    def _choose_folder(self, start: str) -> str:
        return QFileDialog.getExistingDirectory(self.window, "Export folder", start or str(Path.home()))


def _takes_volume(export_study: Callable) -> bool:
    # CT exports (SEG over the series, SR in patient mm, per-plane training entries) need the
    # volume; an export module from before that keyword writes what it can without it.
    import inspect

    return "volume" in inspect.signature(export_study).parameters

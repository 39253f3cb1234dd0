"""Autosave of the review in progress, and recovery after a crash.

Each edit restarts a ~2 s timer; when it fires, the annotation JSON is written atomically on a
worker thread to ``paths.user_data_dir()/autosave/<image key>.annotation.json``. A crash
therefore loses at most the last couple of seconds. An export (or a deliberate "discard")
deletes the file; whatever is left at the next start is offered for recovery. Writes are
serialised and numbered, so a slow older write can never land on top of a newer one or bring
back a file that was just discarded.

A whole-volume CT annotation is keyed by its series (Series Instance UID, else the path) and the
reformat's plane count, never by a plane: its bodies lie on many planes. Autosaves of the older
one-plane CT annotations (keyed by plane) are still found for the same volume.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from vcfviewer.core.annotation import ImageRef, StudyAnnotation
from vcfviewer.core.progress import Job, Progress
from vcfviewer.gui.workers import JobRunner

log = logging.getLogger(__name__)

DEBOUNCE_MS = 2000
SUFFIX = ".annotation.json"


def autosave_dir() -> Path:
    """Where autosaves live (inside the per-user data folder)."""
    from vcfviewer.paths import user_data_dir

    return user_data_dir() / "autosave"


def _path_key(path: str) -> str:
    resolved = str(Path(path).expanduser().resolve()) if path else ""
    return "path-" + hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:20]


def image_key(image: ImageRef) -> str:
    """A file-name-safe key of the annotated image: its SOP Instance UID, else its path (a CT
    volume: its series and plane count)."""
    if image.plane_count is not None and image.plane_index is None:
        base = f"series-{image.series_instance_uid}" if image.series_instance_uid else \
            _path_key(image.path)
        return f"{base}_n{image.plane_count}"
    if image.sop_instance_uid:
        key = image.sop_instance_uid
        if image.frame_number is not None:
            key += f"_f{image.frame_number}"
    else:
        key = _path_key(image.path)
    if image.plane_index is not None:
        key += f"_p{image.plane_index}"
    return key


def same_volume(a: ImageRef, b: ImageRef) -> bool:
    """True when two CT reformat references name the same volume (series UID, else path), on
    whichever planes; a known plane count must agree."""
    if not (a.is_reformat and b.is_reformat) or (a.rows, a.columns) != (b.rows, b.columns):
        return False
    if None not in (a.plane_count, b.plane_count) and a.plane_count != b.plane_count:
        return False
    if a.series_instance_uid and b.series_instance_uid:
        return a.series_instance_uid == b.series_instance_uid
    return _same_path(a.path, b.path)


def _same_path(a: str, b: str) -> bool:
    if not a or not b:
        return False
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def same_image(a: ImageRef, b: ImageRef) -> bool:
    """True when two references name the same image (UID first, else the resolved path); a
    whole-volume CT annotation's, when they name the same volume with the same plane count."""
    if (a.rows, a.columns) != (b.rows, b.columns) or a.plane_index != b.plane_index:
        return False
    if a.plane_count != b.plane_count:
        return False
    if a.plane_count is not None and a.plane_index is None:
        return same_volume(a, b)
    if a.sop_instance_uid or b.sop_instance_uid:
        return a.sop_instance_uid == b.sop_instance_uid and a.frame_number == b.frame_number
    return _same_path(a.path, b.path)


@dataclass(frozen=True)
class AutosaveEntry:
    """One autosave found on disk."""

    path: Path
    annotation: StudyAnnotation
    modified: float  # seconds since the epoch

    @property
    def image_name(self) -> str:
        return Path(self.annotation.image.path).name or self.annotation.image.sop_instance_uid or "?"


def list_autosaves(folder: Path | None = None) -> list[AutosaveEntry]:
    """Readable autosaves, newest first (damaged files are skipped with a log line)."""
    from vcfviewer.io.annotation_json import AnnotationFileError, read_annotation

    folder = folder or autosave_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"*{SUFFIX}"):
        try:
            found.append(AutosaveEntry(path, read_annotation(path), path.stat().st_mtime))
        except (AnnotationFileError, OSError):
            log.warning("skipping an unreadable autosave file")
    return sorted(found, key=lambda e: e.modified, reverse=True)


def find_autosave(image: ImageRef, folder: Path | None = None) -> StudyAnnotation | None:
    """The autosaved annotation of ``image``, or None. For a whole CT volume, an autosave of an
    older one-plane annotation of the same volume is taken when there is no whole-volume one."""
    folder = folder or autosave_dir()
    annotation = _read_autosave(folder / f"{image_key(image)}{SUFFIX}")
    if annotation is not None and same_image(annotation.image, image):
        return annotation
    if image.plane_count is None or image.plane_index is not None:
        return None
    # One-plane keys were "<image key>_p<plane>"; the newest of this volume wins.
    older = (_read_autosave(path) for path in sorted(
        folder.glob(f"{_path_key(image.path)}_p*{SUFFIX}"),
        key=lambda p: p.stat().st_mtime, reverse=True))
    return next((a for a in older if a is not None and a.image.plane_index is not None
                 and same_volume(a.image, image)), None)


def _read_autosave(path: Path) -> StudyAnnotation | None:
    from vcfviewer.io.annotation_json import AnnotationFileError, read_annotation

    if not path.is_file():
        return None
    try:
        return read_annotation(path)
    except (AnnotationFileError, OSError):
        log.warning("ignoring an unreadable autosave file")
        return None


class Autosaver(QObject):
    """Debounced, serialised autosave writes (see module docstring)."""

    saved = Signal(str)  # path written
    failed = Signal(str)  # reason

    def __init__(self, runner: JobRunner, folder: Path | None = None,
                 delay_ms: int = DEBOUNCE_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._folder = folder
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._pending: StudyAnnotation | None = None
        self._lock = threading.Lock()
        self._serial = 0

    @property
    def folder(self) -> Path:
        return self._folder or autosave_dir()

    def path_for(self, image: ImageRef) -> Path:
        """The autosave file of ``image``."""
        return self.folder / f"{image_key(image)}{SUFFIX}"

    @property
    def pending(self) -> bool:
        """An edit is waiting for the timer."""
        return self._pending is not None

    def schedule(self, annotation: StudyAnnotation) -> None:
        """Write ``annotation`` once the edits pause for the debounce delay."""
        self._pending = annotation
        self._timer.start()

    def flush(self) -> None:
        """Write the pending annotation now, on this thread (switching studies, closing)."""
        self._timer.stop()
        annotation, self._pending = self._pending, None
        if annotation is not None:
            self._serial += 1
            try:
                self._write(annotation, self._serial)
            except Exception as exc:  # noqa: BLE001 - a failed autosave must not stop the reader
                self.failed.emit(f"Autosave failed: {exc}")

    def discard(self, image: ImageRef) -> None:
        """Forget pending edits and delete the autosave of ``image`` (exported or discarded)."""
        self._timer.stop()
        self._pending = None
        with self._lock:
            self._serial += 1  # any write still running for an older state skips itself
            try:
                self.path_for(image).unlink(missing_ok=True)
            except OSError:
                log.warning("could not delete an autosave file")

    @Slot()
    def _on_timer_timeout(self) -> None:
        annotation, self._pending = self._pending, None
        if annotation is None:
            return
        self._serial += 1
        serial = self._serial
        task = self._runner.start(lambda: self._job(annotation, serial), "autosave")
        task.result.connect(lambda path: self.saved.emit(str(path)) if path else None)
        task.error.connect(lambda message: self.failed.emit(f"Autosave failed: {message}"))

    def _job(self, annotation: StudyAnnotation, serial: int) -> Job[Path | None]:
        yield Progress("autosave", 0.0, "Autosaving")
        return self._write(annotation, serial)

    def _write(self, annotation: StudyAnnotation, serial: int) -> Path | None:
        from vcfviewer.io import atomic
        from vcfviewer.io.annotation_json import write_annotation

        with self._lock:
            if serial != self._serial:
                return None  # a newer state (or a discard) came after this one
            atomic.ensure_folder(self.folder)
            return write_annotation(annotation, self.path_for(annotation.image))


def describe_entries(entries: list[AutosaveEntry], limit: int = 5) -> str:
    """ "film2.dcm, film3.dcm and 2 more" for a recovery prompt (file names only)."""
    names = [os.path.basename(e.image_name) for e in entries]
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")

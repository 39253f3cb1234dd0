"""Run any headless Job generator off the GUI thread (ARCHITECTURE rule 3).

A ``JobTask`` drives one generator on its own QThread through a worker QObject; the GUI only
receives signals (``progress``, ``result``, ``error``, ``cancelled``, ``finished``), delivered on
the GUI thread. Cancel is a flag checked between yields. After ``cancel()`` returns, no result or
progress of that task reaches the GUI any more, so a superseded load can never overwrite a newer
one. A ``JobRunner`` keeps at most one task of a kind running (scan, load, later analysis) and is
shut down with the window, so no thread outlives it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from vcfviewer.core.progress import Progress

log = logging.getLogger(__name__)

JobFactory = Callable[[], Generator[Progress, None, Any]]

# Every QThread we ever started, so tests (and shutdown) can prove none is left running.
_STARTED: "weakref.WeakSet[QThread]" = weakref.WeakSet()


def running_threads() -> list[QThread]:
    """QThreads started by this module that are still running."""
    return [thread for thread in list(_STARTED) if thread.isRunning()]


def describe_error(exc: BaseException) -> str:
    """A reader-facing sentence for an exception: the project's own errors speak for themselves."""
    text = str(exc).strip()
    if type(exc).__module__.startswith("vcfviewer"):
        return text or type(exc).__name__
    # Unexpected library errors: say what kind, never a traceback.
    return f"unexpected {type(exc).__name__}: {text}" if text else f"unexpected {type(exc).__name__}"


class _Worker(QObject):
    """Lives on the worker thread; touches no widget, only emits."""

    progress = Signal(object)
    result = Signal(object)
    error = Signal(object)  # the exception itself; JobTask turns it into a sentence
    cancelled = Signal()
    done = Signal()

    def __init__(self, factory: JobFactory, cancel_flag: threading.Event, label: str) -> None:
        super().__init__()
        self._factory = factory
        self._cancel_flag = cancel_flag
        self._label = label

    @Slot()
    def run(self) -> None:
        try:
            self._drive()
        finally:
            self.done.emit()

    def _drive(self) -> None:
        job = None
        try:
            job = self._factory()  # built here so even generator set-up runs off the GUI thread
            while not self._cancel_flag.is_set():
                try:
                    report = next(job)
                except StopIteration as finished:
                    self.result.emit(finished.value)
                    return
                self.progress.emit(report)
            job.close()
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, not a crash
            # Only the type goes to the log: messages from DICOM libraries can carry header values.
            log.warning("%s failed with %s", self._label, type(exc).__name__)
            if job is not None:
                job.close()
            self.error.emit(exc)


class JobTask(QObject):
    """One job running on its own QThread; all signals arrive on the GUI thread."""

    progress = Signal(object)  # Progress
    result = Signal(object)  # whatever the job returned
    error = Signal(str)  # a readable message
    cancelled = Signal()
    finished = Signal()  # always last, whatever the outcome

    def __init__(self, factory: JobFactory, label: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self._cancel_flag = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName(f"vcfviewer-{label}")
        self._worker = _Worker(factory, self._cancel_flag, label)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_worker_progress)
        self._worker.result.connect(self._on_worker_result)
        self._worker.error.connect(self._on_worker_error)
        self._worker.cancelled.connect(self._on_worker_cancelled)
        # Direct: quit from the worker thread itself, so a GUI thread blocked in wait() still
        # sees the thread end (a queued quit would wait for the blocked event loop).
        self._worker.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished)
        self._outcome_sent = False
        self._finished = False
        self.exception: BaseException | None = None  # set before ``error`` is emitted

    def start(self) -> "JobTask":
        """Start the thread; returns self so calls chain."""
        _STARTED.add(self._thread)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop at its next yield; from now on only ``cancelled``/``finished`` arrive."""
        if self._finished or self._cancel_flag.is_set():
            return
        self._cancel_flag.set()
        self._send_cancelled()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel_flag.is_set()

    @property
    def is_finished(self) -> bool:
        return self._finished

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Block until the thread has ended; True when it did within the timeout."""
        if self._finished or not self._thread.isRunning():
            return True
        return bool(self._thread.wait(timeout_ms))

    def _send_cancelled(self) -> None:
        if not self._outcome_sent:
            self._outcome_sent = True
            self.cancelled.emit()

    @Slot(object)
    def _on_worker_progress(self, report: object) -> None:
        if not self._cancel_flag.is_set():
            self.progress.emit(report)

    @Slot(object)
    def _on_worker_result(self, value: object) -> None:
        if self._cancel_flag.is_set() or self._outcome_sent:
            return
        self._outcome_sent = True
        self.result.emit(value)

    @Slot(object)
    def _on_worker_error(self, exc: BaseException) -> None:
        if self._cancel_flag.is_set() or self._outcome_sent:
            return
        self._outcome_sent = True
        self.exception = exc
        self.error.emit(describe_error(exc))

    @Slot()
    def _on_worker_cancelled(self) -> None:
        self._send_cancelled()

    @Slot()
    def _on_thread_finished(self) -> None:
        self._finished = True
        self.finished.emit()


class JobRunner(QObject):
    """Keeps at most one job of a kind running: starting a new one cancels the previous one."""

    task_started = Signal(object)  # JobTask, for a shared progress display

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._current: JobTask | None = None
        self._alive: set[JobTask] = set()  # Python references until each thread has ended

    @property
    def current(self) -> JobTask | None:
        """The latest task if it has not finished yet."""
        if self._current is not None and not self._current.is_finished:
            return self._current
        return None

    @property
    def busy(self) -> bool:
        return any(not task.is_finished for task in self._alive)

    def start(self, factory: JobFactory, label: str | None = None) -> JobTask:
        """Cancel whatever runs, then start ``factory()`` on a fresh thread; connect before events run."""
        self.cancel()
        # No Qt parent: Python owns the task, and ``_alive`` keeps it until its thread has ended.
        task = JobTask(factory, label or self.name)
        self._alive.add(task)
        task.finished.connect(self._on_task_finished)
        self._current = task
        self.task_started.emit(task)
        return task.start()

    def cancel(self) -> None:
        """Cancel the running task, if any (it stops at its next yield)."""
        if self._current is not None:
            self._current.cancel()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything and wait for the threads to end; True when all ended in time."""
        for task in list(self._alive):
            task.cancel()
        ok = True
        for task in list(self._alive):
            ok = task.wait(timeout_ms) and ok
        if not ok:
            log.warning("%s: a job did not stop within %d ms", self.name, timeout_ms)
        return ok

    @Slot()
    def _on_task_finished(self) -> None:
        task = self.sender()
        self._alive.discard(task)  # type: ignore[arg-type]
        if self._current is task:
            self._current = None

"""The job worker: results, progress, errors and cancellation arrive as signals; no thread leaks."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread

from vcfviewer.core.progress import Progress
from vcfviewer.gui.workers import JobRunner, JobTask, describe_error, running_threads
from vcfviewer.io.errors import LoadError


def counting_job(n: int, record: list | None = None):
    for i in range(n):
        if record is not None:
            record.append(threading.get_ident())
        yield Progress("count", (i + 1) / n, f"step {i + 1}")
    return n * 10


def endless_job(started: threading.Event, steps: list[int]):
    i = 0
    started.set()
    while True:
        steps.append(i)
        i += 1
        time.sleep(0.005)
        yield Progress("spin", float("nan"))


def failing_job():
    yield Progress("load", 0.5)
    raise LoadError("/data/a.dcm", "pixel data truncated")


def test_result_and_progress_arrive_on_the_gui_thread(qtbot) -> None:
    worker_threads: list[int] = []
    reports: list[Progress] = []
    task = JobTask(lambda: counting_job(3, worker_threads), "count")
    task.progress.connect(reports.append)
    with qtbot.waitSignal(task.result, timeout=5000) as blocker, \
            qtbot.waitSignal(task.finished, timeout=5000):
        task.start()
    assert blocker.args == [30]
    assert [r.message for r in reports] == ["step 1", "step 2", "step 3"]
    assert set(worker_threads) and threading.get_ident() not in worker_threads
    assert task.is_finished and task.wait(100)


def test_error_becomes_a_readable_message(qtbot) -> None:
    task = JobTask(failing_job, "load")
    with qtbot.waitSignal(task.error, timeout=5000) as blocker, \
            qtbot.waitSignal(task.finished, timeout=5000):
        task.start()
    assert blocker.args == ["/data/a.dcm: pixel data truncated"]
    assert isinstance(task.exception, LoadError)


def test_unexpected_library_error_names_its_type_without_traceback() -> None:
    text = describe_error(KeyError("PixelData"))
    assert text == "unexpected KeyError: 'PixelData'"
    assert "Traceback" not in text


def test_cancel_stops_between_yields_and_suppresses_the_result(qtbot) -> None:
    started, steps = threading.Event(), []
    results: list[object] = []
    task = JobTask(lambda: endless_job(started, steps), "spin")
    task.result.connect(results.append)
    task.start()
    assert started.wait(5)
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=5000)
    with qtbot.waitSignal(task.cancelled, timeout=1000), \
            qtbot.waitSignal(task.finished, timeout=5000):
        task.cancel()
    done = len(steps)
    time.sleep(0.05)
    assert len(steps) == done  # the generator was closed, not left spinning
    assert results == [] and task.is_cancelled
    assert not running_threads()


def test_runner_supersedes_the_previous_job(qtbot) -> None:
    runner = JobRunner("load")
    started, steps = threading.Event(), []
    first = runner.start(lambda: endless_job(started, steps))
    assert started.wait(5)
    first_cancelled: list[bool] = []
    first.cancelled.connect(lambda: first_cancelled.append(True))
    second = runner.start(lambda: counting_job(2))
    assert first.is_cancelled and first_cancelled == [True]
    with qtbot.waitSignal(second.result, timeout=5000) as blocker:
        pass
    assert blocker.args == [20]
    assert runner.shutdown(5000)
    qtbot.waitUntil(lambda: not runner.busy, timeout=5000)
    assert runner.current is None


def test_shutdown_stops_a_running_job(qtbot) -> None:
    runner = JobRunner("scan")
    started, steps = threading.Event(), []
    task = runner.start(lambda: endless_job(started, steps))
    assert started.wait(5)
    assert runner.shutdown(5000)
    assert not task._thread.isRunning()
    assert not running_threads()


def test_leak_guard_sees_a_thread_left_running(qtbot) -> None:
    """The conftest guard records every QThread started; prove the recording works."""
    thread = QThread()
    thread.start()
    try:
        assert thread.isRunning()
        assert QThread.start.__name__ == "recording_start"
    finally:
        thread.quit()
        assert thread.wait(5000)


@pytest.mark.parametrize("n", [0, 1])
def test_jobs_with_few_steps_still_finish(qtbot, n: int) -> None:
    task = JobTask(lambda: counting_job(n), "short")
    with qtbot.waitSignal(task.result, timeout=5000) as blocker:
        task.start()
    assert blocker.args == [n * 10]
    qtbot.waitUntil(lambda: task.is_finished, timeout=5000)

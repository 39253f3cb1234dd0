"""Progress reports yielded by every slow headless job (loading, scanning, inference, export).

A job is a generator that yields ``Progress`` and returns its result (``return value`` inside the
generator); ``run_to_completion`` drives one without a GUI. The GUI worker drives the same
generator on a thread and checks for cancellation between yields (ARCHITECTURE rule 3).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    stage: str  # short machine-friendly name: "scan", "decode", "network", "measure", ...
    fraction: float  # 0..1 within the whole job; NaN when unknown
    message: str = ""  # human sentence for the status bar (never patient data)


class Cancelled(Exception):
    """Raised inside a job's driver when the user cancelled between two yields."""


Job = Generator[Progress, None, T]


def run_to_completion(
    job: Generator[Progress, None, T],
    on_progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> T:
    """Drive a job generator to its result, reporting progress and honouring cancellation."""
    while True:
        try:
            report = next(job)
        except StopIteration as done:
            return done.value
        if on_progress is not None:
            on_progress(report)
        if should_cancel is not None and should_cancel():
            job.close()
            raise Cancelled(report.stage)

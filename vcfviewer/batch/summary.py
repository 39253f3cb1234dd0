"""What a batch reports: a progress line on stderr, ``summary.csv``, ``errors.csv``, a table.

Nothing here prints a patient name or ID: rows are keyed by the study key (a hash), and the only
path shown is the source file relative to the batch root, in the CSV files only (and not at all
with ``--deidentify``).
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from vcfviewer.batch.plan import FileIssue
from vcfviewer.batch.task import DONE_BEFORE, FAILED, OK, SKIPPED, StudyResult

SUMMARY_FILE, ERRORS_FILE = "summary.csv", "errors.csv"
SUMMARY_COLUMNS = ("key", "status", "any_fracture", "worst_grade", "sdi", "levels_flagged",
                   "vertebrae", "study_probability", "seconds", "model", "device", "modality",
                   "source", "reason", "notes")
ERRORS_COLUMNS = ("key", "stage", "source", "reason")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if math.isfinite(value) else ""
    if isinstance(value, (tuple, list)):
        return ";".join(str(v) for v in value)
    return str(value)


def summary_row(result: StudyResult) -> dict[str, str]:
    """One summary.csv row (all strings)."""
    model = f"{result.model_id} {result.model_version}".strip()
    values = result.to_dict() | {"model": model}
    return {name: _cell(values.get(name)) for name in SUMMARY_COLUMNS}


def error_rows(results: Sequence[StudyResult], issues: Sequence[FileIssue]) -> list[dict[str, str]]:
    """errors.csv rows: failed studies, then files the scan could not use."""
    rows = [{"key": r.key, "stage": r.stage, "source": r.source, "reason": r.reason}
            for r in results if r.status == FAILED]
    rows += [{"key": "", "stage": "scan", "source": i.source, "reason": i.reason} for i in issues]
    return rows


def _csv_text(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_reports(out_dir: Path, results: Sequence[StudyResult],
                  issues: Sequence[FileIssue]) -> tuple[Path, Path]:
    """Write summary.csv and errors.csv atomically into ``out_dir``."""
    from vcfviewer.io import atomic

    summary = atomic.write_text(out_dir / SUMMARY_FILE,
                                _csv_text(SUMMARY_COLUMNS, [summary_row(r) for r in results]))
    errors = atomic.write_text(out_dir / ERRORS_FILE,
                               _csv_text(ERRORS_COLUMNS, error_rows(results, issues)))
    return summary, errors


def counts(results: Sequence[StudyResult]) -> dict[str, int]:
    """Studies per status, plus how many have a fracture."""
    tally = Counter(r.status for r in results)
    out = {status: tally.get(status, 0) for status in (OK, DONE_BEFORE, SKIPPED, FAILED)}
    out["with_fracture"] = sum(1 for r in results if r.any_fracture)
    return out


def table(results: Sequence[StudyResult]) -> str:
    """The summary as a fixed-width text table for the terminal."""
    header = f"{'study':<30} {'status':<11} {'fracture':<8} {'worst':>5} {'SDI':>4} " \
             f"{'time s':>7}  levels flagged / reason"
    lines = [header, "-" * len(header)]
    for r in results:
        detail = ", ".join(r.levels_flagged) if r.status in (OK, DONE_BEFORE) else r.reason
        lines.append(f"{r.key:<30} {r.status:<11} {_cell(r.any_fracture):<8} "
                     f"{_cell(r.worst_grade):>5} {_cell(r.sdi):>4} {r.seconds:>7.1f}  "
                     f"{detail[:80]}")
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressLine:
    """``analyze: 12/100 12% | 3.4 studies/min | 25m10s left | 1 failed`` on stderr.

    On a terminal the line is redrawn in place; in a log file a line is written at most every
    ``every_s`` seconds (and for the last study).
    """

    def __init__(self, total: int, stream: TextIO | None = None, every_s: float = 2.0) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.start = time.monotonic()
        self.last = -math.inf

    def text(self) -> str:
        """The current line."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed * 60
        left = (self.total - self.done) / (rate / 60) if self.done else math.nan
        eta = _clock(left) + " left" if math.isfinite(left) else "time left unknown"
        pct = 100 * self.done / self.total if self.total else 100
        return (f"analyze: {self.done}/{self.total} {pct:.0f}% | {rate:.1f} studies/min | "
                f"{eta} | {self.failed} failed")

    def update(self, result: StudyResult) -> None:
        """Count one finished study and redraw when due."""
        self.done += 1
        self.failed += result.status == FAILED
        now = time.monotonic()
        if not self.tty and now - self.last < self.every_s and self.done < self.total:
            return
        self.last = now
        self.stream.write(("\r" + self.text().ljust(78)) if self.tty else self.text() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the line on a terminal."""
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()

"""``vcfviewer scan PATH [--json]``: list patients / studies / series found under PATH.

Progress goes to stderr as plain text; the listing (a table, or JSON with ``--json``) goes to
stdout. Files that could not be used are listed with the reason; the exit status stays 0 for
them (only a missing PATH is an error, status 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from vcfviewer.core.progress import Progress
    from vcfviewer.io.discovery import ScanResult


def register(subparsers: Any) -> None:
    """Add the ``scan`` subcommand."""
    parser = subparsers.add_parser(
        "scan", help="list the studies and series in a folder, DICOMDIR or file (headers only)")
    parser.add_argument("path", help="folder (searched recursively), DICOMDIR or single file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


class _ProgressPrinter:
    """At most a few updates a second; carriage returns on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.last_decile = -1

    def __call__(self, report: "Progress") -> None:
        now = time.monotonic()
        if self.tty:
            if now - self.last >= 0.1 or report.fraction == 1.0:
                self.stream.write(f"\r{report.message:<60}")
                self.stream.flush()
                self.last = now
            return
        decile = -1 if report.fraction != report.fraction else int(report.fraction * 10)
        if decile != self.last_decile:
            self.stream.write(f"scan: {report.message}\n")
            self.last_decile = decile

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()


def _as_json(result: "ScanResult") -> dict[str, Any]:
    import dataclasses

    data = dataclasses.asdict(result)
    data["series_count"] = len(result.all_series())
    return data


def _table(result: "ScanResult", out: TextIO) -> None:
    """Human-readable listing: one block per patient and study, one row per series."""
    for patient in result.patients:
        out.write(f"Patient {patient.patient_name or '(no name)'}"
                  f"{f'  [{patient.patient_id}]' if patient.patient_id else ''}\n")
        for study in patient.studies:
            out.write(f"  Study {study.date or '(no date)'}  {study.description or ''}\n")
            for s in study.series:
                size = f"{s.columns}x{s.rows}" if s.rows and s.columns else "-"
                number = "" if s.number is None else f"#{s.number} "
                out.write(f"    {s.kind:<10} {s.modality or '-':<5} {s.image_count:>5} img  "
                          f"{size:<10} spacing={s.spacing_source:<20} {number}"
                          f"{s.description}\n")
    out.write(f"\n{len(result.all_series())} series in {result.files_seen} files examined")
    out.write(f"; {len(result.problems)} file(s) could not be used\n" if result.problems else "\n")
    for problem in result.problems:
        out.write(f"  ! {problem.path}: {problem.reason}\n")


def run(args: argparse.Namespace) -> int:
    """Scan ``args.path`` and print what was found."""
    import json
    import warnings

    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.io.discovery import scan
    from vcfviewer.io.errors import LoadError

    warnings.simplefilter("ignore")  # pydicom complains about every odd header; we list problems
    printer = _ProgressPrinter(sys.stderr)
    try:
        result = run_to_completion(scan(args.path), None if args.quiet else printer)
    except LoadError as err:
        printer.done()
        sys.stderr.write(f"vcfviewer scan: {err}\n")
        return 2
    if not args.quiet:
        printer.done()
    if args.json:
        json.dump(_as_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _table(result, sys.stdout)
    return 0

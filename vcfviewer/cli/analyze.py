"""``vcfviewer analyze PATH --out DIR``: the viewer's pipeline over every radiograph and CT
series under PATH.

CT series (DICOM or NIfTI) are analysed with the CT model (``--ct-model``; by default the shipped
CT model, else the radiograph model): each body is measured on its own mid-sagittal plane and the
SR/SEG reference the series. MR volumes are skipped with a reason.

Per study (one radiograph or one CT series) the folder ``DIR/<study key>/`` gets the exports
and, last, a ``done.json`` marker; ``DIR/summary.csv`` has one row per study and
``DIR/errors.csv`` one per failed study or unusable file. A second run skips studies whose
marker says they are complete. Progress (rate, time left) goes to stderr; the table (or JSON
with ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from vcfviewer.batch.plan import BatchOptions, Plan
    from vcfviewer.batch.task import StudyResult

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_HELP = """exit status:
  0  every radiograph and CT series was analysed (now or in an earlier run) or skipped for
     a stated reason
  1  some studies failed, or some files could not be read as images (see errors.csv)
  2  usage or configuration error: bad arguments, PATH missing, DIR not writable, model missing
     or its sha256 wrong, unknown preset, Dask scheduler unreachable, model unusable on the
     device (the batch stops at the first such error)
  130 interrupted (Ctrl-C); the summary of what finished is written
"""


def register(subparsers: Any) -> None:
    """Add the ``analyze`` subcommand."""
    from vcfviewer.batch.task import BATCH_FORMATS

    p = subparsers.add_parser(
        "analyze", help="analyse every radiograph and CT series under a folder (headless batch)",
        description=__doc__, epilog=EXIT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", help="folder (searched recursively), DICOMDIR or file")
    p.add_argument("--sample", action="store_true", help="analyse the bundled sample study")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--model", default=None, help="model id (default: the shipped default model)")
    p.add_argument("--ct-model", default=None,
                   help="model id for CT series (default: the shipped CT model when there is "
                        "one, else --model)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per core, at most 4; 0 = in "
                        "this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run on a Dask distributed cluster (e.g. tcp://host:8786)")
    p.add_argument("--threshold-preset", default="balanced", choices=("balanced", "high_ppv"))
    p.add_argument("--facing", default="auto", choices=("auto", "left", "right"),
                   help="which way the patients of these radiographs face (default: the model "
                        "decides per film; CT volumes are oriented by their geometry)")
    p.add_argument("--deidentify", action="store_true",
                   help="no patient identifiers in any export: names, IDs, birth date, "
                        "accession, institution, free text and source paths removed; UIDs, "
                        "sex, age and study dates kept (vcfviewer.batch.deidentify)")
    p.add_argument("--formats", default=",".join(BATCH_FORMATS),
                   help="comma-separated export formats (json,csv,sr,seg,key_image,"
                        "training_set; default %(default)s)")
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                   help="skip files whose relative path or a folder name matches (repeatable)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run)


class _Usage(Exception):
    """A usage or configuration error: message, exit status 2."""


def _say(message: str) -> None:
    sys.stderr.write(f"vcfviewer analyze: {message}\n")
    sys.stderr.flush()


def _root(args: argparse.Namespace) -> tuple[Path, tuple[str, ...]]:
    from vcfviewer import paths

    if args.sample == bool(args.path):
        raise _Usage("give PATH or --sample (one of them)")
    if args.sample:
        # the sample's truth/ holds label maps, which are PNGs but not radiographs
        return paths.sample_study_dir(), ("truth",)
    return Path(args.path), ()


def _formats(text: str) -> tuple[str, ...]:
    from vcfviewer.io.export import FORMATS

    chosen = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if not chosen or unknown:
        raise _Usage(f"--formats: unknown {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(FORMATS)}")
    return chosen


def _model(model_id: str | None, preset: str) -> tuple[str, str]:
    from vcfviewer.models.registry import ModelCardError
    from vcfviewer.models.weights import WeightsError, verified_weights

    try:
        card, _ = verified_weights(model_id)
        card.threshold(preset)
    except (WeightsError, ModelCardError) as exc:
        raise _Usage(f"model: {exc}") from None
    return card.id, card.version


def _ct_model(args: argparse.Namespace, film: tuple[str, str]) -> tuple[str, str]:
    """The CT model: --ct-model, else the shipped CT model, else the radiograph model."""
    from vcfviewer.models.registry import DEFAULT_MODEL_ID, model_id_for

    if args.ct_model:
        return _model(args.ct_model, args.threshold_preset)
    shipped = model_id_for("ct")
    if shipped == DEFAULT_MODEL_ID or shipped == film[0]:
        return film
    return _model(shipped, args.threshold_preset)


def _out_dir(out: Path) -> Path:
    from vcfviewer.io import atomic

    try:
        atomic.ensure_folder(out)
        probe = atomic.write_text(out / ".vcfviewer-write-test", "ok\n")
        probe.unlink()
    except (atomic.ExportError, OSError) as exc:
        raise _Usage(f"--out: {exc}") from None
    return out


def _options(args: argparse.Namespace) -> "tuple[Path, BatchOptions]":
    from vcfviewer.batch.plan import BatchOptions

    root, excludes = _root(args)
    if not root.exists():
        raise _Usage(f"{root}: no such file or folder")
    if args.workers is not None and args.workers < 0:
        raise _Usage("--workers must be 0 or more")
    formats = _formats(args.formats)
    model_id, version = _model(args.model, args.threshold_preset)
    ct_id, ct_version = _ct_model(args, (model_id, version))
    out = _out_dir(args.out)
    return root, BatchOptions(
        out_dir=out, model_id=model_id, model_version=version, ct_model_id=ct_id,
        ct_model_version=ct_version,
        device=None if args.device == "auto" else args.device,
        threshold_preset=args.threshold_preset, formats=formats, deidentify=args.deidentify,
        excludes=excludes + tuple(args.exclude), facing=args.facing)


def _scan(root: Path, quiet: bool) -> Any:
    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.io.discovery import scan
    from vcfviewer.io.errors import LoadError

    if not quiet:
        _say("scanning for radiographs and CT series…")
    try:
        return run_to_completion(scan(root))
    except LoadError as err:
        raise _Usage(f"cannot scan: {err.reason}") from None


def _runner(args: argparse.Namespace, plan: "Plan") -> Any:
    from vcfviewer.batch import runners

    if args.scheduler:
        return runners.run_dask(plan.tasks, args.scheduler)
    workers = runners.default_workers() if args.workers is None else args.workers
    if workers == 0:
        return runners.run_serial(plan.tasks)
    return runners.run_local(plan.tasks, min(workers, max(1, len(plan.tasks))))


def _execute(args: argparse.Namespace, plan: "Plan") -> tuple[list["StudyResult"], int]:
    """Run the plan's tasks; returns the results and the exit status so far."""
    from vcfviewer.batch.summary import ProgressLine
    from vcfviewer.batch.task import BatchError

    progress = ProgressLine(len(plan.tasks), stream=_NullStream() if args.quiet else None)
    results: list[StudyResult] = []
    status = EXIT_OK
    try:
        for result in _runner(args, plan) if plan.tasks else ():
            results.append(result)
            progress.update(result)
            if result.fatal:
                _say(f"stopping: the model cannot run ({result.reason})")
                status = EXIT_USAGE
                break
    except BatchError as exc:
        _say(str(exc))
        status = EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted: writing the summary of the studies that finished")
        status = EXIT_INTERRUPTED
    finally:
        progress.finish()
    return results, status


class _NullStream:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _report(args: argparse.Namespace, options: "BatchOptions", plan: "Plan",
            results: list["StudyResult"], status: int) -> int:
    from vcfviewer.batch import summary
    from vcfviewer.batch.task import FAILED

    rank = {key: i for i, key in enumerate(plan.order)}
    rows = sorted(plan.finished + results, key=lambda r: rank.get(r.key, len(rank)))
    summary.write_reports(options.out_dir, rows, plan.issues)
    if status == EXIT_OK and (plan.issues or any(r.status == FAILED for r in rows)):
        status = EXIT_FAILURES
    not_run = len(plan.tasks) - len(results)
    if args.json:
        print(json.dumps({"out": str(options.out_dir), "counts": summary.counts(rows),
                          "not_run": not_run, "ignored_files": plan.ignored,
                          "excluded_files": plan.excluded, "files_seen": plan.files_seen,
                          "files_accounted": plan.files,
                          "studies": [summary.summary_row(r) for r in rows],
                          "errors": summary.error_rows(rows, plan.issues),
                          "exit_status": status}, indent=2))
    else:
        _print_text(options, plan, rows, not_run)
    return status


def _print_text(options: "BatchOptions", plan: "Plan", rows: list["StudyResult"],
                not_run: int) -> None:
    from vcfviewer.batch import summary

    print(summary.table(rows))
    tally = summary.counts(rows)
    print(f"\n{len(rows)} studies: {tally['ok']} analysed, {tally['done_before']} done before, "
          f"{tally['skipped']} skipped, {tally['failed']} failed; "
          f"{tally['with_fracture']} with a fracture")
    if not_run:
        print(f"{not_run} studies were not run (the batch stopped)")
    if plan.issues:
        print(f"{len(plan.issues)} files could not be read as images")
    if plan.ignored or plan.excluded:
        print(f"{plan.ignored} non-image files ignored, {plan.excluded} files excluded")
    print(f"summary: {options.out_dir / summary.SUMMARY_FILE}; errors: "
          f"{options.out_dir / summary.ERRORS_FILE}")


def run(args: argparse.Namespace) -> int:
    """Handler of ``vcfviewer analyze`` (exit status: see EXIT_HELP)."""
    from vcfviewer.batch.plan import make_plan

    try:
        root, options = _options(args)
        plan = make_plan(_scan(root, args.quiet), options)
    except _Usage as exc:
        _say(str(exc))
        return EXIT_USAGE
    if not args.quiet:
        _say(f"{len(plan.tasks)} to analyse, {len(plan.finished)} done before or skipped, "
             f"{len(plan.issues)} unreadable files")
    results, status = _execute(args, plan)
    return _report(args, options, plan, results, status)

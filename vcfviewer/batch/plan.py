"""From a scan to a batch plan: one task per radiograph or CT volume, stable folder names, resume.

Folder names ("study keys") never contain patient data: ``<study 12 hex>_<series 8 hex>`` from
SHA-256 of the Study/Series Instance UIDs, so the same study gets the same folder wherever the
archive is mounted. Without UIDs (PNG/JPEG, stripped headers) the study part hashes the folder
path relative to the batch root and the series part the file's bytes. A series of several
radiographs gets one task per image (``_<6 hex>`` of the file name appended): screening must not
miss the lateral view because it is the second image of its series. A CT series (or NIfTI
file) is one task holding all its files, analysed with the CT model (``BatchOptions.ct_model_id``);
MR/PET volumes are skipped with a reason.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from vcfviewer.batch import marker
from vcfviewer.batch.task import BATCH_FORMATS, SKIPPED, StudyResult, StudyTask, done_before

if TYPE_CHECKING:  # pragma: no cover
    from vcfviewer.io.discovery import ScanResult, SeriesEntry

# Files that sit beside images in exported or simulated folders and are not images; discovery
# reports them as unreadable, the batch does not count them as errors.
SIDE_CAR_SUFFIXES = (".json", ".csv", ".tsv", ".txt", ".md", ".xml", ".html", ".htm", ".pdf",
                     ".log", ".ini", ".yaml", ".yml", ".py", ".sh", ".db")


@dataclass(frozen=True)
class BatchOptions:
    """How every study of a batch is analysed and exported."""

    out_dir: Path
    model_id: str | None = None
    model_version: str | None = None
    device: str | None = None
    threshold_preset: str = "balanced"
    formats: tuple[str, ...] = BATCH_FORMATS
    deidentify: bool = False
    excludes: tuple[str, ...] = ()
    ct_model_id: str | None = None  # the model for CT volumes (None: ``model_id``)
    ct_model_version: str | None = None
    facing: str = "auto"  # radiographs: "left"/"right" overrules the model's call


@dataclass(frozen=True)
class FileIssue:
    """A file the scan could not use (an errors.csv row); ``source`` relative to the root."""

    source: str
    reason: str


@dataclass
class Plan:
    """Tasks to run, results known without running (done before, skipped), unusable files."""

    tasks: list[StudyTask] = field(default_factory=list)
    finished: list[StudyResult] = field(default_factory=list)
    issues: list[FileIssue] = field(default_factory=list)
    ignored: int = 0  # files: side-cars and non-image objects (SR, SEG, PR...)
    excluded: int = 0  # files
    files: int = 0  # files accounted for: a study row, an issue, ignored or excluded
    files_seen: int = 0  # files the scan examined
    order: list[str] = field(default_factory=list)  # study keys in scan order


def _hex(text: str, n: int) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:n]


def _file_hash(path: str, n: int) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        digest.update(b"unreadable:" + os.fsencode(os.path.basename(path)))
    return digest.hexdigest()[:n]


def _relative(path: str, root: str) -> str:
    try:
        return PurePath(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return PurePath(path).as_posix()


def study_key(study_uid: str, series: "SeriesEntry", root: str, file: str | None = None) -> str:
    """The stable output-folder name of a series (or of one image of a multi-image series)."""
    first = series.files[0]
    study = (_hex("study:" + study_uid, 12) if study_uid
             else _hex("folder:" + _relative(os.path.dirname(first), root), 12))
    part = _hex("series:" + series.series_uid, 8) if series.series_uid else _file_hash(first, 8)
    key = f"{study}_{part}"
    return key if file is None else f"{key}_{_hex('file:' + os.path.basename(file), 6)}"


def is_excluded(path: str, root: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``path`` (or one of its folders, relative to ``root``) matches a pattern."""
    rel = _relative(path, root)
    parts = rel.split("/")
    return any(fnmatch.fnmatch(rel, p) or any(fnmatch.fnmatch(part, p) for part in parts)
               for p in patterns)


def _inside(path: str, folder: Path) -> bool:
    try:
        Path(path).resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def _task(options: BatchOptions, key: str, path: str, series: "SeriesEntry",
          root: str, volume: bool = False) -> StudyTask:
    model_id, version = options.model_id, options.model_version
    if volume and options.ct_model_id is not None:
        model_id, version = options.ct_model_id, options.ct_model_version
    return StudyTask(key=key, path=path, out_dir=str(options.out_dir / key),
                     model_id=model_id, device=options.device,
                     threshold_preset=options.threshold_preset, formats=options.formats,
                     deidentify=options.deidentify, modality=series.modality,
                     source_label="" if options.deidentify else _relative(path, root),
                     expected_model_version=version,
                     files=series.files if volume else (),
                     facing="auto" if volume else options.facing)


def _add_task(plan: Plan, task: StudyTask, options: BatchOptions) -> None:
    plan.order.append(task.key)
    earlier = marker.completed(Path(task.out_dir), task, task.expected_model_version)
    if earlier is not None:
        plan.finished.append(done_before(earlier, task))
    else:
        plan.tasks.append(task)


def _add_series(plan: Plan, study_uid: str, series: "SeriesEntry", root: str,
                options: BatchOptions) -> None:
    from vcfviewer.io.discovery import KIND_OTHER, KIND_VOLUME

    plan.files += len(series.files)
    if series.kind == KIND_OTHER:
        plan.ignored += len(series.files)
        return
    if series.kind == KIND_VOLUME:
        key = study_key(study_uid, series, root)
        if series.modality.upper() not in ("CT", ""):  # "": NIfTI, checked for HU on load
            plan.order.append(key)
            plan.finished.append(StudyResult(
                key=key, status=SKIPPED, modality=series.modality,
                reason=f"a {series.modality} volume: only CT volumes are analysed",
                source="" if options.deidentify else _relative(series.files[0], root)))
            return
        _add_task(plan, _task(options, key, series.files[0], series, root, volume=True),
                  options)
        return
    several = len(series.files) > 1
    for path in series.files:
        key = study_key(study_uid, series, root, path if several else None)
        _add_task(plan, _task(options, key, path, series, root), options)


def _kept_series(series: "SeriesEntry", root: str, options: BatchOptions) -> "SeriesEntry | None":
    from dataclasses import replace

    files = tuple(f for f in series.files if not is_excluded(f, root, options.excludes)
                  and not _inside(f, options.out_dir))
    if not files:
        return None
    return series if files == series.files else replace(series, files=files)


def _add_problems(plan: Plan, scan: "ScanResult", root: str, options: BatchOptions) -> None:
    for problem in scan.problems:
        plan.files += 1
        if _inside(problem.path, options.out_dir) or is_excluded(problem.path, root,
                                                                 options.excludes):
            plan.excluded += 1
        elif problem.path.lower().endswith(SIDE_CAR_SUFFIXES):
            plan.ignored += 1
        else:
            source = "" if options.deidentify else _relative(problem.path, root)
            plan.issues.append(FileIssue(source, problem.reason))


def make_plan(scan: "ScanResult", options: BatchOptions) -> Plan:
    """Tasks for every radiograph in ``scan``, minus excluded files and studies already done."""
    root = scan.root if os.path.isdir(scan.root) else os.path.dirname(scan.root) or "."
    plan = Plan(files_seen=scan.files_seen)
    for patient in scan.patients:
        for study in patient.studies:
            for series in study.series:
                kept = _kept_series(series, root, options)
                dropped = len(series.files) - (len(kept.files) if kept else 0)
                plan.excluded += dropped
                plan.files += dropped
                if kept is not None:
                    _add_series(plan, study.study_uid, kept, root, options)
    _add_problems(plan, scan, root, options)
    _dedupe(plan)
    return plan


def _dedupe(plan: Plan) -> None:
    """Two series can only share a key through duplicated UIDs; keep the first (say so)."""
    seen = {result.key for result in plan.finished}
    tasks = []
    for task in plan.tasks:
        if task.key in seen:
            plan.issues.append(FileIssue(task.source_label, f"same Study/Series UIDs as another "
                                                            f"series (key {task.key}): skipped"))
            continue
        seen.add(task.key)
        tasks.append(task)
    plan.tasks = tasks
    plan.order = list(dict.fromkeys(plan.order))

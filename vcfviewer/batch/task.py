"""The per-study task: a pure, picklable function from ``StudyTask`` to ``StudyResult``.

A study is one radiograph, or one CT volume (``StudyTask.files``: its series) analysed with
``models.ct.analyze_volume`` (each body on its own mid-sagittal plane) and exported with the
volume, so SR/SEG reference the CT series.

``analyze_one`` never raises for bad input: whatever goes wrong becomes a failed result naming
the stage (load, model, analyze, deidentify, export) and the reason, so one bad study never stops
a batch, whichever runner (process pool, Dask) executes it. The model is loaded once per process
and kept warm in ``_ANALYZERS``. No patient data is logged: results carry the study key only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

OK, FAILED, SKIPPED, DONE_BEFORE = "ok", "failed", "skipped", "done_before"
STATUSES = (OK, FAILED, SKIPPED, DONE_BEFORE)
# Failures at this stage mean the model or device cannot work at all: the batch stops (exit 2).
FATAL_STAGE = "model"
STAGES = ("", "scan", "load", FATAL_STAGE, "analyze", "deidentify", "export", "worker")
BATCH_FORMATS = ("json", "csv", "sr", "seg", "key_image")  # training_set only on request


class BatchError(Exception):
    """A configuration problem that stops the whole batch (exit status 2)."""


@dataclass(frozen=True)
class StudyTask:
    """One radiograph or CT volume to analyse and where its outputs go; plain data so it pickles
    anywhere."""

    key: str  # stable output-folder name (from UIDs or a hash; never a patient name)
    path: str  # the image file (a volume's first file)
    out_dir: str  # this study's output folder
    model_id: str | None = None
    device: str | None = None  # "cpu", "cuda", ... or None for automatic
    threshold_preset: str = "balanced"
    formats: tuple[str, ...] = BATCH_FORMATS
    deidentify: bool = False
    source_label: str = ""  # path relative to the batch root, for tables ("" when de-identified)
    modality: str = ""
    expected_model_version: str | None = None  # recorded in done.json for resume checks
    files: tuple[str, ...] = ()  # a volume: every file of its series (empty for one image)
    facing: str = "auto"  # a radiograph: "left"/"right" overrules the model's call

    def __post_init__(self) -> None:
        if not self.key or "/" in self.key or self.key in (".", ".."):
            raise ValueError(f"invalid study key {self.key!r}")
        if not self.formats:
            raise ValueError("a study task needs at least one export format")


@dataclass(frozen=True)
class StudyResult:
    """What happened to one study: status, the study-level figures, time, outputs."""

    key: str
    status: str
    stage: str = ""  # where a failure happened ("" when ok)
    reason: str = ""  # why it failed or was skipped (never patient data)
    any_fracture: bool | None = None
    worst_grade: int | None = None
    sdi: int | None = None
    levels_flagged: tuple[str, ...] = ()
    vertebrae: int | None = None
    study_probability: float | None = None
    seconds: float = 0.0
    model_id: str = ""
    model_version: str = ""
    device: str = ""
    notes: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()  # file names inside the study folder
    source: str = ""
    modality: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown study status {self.status!r}")
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        object.__setattr__(self, "levels_flagged", tuple(self.levels_flagged))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    @property
    def fatal(self) -> bool:
        """The model or device could not be used: every other study would fail the same way."""
        return self.status == FAILED and self.stage == FATAL_STAGE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StudyResult":
        """Inverse of ``to_dict``; unknown keys are ignored, bad values raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError("a study result must be a JSON object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("levels_flagged", "notes", "outputs"):
            if name in values:
                if not isinstance(values[name], list):
                    raise ValueError(f"{name} must be a list")
                values[name] = tuple(str(v) for v in values[name])
        return cls(**values)


def failed(task: StudyTask, stage: str, reason: str, seconds: float = 0.0) -> StudyResult:
    """A failed result for ``task``."""
    return StudyResult(key=task.key, status=FAILED, stage=stage, reason=reason, seconds=seconds,
                       source=task.source_label, modality=task.modality)


# --- the model, once per process ------------------------------------------------------------

_ANALYZERS: dict[tuple[str, str | None, str | None, str], Any] = {}
_ANALYZER_LOCK = threading.Lock()  # Dask runs tasks on threads of one worker process


def _analyzer(task: StudyTask) -> Any:
    """The warm Analyzer for the task's model/device/preset (loaded on first use)."""
    from vcfviewer import paths

    key = (str(paths.models_dir()), task.model_id, task.device, task.threshold_preset)
    with _ANALYZER_LOCK:
        if key not in _ANALYZERS:
            from vcfviewer.models.inference import Analyzer

            _ANALYZERS[key] = Analyzer(model_id=task.model_id, device=task.device,
                                       threshold_preset=task.threshold_preset)
        return _ANALYZERS[key]


def clear_model_cache() -> None:
    """Forget the warm models (tests; a long-lived worker switching models)."""
    with _ANALYZER_LOCK:
        _ANALYZERS.clear()


# --- the pipeline ---------------------------------------------------------------------------


class _StageFailure(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage, self.reason = stage, reason


def _describe(exc: BaseException) -> str:
    from vcfviewer.io.errors import describe

    return f"{type(exc).__name__}: {describe(exc)}"


def _read(task: StudyTask) -> Any:
    """A volume's series (a Volume, or its first image when the files form no stack), else the
    one image file."""
    from vcfviewer.io.discovery import KIND_VOLUME, SeriesEntry
    from vcfviewer.io.loader import load_path_sync, load_series_sync

    if not task.files:
        return load_path_sync(task.path)
    series = SeriesEntry(series_uid="", modality=task.modality, description="", number=None,
                         files=tuple(task.files), image_count=len(task.files),
                         spacing_source="Volume", kind=KIND_VOLUME)
    return load_series_sync(series)


def _load(task: StudyTask) -> Any:
    from vcfviewer.io.errors import LoadError

    try:
        return _read(task)
    except LoadError as err:
        raise _StageFailure("load", err.reason) from None
    except Exception as exc:  # the loader guards itself; this is the last line of defence
        raise _StageFailure("load", _describe(exc)) from None


def _model(task: StudyTask) -> Any:
    try:
        analyzer = _analyzer(task)
    except Exception as exc:  # WeightsError, ModelCardError, an unusable device...
        raise _StageFailure(FATAL_STAGE, str(exc) or _describe(exc)) from None
    expected = task.expected_model_version
    if expected is not None and analyzer.model_version != expected:
        # A cluster worker with another model would silently mix results from two models.
        raise _StageFailure(FATAL_STAGE, f"this worker has model {analyzer.model_id} "
                                         f"{analyzer.model_version}, the batch expects {expected}")
    return analyzer


def _analyse(analyzer: Any, image: Any, facing: str = "auto") -> Any:
    from vcfviewer.core.image import Volume

    try:
        if isinstance(image, Volume):
            from vcfviewer.core.progress import run_to_completion
            from vcfviewer.models.ct import analyze_volume

            return run_to_completion(analyze_volume(analyzer, image))
        return analyzer.analyze_sync(image, facing=facing)
    except MemoryError:
        raise _StageFailure("analyze", "not enough memory to analyse this image") from None
    except Exception as exc:
        log.debug("analysis failed", exc_info=True)
        raise _StageFailure("analyze", _describe(exc)) from None


def figures(annotation: Any, measurements: Any) -> dict[str, Any]:
    """The summary-row figures of one analysed study."""
    bodies = annotation.vertebrae
    worst = max((int(f.grade) for f in bodies), default=0)
    # Per-body "not measurable" warnings live in the study's CSV; the row gets their count.
    unmeasurable = [w for w in measurements.warnings if " not measurable: " in w]
    notes = [w for w in (*annotation.flags, *measurements.warnings) if w not in unmeasurable]
    if unmeasurable:
        notes.append(f"{len(unmeasurable)} bodies not measurable")
    if not bodies:
        notes.append("no vertebral body found (no SR or SEG written)")
    return {"any_fracture": worst >= 1, "worst_grade": worst, "sdi": int(measurements.sdi),
            "levels_flagged": tuple(f.level for f in bodies if f.is_fractured),
            "vertebrae": len(bodies), "notes": tuple(dict.fromkeys(notes))}


def _probability(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _run(task: StudyTask, start: float) -> StudyResult:
    from vcfviewer.batch import exporting, marker
    from vcfviewer.core.image import Volume

    marker.clear(Path(task.out_dir))  # a stale marker must never vouch for half-new outputs
    image = _load(task)
    if isinstance(image, Volume) and image.units != "HU":
        return StudyResult(key=task.key, status=SKIPPED, stage="", modality=task.modality,
                           reason="a volume not in Hounsfield units (MR, a label map?): only CT "
                                  "volumes are analysed", source=task.source_label,
                           seconds=time.perf_counter() - start)
    analyzer = _model(task)
    proposal = _analyse(analyzer, image, task.facing)
    outputs, ms, skipped = exporting.export(task, image, proposal.annotation)
    row = figures(proposal.annotation, ms)
    row["notes"] = tuple(dict.fromkeys(row["notes"] + skipped))
    result = StudyResult(
        key=task.key, status=OK, seconds=time.perf_counter() - start,
        study_probability=_probability(proposal.study_fracture_probability),
        model_id=analyzer.model_id, model_version=analyzer.model_version,
        device=analyzer.device_name, outputs=outputs, source=task.source_label,
        modality=task.modality or image.patient.modality, **row)
    marker.write(Path(task.out_dir), task, result)
    return result


def analyze_one(task: StudyTask) -> StudyResult:
    """Load, analyse, measure and export one study; a failure is returned, never raised."""
    from vcfviewer.privacy import protect_logs

    protect_logs()  # this may be a spawned or Dask worker that never ran vcfviewer's main()
    start = time.perf_counter()
    try:
        return _run(task, start)
    except _StageFailure as failure:
        return failed(task, failure.stage, failure.reason, time.perf_counter() - start)
    except MemoryError:
        return failed(task, "worker", "out of memory", time.perf_counter() - start)
    except Exception as exc:  # a bug must cost one study, not the batch
        log.debug("study %s failed unexpectedly", task.key, exc_info=True)
        return failed(task, "worker", _describe(exc), time.perf_counter() - start)


def done_before(result: StudyResult, task: StudyTask) -> StudyResult:
    """A result read back from an earlier run's done.json, as this run reports it."""
    return replace(result, status=DONE_BEFORE, source=task.source_label, modality=task.modality)


__all__ = ["BATCH_FORMATS", "BatchError", "DONE_BEFORE", "FAILED", "OK", "SKIPPED",
           "StudyResult", "StudyTask", "analyze_one", "clear_model_cache", "done_before", "failed",
           "figures"]

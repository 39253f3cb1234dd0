"""One export action: every format for one study into one folder, as a headless job.

``export_study`` is a Job generator (``core.progress``): it yields Progress and returns an
ExportReport naming what was written, what was skipped (and why: a PNG has no DICOM source for
SR/SEG) and what failed (and why). Each format is written atomically and on its own, so an error
in one never loses the others and never damages a file an earlier export wrote.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcfviewer.core.annotation import StudyAnnotation
from vcfviewer.core.image import Radiograph
from vcfviewer.core.morphometry import StudyMeasurements, measure_study
from vcfviewer.core.progress import Job, Progress
from vcfviewer.io import atomic
from vcfviewer.io.atomic import ExportError

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("json", "csv", "sr", "seg", "key_image", "training_set")
TRAINING_FOLDER = "training_set"


@dataclass
class ExportReport:
    """What one export wrote (format → path), skipped and failed (format → reason)."""

    out_dir: Path
    written: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    training_entry: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line per format for the status bar or the batch log (no patient data)."""
        lines = [f"{k}: {p.name}" for k, p in self.written.items()]
        lines += [f"{k}: skipped ({r})" for k, r in self.skipped.items()]
        lines += [f"{k}: FAILED ({r})" for k, r in self.failed.items()]
        return "\n".join(lines)


def export_stem(annotation: StudyAnnotation) -> str:
    """File-name stem for a study's exports: the image file's name, else its SOP UID."""
    name = Path(annotation.image.path).name
    for suffix in (".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or annotation.image.sop_instance_uid
    return stem or "study"


def _read_source(path: str) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, InvalidDicomError, ValueError) as exc:
        raise ExportError(path, f"cannot read the source DICOM ({exc})") from None


def _dicom_skip_reason(annotation: StudyAnnotation, source_path: str | None) -> str | None:
    if source_path is None:
        return "no DICOM source (the image came from a raster file or has no DICOM header)"
    if annotation.image.plane_index is not None:
        return ("the landmarks lie on a CT reformat, not on a stored DICOM image "
                "(use dicom_seg.write_seg_volume for the series)")
    return None


def _writers(image: Radiograph, annotation: StudyAnnotation, ms: StudyMeasurements,
             out: Path, stem: str, source: Callable[[], Any],
             training_dir: Path) -> dict[str, Callable[[], Path | str]]:
    from vcfviewer.io import annotation_json, csv_export, dicom_seg, dicom_sr, key_image
    from vcfviewer.io import training_set

    return {
        "json": lambda: annotation_json.write_annotation(
            annotation, out / f"{stem}.annotation.json", ms),
        "csv": lambda: csv_export.write_csv(annotation, ms, out / f"{stem}.findings.csv"),
        "sr": lambda: dicom_sr.write_sr(annotation, ms, source(), out / f"{stem}.sr.dcm"),
        "seg": lambda: dicom_seg.write_seg(annotation, source(), out / f"{stem}.seg.dcm"),
        "key_image": lambda: key_image.write_key_image(image.pixels, image.window, annotation, ms,
                                                       out / f"{stem}.key.png"),
        "training_set": lambda: training_set.export_entry(image.pixels, image.spacing_mm,
                                                          annotation, training_dir),
    }


def _run_one(name: str, writer: Callable[[], Path | str], report: ExportReport,
             training_dir: Path) -> None:
    try:
        result = writer()
    except (ExportError, ValueError, OSError) as exc:
        report.failed[name] = str(exc)
        return
    except Exception as exc:  # noqa: BLE001 - one format's bug must not lose the others
        log.exception("export of %s failed unexpectedly", name)
        report.failed[name] = f"unexpected error: {exc.__class__.__name__}: {exc}"
        return
    if name == "training_set":
        report.training_entry = str(result)
        report.written[name] = training_dir
    else:
        report.written[name] = Path(result)


def export_study(image: Radiograph, annotation: StudyAnnotation, out_dir: str | os.PathLike[str],
                 source_dicom_path: str | None = None, formats: Sequence[str] = FORMATS,
                 training_dir: str | os.PathLike[str] | None = None,
                 measurements: StudyMeasurements | None = None) -> Job[ExportReport]:
    """Write every requested format for one study into ``out_dir`` (a Job yielding Progress)."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown export formats: {', '.join(sorted(unknown))}")
    out = Path(out_dir)
    report = ExportReport(out)
    yield Progress("export", 0.0, "measuring")
    try:
        atomic.ensure_folder(out)
    except ExportError as exc:
        report.failed.update({name: str(exc) for name in formats})
        return report
    ms = measurements if measurements is not None else measure_study(annotation)
    skip_dicom = _dicom_skip_reason(annotation, source_dicom_path)
    cache: dict[str, Any] = {}

    def source() -> Any:
        if "ds" not in cache:
            cache["ds"] = _read_source(str(source_dicom_path))
        return cache["ds"]

    train_dir = Path(training_dir) if training_dir is not None else out / TRAINING_FOLDER
    writers = _writers(image, annotation, ms, out, export_stem(annotation), source, train_dir)
    for i, name in enumerate(formats):
        yield Progress("export", i / len(formats), f"writing {name.replace('_', ' ')}")
        if name in ("sr", "seg") and skip_dicom:
            report.skipped[name] = skip_dicom
            continue
        _run_one(name, writers[name], report, train_dir)
    yield Progress("export", 1.0, "export finished" if report.ok else "export finished with errors")
    return report

"""One export action: every format for one study into one folder, as a headless job.

``export_study`` is a Job generator (``core.progress``): it yields Progress and returns an
ExportReport naming what was written, what was skipped (and why: a PNG has no DICOM source for
SR/SEG) and what failed (and why). Each format is written atomically and on its own, so an error
in one never loses the others and never damages a file an earlier export wrote.

A CT annotation on the sagittal reformat is exported against its Volume (``volume=``): SR and
SEG reference the acquired slices (``io.ct_export``), the key image shows the column's middle
plane, the training set gets one entry per plane. A NIfTI volume has no DICOM source: SR/SEG are
skipped with that reason and the rest is written.
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
from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.morphometry import StudyMeasurements, measure_study
from vcfviewer.core.progress import Job, Progress
from vcfviewer.io import atomic
from vcfviewer.io.atomic import ExportError

log = logging.getLogger(__name__)

Image = Radiograph | Volume
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


def _dicom_skip_reason(annotation: StudyAnnotation, source_path: str | None,
                       volume: Volume | None) -> str | None:
    if annotation.image.is_reformat:
        from vcfviewer.io import ct_export

        return ct_export.dicom_skip_reason(annotation, volume)
    if source_path is None:
        return "no DICOM source (the image came from a raster file or has no DICOM header)"
    return None


def _film_writers(image: Image, annotation: StudyAnnotation, ms: StudyMeasurements, out: Path,
                  stem: str, source: Callable[[], Any],
                  training_dir: Path) -> dict[str, Callable[[], Path | str]]:
    from vcfviewer.io import dicom_seg, dicom_sr, key_image, training_set

    return {
        "sr": lambda: dicom_sr.write_sr(annotation, ms, source(), out / f"{stem}.sr.dcm"),
        "seg": lambda: dicom_seg.write_seg(annotation, source(), out / f"{stem}.seg.dcm"),
        "key_image": lambda: key_image.write_key_image(_pixels(image), image.window, annotation,
                                                       ms, out / f"{stem}.key.png"),
        "training_set": lambda: training_set.export_entry(_pixels(image), image.spacing_mm,
                                                          annotation, training_dir),
    }


def _pixels(image: Image) -> Any:
    if not isinstance(image, Radiograph):
        raise ValueError("a radiograph annotation needs its 2-D image, not a volume")
    return image.pixels


def _ct_writers(volume: Volume, annotation: StudyAnnotation, ms: StudyMeasurements, out: Path,
                stem: str, series: Callable[[], Any],
                training_dir: Path) -> dict[str, Callable[[], Path | str]]:
    from vcfviewer.io import dicom_seg, dicom_sr, key_image, training_set

    return {
        "sr": lambda: dicom_sr.write_sr(annotation, ms, list(series().slices),
                                        out / f"{stem}.sr.dcm", ct=series()),
        "seg": lambda: dicom_seg.write_seg_ct(annotation, series(), out / f"{stem}.seg.dcm"),
        "key_image": lambda: key_image.write_ct_key_image(volume, annotation, ms,
                                                          out / f"{stem}.key.png"),
        "training_set": lambda: ";".join(training_set.export_ct_entries(volume, annotation,
                                                                        training_dir)),
    }


def _ct_without_volume(image: Image, annotation: StudyAnnotation, ms: StudyMeasurements,
                       out: Path, stem: str, training_dir: Path) -> dict[str, Callable[[], Any]]:
    """A CT annotation exported without its volume: a one-plane annotation drawn on ``image``
    (the plane on screen) keeps its key image and training entry; a whole-volume one cannot."""
    writers = _film_writers(image, annotation, ms, out, stem, lambda: None, training_dir)
    one_plane = annotation.image.plane_count is None and isinstance(image, Radiograph)
    return {k: w for k, w in writers.items() if one_plane and k in ("key_image", "training_set")}


def _writers(image: Image, volume: Volume | None, annotation: StudyAnnotation,
             ms: StudyMeasurements, out: Path, source: Callable[[], Any],
             training_dir: Path) -> dict[str, Callable[[], Path | str]]:
    from vcfviewer.io import annotation_json, csv_export

    stem = export_stem(annotation)
    writers: dict[str, Callable[[], Path | str]] = {
        "json": lambda: annotation_json.write_annotation(
            annotation, out / f"{stem}.annotation.json", ms),
        "csv": lambda: csv_export.write_csv(annotation, ms, out / f"{stem}.findings.csv"),
    }
    if not annotation.image.is_reformat:
        writers.update(_film_writers(image, annotation, ms, out, stem, source, training_dir))
    elif volume is not None:
        writers.update(_ct_writers(volume, annotation, ms, out, stem, source, training_dir))
    else:
        writers.update(_ct_without_volume(image, annotation, ms, out, stem, training_dir))
    return writers


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


def _source_reader(annotation: StudyAnnotation, source_dicom_path: str | None,
                   volume: Volume | None) -> Callable[[], Any]:
    """Reads the DICOM source once, on first use: the film's header, or a CT's slice headers."""
    cache: dict[str, Any] = {}

    def source() -> Any:
        if "ds" not in cache:
            if annotation.image.is_reformat:
                from vcfviewer.io import ct_export

                assert volume is not None
                cache["ds"] = ct_export.read_series(volume)
            else:
                cache["ds"] = _read_source(str(source_dicom_path))
        return cache["ds"]

    return source


def export_study(image: Image, annotation: StudyAnnotation, out_dir: str | os.PathLike[str],
                 source_dicom_path: str | None = None, formats: Sequence[str] = FORMATS,
                 training_dir: str | os.PathLike[str] | None = None,
                 measurements: StudyMeasurements | None = None, *,
                 volume: Volume | None = None) -> Job[ExportReport]:
    """Write every requested format for one study into ``out_dir`` (a Job yielding Progress).

    A CT annotation (``annotation.image.is_reformat``) needs ``volume`` (or a Volume as
    ``image``) for SR/SEG (they reference the series' slices), the key image (its middle plane)
    and the training set (one entry per plane); ``source_dicom_path`` is then not used.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown export formats: {', '.join(sorted(unknown))}")
    if volume is None and isinstance(image, Volume):
        volume = image
    out = Path(out_dir)
    report = ExportReport(out)
    yield Progress("export", 0.0, "measuring")
    try:
        atomic.ensure_folder(out)
    except ExportError as exc:
        report.failed.update({name: str(exc) for name in formats})
        return report
    ms = measurements if measurements is not None else measure_study(annotation)
    skip_dicom = _dicom_skip_reason(annotation, source_dicom_path, volume)
    train_dir = Path(training_dir) if training_dir is not None else out / TRAINING_FOLDER
    writers = _writers(image, volume, annotation, ms, out,
                       _source_reader(annotation, source_dicom_path, volume), train_dir)
    for i, name in enumerate(formats):
        yield Progress("export", i / len(formats), f"writing {name.replace('_', ' ')}")
        if name in ("sr", "seg") and skip_dicom:
            report.skipped[name] = skip_dicom
        elif name not in writers:
            report.skipped[name] = "a whole-volume CT annotation needs its volume"
        else:
            _run_one(name, writers[name], report, train_dir)
    yield Progress("export", 1.0, "export finished" if report.ok else "export finished with errors")
    return report

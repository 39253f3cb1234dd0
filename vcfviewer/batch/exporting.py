"""Export step of the batch task: ``export_study`` into the study folder, de-identified if asked.

A CT volume is exported with itself as the volume (SR/SEG reference its slices); de-identified,
its slice headers are first copied de-identified and the copies are what SR/SEG reference.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from vcfviewer.batch.task import StudyTask
    from vcfviewer.core.annotation import StudyAnnotation
    from vcfviewer.core.image import Radiograph, Volume


def _fail(stage: str, reason: str) -> Exception:
    from vcfviewer.batch.task import _StageFailure

    return _StageFailure(stage, reason)


def _is_dicom(image: "Radiograph | Volume") -> bool:
    """A film with a DICOM source file (a volume's slices are found through the volume)."""
    from vcfviewer.core.image import Radiograph

    return isinstance(image, Radiograph) and image.source.sop_instance_uid is not None


def _outputs(report: Any, out_dir: Path) -> tuple[str, ...]:
    names = []
    for path in report.written.values():
        try:
            names.append(str(Path(path).relative_to(out_dir)))
        except ValueError:
            names.append(str(path))
    return tuple(names)


def skipped_notes(report: Any) -> tuple[str, ...]:
    """One note per reason formats were skipped: "sr, seg not written: <reason>"."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in report.skipped.items():
        by_reason.setdefault(reason, []).append(name)
    return tuple(f"{', '.join(names)} not written: {reason}" for reason, names in by_reason.items())


def _check(report: Any) -> None:
    if report.failed:
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(report.failed.items()))
        raise _fail("export", reasons)


def formats_for(task: "StudyTask", annotation: "StudyAnnotation",
                image: "Radiograph | Volume | None" = None) -> tuple[str, ...]:
    """The task's formats, less those that cannot exist for what the model found.

    A SEG needs at least one segment and an SR at least one measured vertebra; on a film where
    the model found none, their writers refuse, which is no fault of the study. On a CT a body
    becomes voxels through its plane, and a body drawn off the scanned slices (a series of a few
    slices) has none.
    """
    drop = set()
    if not _segmentable(annotation, image):
        drop.add("seg")
    if not annotation.vertebrae:
        drop.add("sr")
    return tuple(f for f in task.formats if f not in drop)


def _segmentable(annotation: "StudyAnnotation", image: "Radiograph | Volume | None") -> bool:
    from vcfviewer.core.image import Volume

    drawn = [f for f in annotation.findings if f.mask is not None or f.landmarks is not None]
    if not isinstance(image, Volume):
        return bool(drawn)
    from vcfviewer.io.ct_export import body_voxels

    return any((voxels := body_voxels(image, annotation, f)) is not None and voxels[0].size
               for f in drawn)


def _write(task: "StudyTask", image: "Radiograph | Volume", annotation: "StudyAnnotation",
           source: str | None, ms: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.io.export import export_study

    out_dir = Path(task.out_dir)
    report = run_to_completion(export_study(image, annotation, out_dir, source_dicom_path=source,
                                            formats=formats_for(task, annotation, image),
                                            measurements=ms))
    _check(report)
    if task.deidentify:
        _mark(report)
    return _outputs(report, out_dir), skipped_notes(report)


def _mark(report: Any) -> None:
    from vcfviewer.batch import deidentify as deid

    for name in ("sr", "seg"):
        if name in report.written:
            try:
                deid.mark_deidentified(report.written[name])
            except Exception as exc:  # the file is de-identified; only the label is missing
                raise _fail("deidentify", f"{name}: cannot record the de-identification "
                                          f"({type(exc).__name__}: {exc})") from None


def export(task: "StudyTask", image: "Radiograph | Volume",
           annotation: "StudyAnnotation") -> tuple[tuple[str, ...], Any, tuple[str, ...]]:
    """Measure and export one study (a film or a CT volume).

    Returns (output names, measurements, notes on formats skipped and why).
    """
    from vcfviewer.core.image import Volume
    from vcfviewer.core.morphometry import measure_study

    ms = measure_study(annotation)
    source = image.source.path if _is_dicom(image) else None
    if not task.deidentify:
        outputs, notes = _write(task, image, annotation, source, ms)
        return outputs, ms, notes
    from vcfviewer.batch import deidentify as deid

    annotation = deid.deidentified_annotation(annotation, task.key)
    with tempfile.TemporaryDirectory(prefix="vcfviewer-deid-") as tmp:
        if isinstance(image, Volume):
            try:
                volume = deid.deidentified_volume(image, task.key, Path(tmp))
            except deid.DeidentificationError as exc:
                raise _fail("deidentify", str(exc)) from None
            outputs, notes = _write(task, volume, annotation, None, ms)
            return outputs, ms, notes
        image = deid.deidentified_image(image, task.key)
        copy = None
        if source is not None:
            try:
                copy = str(deid.write_deidentified_copy(source, Path(tmp) / "source.dcm",
                                                        task.key))
            except deid.DeidentificationError as exc:
                raise _fail("deidentify", str(exc)) from None
        outputs, notes = _write(task, image, annotation, copy, ms)
        return outputs, ms, notes

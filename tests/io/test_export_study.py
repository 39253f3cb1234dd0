"""export_study: every format in one folder, skips with reasons, isolation of failures, faults."""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from pathlib import Path

import pytest
from export_support import make_annotation, make_radiograph, write_dx

from vcfviewer.core.progress import Cancelled, run_to_completion
from vcfviewer.io import annotation_json, dicom_sr
from vcfviewer.io.export import FORMATS, export_stem, export_study


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_dicom_study_writes_every_format(tmp_path: Path) -> None:
    source = write_dx(tmp_path)
    seen = []
    report = run_to_completion(
        export_study(make_radiograph(), make_annotation(), tmp_path / "out", str(source)),
        on_progress=seen.append)
    assert report.ok and set(report.written) == set(FORMATS) and not report.skipped
    assert report.written["sr"].name == "lat.sr.dcm" and report.written["sr"].is_file()
    assert annotation_json.read_annotation(report.written["json"]) == make_annotation()
    assert report.training_entry == make_annotation().image.sop_instance_uid
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_raster_study_skips_sr_and_seg_with_a_reason(tmp_path: Path) -> None:
    annotation = make_annotation(spacing=None)
    report = run_to_completion(export_study(make_radiograph(spacing=None), annotation,
                                            tmp_path / "out", None))
    assert set(report.skipped) == {"sr", "seg"} and "no DICOM source" in report.skipped["sr"]
    assert set(report.written) == {"json", "csv", "key_image", "training_set"} and report.ok
    assert "sr: skipped (no DICOM source" in report.summary()


def test_one_failing_format_does_not_lose_the_others(tmp_path: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("bug in the SR writer")

    monkeypatch.setattr(dicom_sr, "write_sr", broken)
    report = run_to_completion(export_study(make_radiograph(), make_annotation(), tmp_path / "o",
                                            str(write_dx(tmp_path))))
    assert list(report.failed) == ["sr"] and "bug in the SR writer" in report.failed["sr"]
    assert set(report.written) == set(FORMATS) - {"sr"}


def test_unreadable_source_fails_sr_and_seg_only(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    report = run_to_completion(export_study(make_radiograph(), make_annotation(), tmp_path / "o",
                                            str(bad)))
    assert set(report.failed) == {"sr", "seg"} and "cannot read the source DICOM" in report.failed["sr"]
    assert len(report.written) == 4


def _export_twice_with_fault(tmp_path: Path, monkeypatch, fault) -> tuple[dict, dict, object]:
    source = str(write_dx(tmp_path))
    out = tmp_path / "out"
    run_to_completion(export_study(make_radiograph(), make_annotation(), out, source))
    before = _files(out)
    changed = make_annotation()
    changed = changed.with_finding(changed.by_level("T12").edited(grade=3, fracture_type="crush"))
    fault(monkeypatch)
    report = run_to_completion(export_study(make_radiograph(), changed, out, source))
    monkeypatch.undo()
    return before, _files(out), report


def test_full_disk_fails_clearly_and_keeps_every_previous_file(tmp_path, monkeypatch) -> None:
    def fault(mp) -> None:
        def no_space(*args):
            raise OSError(errno.ENOSPC, "No space left on device")

        mp.setattr(os, "fsync", no_space)  # every atomic write fsyncs before replacing

    before, after, report = _export_twice_with_fault(tmp_path, monkeypatch, fault)
    assert set(report.failed) == set(FORMATS)
    assert all("disk is full" in reason for reason in report.failed.values())
    assert after == before  # byte-identical, and no temporary files left behind


def test_read_only_folder_fails_clearly_and_keeps_every_previous_file(tmp_path, monkeypatch) -> None:
    import tempfile

    def fault(mp) -> None:
        def denied(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied")

        mp.setattr(tempfile, "mkstemp", denied)

    before, after, report = _export_twice_with_fault(tmp_path, monkeypatch, fault)
    assert set(report.failed) == set(FORMATS)
    assert all("no permission" in reason for reason in report.failed.values())
    assert after == before


def test_output_folder_that_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    report = run_to_completion(export_study(make_radiograph(), make_annotation(), blocker, None,
                                            formats=("json", "csv")))
    assert set(report.failed) == {"json", "csv"} and "not a folder" in report.failed["json"]


def test_cancel_between_formats_leaves_complete_files(tmp_path: Path) -> None:
    job = export_study(make_radiograph(), make_annotation(), tmp_path / "o", None)
    with pytest.raises(Cancelled):
        run_to_completion(job, should_cancel=lambda: (tmp_path / "o" / "lat.findings.csv").exists())
    assert annotation_json.read_annotation(tmp_path / "o" / "lat.annotation.json")
    assert not (tmp_path / "o" / "lat.key.png").exists()
    assert not [p for p in (tmp_path / "o").iterdir() if p.name.endswith(".part")]


def test_stem_and_format_names() -> None:
    annotation = make_annotation()
    assert export_stem(annotation) == "lat"
    odd = replace(annotation, image=replace(annotation.image, path="/x/My Film (1).PNG"))
    assert export_stem(odd) == "My_Film_1"
    with pytest.raises(ValueError, match="unknown export formats: pdf"):
        next(export_study(make_radiograph(), annotation, "/tmp", None, formats=("pdf",)))

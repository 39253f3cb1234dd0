"""Discovery: folder / DICOMDIR / single file → patients → studies → series, headers only."""

from __future__ import annotations

import math
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import generate_uid
from test_io_factory import BASIC_TEXT_SR, make_dataset, write_ct_series, write_dicom

from vcfviewer.core.progress import Progress, run_to_completion
from vcfviewer.io.discovery import NO_PATIENT, ScanResult, scan, scan_sync
from vcfviewer.io.errors import LoadError


def _study_folder(root: Path) -> dict[str, Path]:
    """Two patients: a CT series + an SR; a lateral CR; plus junk, a PNG and a NIfTI."""
    study_uid = generate_uid()
    ct = write_ct_series(root / "p1" / "ct", [0.0, 2.0, 4.0])
    for path in ct:  # same study as the SR
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesDescription, ds.SeriesNumber = study_uid, "Spine 2mm", 2
        ds.save_as(path, enforce_file_format=True)
    write_dicom(root / "p1" / "sr.dcm", None, sop_class=BASIC_TEXT_SR, modality="SR",
                StudyInstanceUID=study_uid, SeriesNumber=99)
    cr = write_dicom(root / "p2" / "deep" / "lat.dcm", np.zeros((6, 5), np.uint16),
                     PatientID="PID-2", PatientName="Other^Person", ImagerPixelSpacing=[0.2, 0.2],
                     EstimatedRadiographicMagnificationFactor=1.1, SeriesDescription="L-spine lat")
    (root / "notes.bin").write_text("not an image")
    (root / "empty.dcm").write_bytes(b"")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    Image.fromarray(np.zeros((7, 9), np.uint8)).save(root / "film.png")
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.eye(4)), root / "ct.nii.gz")
    return {"cr": cr, "ct0": ct[0]}


def test_folder_is_grouped_patient_study_series(tmp_path: Path) -> None:
    files = _study_folder(tmp_path)
    result = scan_sync(tmp_path)
    names = [p.patient_name for p in result.patients]
    assert names == ["Other^Person", "Test^Patient", NO_PATIENT]
    other, first, no_patient = result.patients
    assert [len(s.series) for s in first.studies] == [2]
    ct, sr = first.studies[0].series
    assert (ct.kind, ct.modality, ct.image_count, ct.number) == ("volume", "CT", 3, 2)
    assert ct.description == "Spine 2mm" and ct.spacing_source == "Volume"
    assert (ct.rows, ct.columns, ct.frames) == (8, 6, 1)
    assert sorted(ct.files) == sorted(str(p) for p in (tmp_path / "p1" / "ct").iterdir())
    assert (sr.kind, sr.modality) == ("other", "SR")
    cr = other.studies[0].series[0]
    assert (cr.kind, cr.files, cr.spacing_source) == (
        "radiograph", (str(files["cr"]),),
        "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor")
    kinds = {s.description: (s.kind, s.spacing_source) for st in no_patient.studies
             for s in st.series}
    assert kinds == {"film.png": ("radiograph", "none"), "ct.nii.gz": ("volume", "Volume")}
    assert len(result.all_series()) == 5


def test_junk_files_become_problems_and_the_scan_goes_on(tmp_path: Path) -> None:
    _study_folder(tmp_path)
    result = scan_sync(tmp_path)
    reasons = {Path(p.path).name: p.reason for p in result.problems}
    assert reasons == {"notes.bin": "not a DICOM file", "empty.dcm": "empty file"}
    assert result.files_seen == 9  # 3 CT + SR + CR + txt + empty + PNG + NIfTI; hidden skipped


def test_scan_reads_headers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _study_folder(tmp_path)
    calls: list[dict] = []
    real = pydicom.dcmread

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", spy)
    scan_sync(tmp_path)
    assert calls and all(c.get("stop_before_pixels") for c in calls)


def test_scan_reports_progress_to_the_end(tmp_path: Path) -> None:
    write_ct_series(tmp_path, [float(z) for z in range(40)])
    reports: list[Progress] = []
    result = run_to_completion(scan(tmp_path), reports.append)
    assert isinstance(result, ScanResult)
    assert math.isnan(reports[0].fraction)
    fractions = [r.fraction for r in reports[1:]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(r.stage == "scan" for r in reports)


def test_series_without_uids_group_by_folder(tmp_path: Path) -> None:
    for name in ("a", "b"):
        for z in (0.0, 1.0):
            ds = make_dataset(np.zeros((4, 4), np.uint16), modality="CT",
                              sop_class="1.2.840.10008.5.1.4.1.1.2",
                              ImagePositionPatient=[0, 0, z],
                              ImageOrientationPatient=[1, 0, 0, 0, 1, 0], PixelSpacing=[1, 1])
            ds.SeriesInstanceUID = ds.StudyInstanceUID = ""
            (tmp_path / name).mkdir(exist_ok=True)
            ds.save_as(tmp_path / name / f"{z}.dcm", enforce_file_format=True)
    series = scan_sync(tmp_path).all_series()
    assert [(s.kind, s.image_count) for s in series] == [("volume", 2), ("volume", 2)]


def test_localizer_series_is_a_radiograph(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, [0.0, 1.0])
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.save_as(path, enforce_file_format=True)
    assert [s.kind for s in scan_sync(tmp_path).all_series()] == ["radiograph"]


def test_single_file(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "one.dcm", np.zeros((3, 3), np.uint16), PixelSpacing=[0.1, 0.1])
    result = scan_sync(path)
    assert result.files_seen == 1
    (series,) = result.all_series()
    assert series.files == (str(path),) and series.spacing_source == "PixelSpacing"


def test_missing_path_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file or folder"):
        scan_sync(tmp_path / "absent")


def test_dicomdir_lists_its_files(tmp_path: Path) -> None:
    from pydicom.fileset import FileSet

    source = tmp_path / "src"
    paths = write_ct_series(source, [0.0, 1.0, 2.0])
    paths.append(write_dicom(source / "cr.dcm", np.zeros((4, 4), np.uint16)))
    fileset = FileSet()
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.StudyTime, ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "120000", "1", "", ""
        fileset.add(ds)
    fileset.write(tmp_path / "media")
    (tmp_path / "media" / "stray.txt").write_text("not listed in the DICOMDIR")
    result = scan_sync(tmp_path / "media" / "DICOMDIR")
    assert result.files_seen == 4  # only what the DICOMDIR references
    assert sorted(s.kind for s in result.all_series()) == ["radiograph", "volume"]
    assert result.problems == ()


def test_broken_dicomdir_falls_back_to_its_folder(tmp_path: Path) -> None:
    write_dicom(tmp_path / "img.dcm", np.zeros((4, 4), np.uint16))
    (tmp_path / "DICOMDIR").write_bytes(b"garbage")
    result = scan_sync(tmp_path / "DICOMDIR")
    assert len(result.all_series()) == 1
    assert "scanning its folder instead" in result.problems[0].reason


def test_text_sidecars_and_hidden_files_are_skipped_silently(tmp_path) -> None:
    from vcfviewer.io.discovery import scan_sync

    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "film.json").write_text("{}")
    (tmp_path / "film.findings.csv").write_text("level\n")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "junk.bin").write_bytes(b"not dicom at all")
    result = scan_sync(tmp_path)
    assert [p.path for p in result.problems] == [str(tmp_path / "junk.bin")]


def test_a_simulated_films_label_map_is_truth_not_a_film(tmp_path: Path) -> None:
    from vcfviewer.synth import simulate, write_study

    def files(result: ScanResult) -> list[str]:
        return sorted(f for p in result.patients for st in p.studies for se in st.series
                      for f in se.files)

    write_study(simulate(3), tmp_path, "film")
    assert (tmp_path / "film_labels.png").is_file()
    result = scan_sync(tmp_path)
    assert files(result) == [str(tmp_path / "film.dcm")] and result.problems == ()
    # A PNG that merely ends the same way, with no truth beside it, is still a film.
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "knee_labels.png")
    assert str(tmp_path / "knee_labels.png") in files(scan_sync(tmp_path))

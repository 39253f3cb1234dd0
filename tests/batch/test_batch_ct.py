"""CT volumes in the batch: planned as one study per series, analysed with the CT pipeline,
exported with the volume (SR/SEG reference the series), de-identified, MR skipped.

The CT analysis itself is replaced by a stand-in returning a hand-made whole-volume annotation
(``vcfviewer.models.ct.analyze_volume`` is monkeypatched), so the tests check the batch and the
exports, not the model. ``test_batch_cli`` runs the real CT analysis with the tiny model.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from vcfviewer.__main__ import main
from vcfviewer.batch.plan import BatchOptions, make_plan
from vcfviewer.batch.task import OK, SKIPPED, StudyTask, analyze_one
from vcfviewer.core.annotation import Provenance, StudyAnnotation, VertebraFinding, image_ref_for
from vcfviewer.core.progress import Progress
from vcfviewer.core.reformat import sagittal_count, sagittal_plane
from vcfviewer.io.discovery import scan_sync

from batch_support import SENTINEL_ID, SENTINEL_NAME, write_ct, write_dx

pydicom = pytest.importorskip("pydicom")


def _annotation(volume) -> StudyAnnotation:
    """L1 on plane 6 (normal) and L2 on plane 8 (wedge); landmarks only (polygon masks).

    8 slices of 3 mm, 0.75 mm pixels: planes of 29 × 16 pixels, plane row y ↔ file y / 4."""
    findings = (
        VertebraFinding("L1", [[3, 3], [8, 3], [12, 3], [3, 13], [8, 13], [12, 13]],
                        fracture_probability=0.1, finding_id="l1", plane_index=6),
        VertebraFinding("L2", [[3, 17], [8, 16], [12, 15], [3, 24], [8, 25], [12, 25]],
                        grade=2, fracture_type="wedge", fracture_probability=0.9,
                        finding_id="l2", plane_index=8),
    )
    image = image_ref_for(sagittal_plane(volume, 7), plane_count=sagittal_count(volume))
    return StudyAnnotation(image, findings, Provenance("0.1.0", model_id="vcf-lateral",
                                                       model_version="1.0.0"))


@pytest.fixture
def fake_ct_analysis(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace the CT analysis by a stand-in; returns the list of volumes it was given."""
    from vcfviewer.core.annotation import Proposal

    seen: list = []

    def analyze_volume(analyzer, volume):
        seen.append(volume)
        yield Progress("network", 0.5, "stand-in")
        return Proposal(annotation=_annotation(volume), study_fracture_probability=0.9)

    monkeypatch.setattr("vcfviewer.models.ct.analyze_volume", analyze_volume)
    return seen


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_plan_makes_one_ct_task_per_series_and_skips_mr(tmp_path: Path) -> None:
    write_dx(tmp_path / "dx" / "a.dcm")
    ct = write_ct(tmp_path / "ct", slices=4)
    write_ct(tmp_path / "mr", slices=3, modality="MR")
    options = BatchOptions(out_dir=tmp_path / "out", model_id="vcf-lateral",
                           model_version="1.0.0", ct_model_id="vcf-ct", ct_model_version="2.0.0")
    plan = make_plan(scan_sync(tmp_path), options)
    volumes = [t for t in plan.tasks if t.files]
    assert len(plan.tasks) == 2 and len(volumes) == 1
    assert sorted(volumes[0].files) == sorted(str(p) for p in ct)
    assert (volumes[0].model_id, volumes[0].expected_model_version) == ("vcf-ct", "2.0.0")
    film = next(t for t in plan.tasks if not t.files)
    assert (film.model_id, film.expected_model_version) == ("vcf-lateral", "1.0.0")
    skipped = [r for r in plan.finished if r.status == SKIPPED]
    assert [(r.modality, r.reason) for r in skipped] == [
        ("MR", "a MR volume: only CT volumes are analysed")]


def test_a_ct_study_is_analysed_and_exported_against_its_series(
        tmp_path: Path, models_env: Path, fake_ct_analysis: list) -> None:
    paths = write_ct(tmp_path / "in" / "ct", slices=8)
    files = tuple(str(p) for p in paths)
    task = StudyTask(key="ct_1", path=files[0], out_dir=str(tmp_path / "out" / "ct_1"),
                     device="cpu", modality="CT", files=files)
    result = analyze_one(task)
    assert result.status == OK, result.reason
    assert len(fake_ct_analysis) == 1 and fake_ct_analysis[0].shape == (8, 16, 16)
    assert (result.vertebrae, result.levels_flagged, result.sdi) == (2, ("L2",), 2)
    folder = Path(task.out_dir)
    assert set(result.outputs) == {"ct.annotation.json", "ct.findings.csv", "ct.sr.dcm",
                                   "ct.seg.dcm", "ct.key.png"}
    planes = {r["level"]: r["plane"] for r in _rows(folder / "ct.findings.csv")}
    assert planes == {"L1": "7", "L2": "9"}
    from vcfviewer.io.dicom_seg import read_seg_masks

    uids = [str(pydicom.dcmread(p).SOPInstanceUID) for p in paths]  # file k at z = −3k
    segments = read_seg_masks(folder / "ct.seg.dcm", uids)
    assert [s.level for s in segments] == ["L1", "L2"]
    # L1's polygon spans plane rows 2..12: voxel centres at rows 4, 8, 12 → files 1, 2, 3;
    # it lies on plane 6 = voxel column 6
    l1 = segments[0].mask
    assert np.flatnonzero(l1.any(axis=(1, 2))).tolist() == [1, 2, 3]
    assert np.flatnonzero(l1.any(axis=(0, 1))).tolist() == [6]
    sr = pydicom.dcmread(folder / "ct.sr.dcm")
    evidence = {str(i.ReferencedSOPInstanceUID) for s in sr.CurrentRequestedProcedureEvidenceSequence
                for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence}
    # landmarks at rows 3 (file 1), 13 (file 3), 15..17 (file 4), 24..25 (file 6)
    assert evidence == {uids[k] for k in (1, 3, 4, 6)}


def test_deidentified_ct_exports_hold_no_identifiers(tmp_path: Path, models_env: Path,
                                                     fake_ct_analysis: list) -> None:
    write_ct(tmp_path / "in" / "Zzsentinel_Qqpatient", slices=8, patient_name=SENTINEL_NAME,
             patient_id=SENTINEL_ID)
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "in"), "--out", str(out), "--workers", "0",
                 "--deidentify", "--quiet", "--formats",
                 "json,csv,sr,seg,key_image,training_set"]) == 0
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".dcm", ".json", ".csv", ".png", ".npy"}
    for path in files:
        blob = path.read_bytes().lower()
        for secret in ("zzsentinel", "qqpatient", SENTINEL_ID.lower()):
            assert secret.encode() not in blob, f"{secret} leaked into {path.name}"
    row = _rows(out / "summary.csv")[0]
    assert (row["status"], row["modality"], row["vertebrae"]) == ("ok", "CT", "2")
    for name in ("*.sr.dcm", "*.seg.dcm"):
        derived = pydicom.dcmread(next(out.rglob(name)))
        assert str(derived.PatientName) == "ANONYMOUS^" and derived.PatientID == row["key"]
        assert derived.PatientIdentityRemoved == "YES"


def test_a_volume_not_in_hounsfield_units_is_skipped(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    path = tmp_path / "mr.nii.gz"
    data = np.random.default_rng(0).uniform(0, 400, (8, 8, 6)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    task = StudyTask(key="mr_1", path=str(path), out_dir=str(tmp_path / "out"), files=(str(path),))
    result = analyze_one(task)
    assert result.status == SKIPPED and "Hounsfield" in result.reason


def test_a_nifti_ct_is_analysed_and_says_why_sr_and_seg_are_missing(
        tmp_path: Path, models_env: Path, fake_ct_analysis: list) -> None:
    nib = pytest.importorskip("nibabel")
    data = np.full((16, 16, 8), -1000.0, np.float32)  # (x, y, z): air with a slab of bone
    data[:, 4:8, :] = 400.0
    path = tmp_path / "in" / "ct.nii.gz"
    path.parent.mkdir()
    nib.save(nib.Nifti1Image(data, np.diag([0.75, 0.75, 3.0, 1.0])), str(path))
    task = StudyTask(key="ct_n", path=str(path), out_dir=str(tmp_path / "out"), device="cpu",
                     files=(str(path),))
    result = analyze_one(task)
    assert result.status == OK and result.modality == "CT"
    assert set(result.outputs) == {"ct.annotation.json", "ct.findings.csv", "ct.key.png"}
    assert ("sr, seg not written: no DICOM source (the volume came from a NIfTI file)"
            in result.notes)


def test_ct_series_use_the_shipped_ct_model_and_films_the_lateral_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_ct_analysis: list) -> None:
    from batch_support import make_tiny_model

    from vcfviewer.batch.task import clear_model_cache

    models = tmp_path / "models"
    make_tiny_model(models)
    make_tiny_model(models, model_id="vcf-ct")
    monkeypatch.setenv("VCFVIEWER_MODELS", str(models))
    clear_model_cache()
    write_dx(tmp_path / "in" / "dx" / "a.dcm")
    write_ct(tmp_path / "in" / "ct", slices=8)
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "in"), "--out", str(out), "--workers", "0",
                 "--quiet", "--formats", "json"]) == 0
    models_used = {r["modality"]: r["model"].split()[0] for r in _rows(out / "summary.csv")}
    assert models_used == {"CT": "vcf-ct", "DX": "vcf-lateral"}
    assert main(["analyze", str(tmp_path / "in"), "--out", str(out), "--ct-model", "nope",
                 "--quiet"]) == 2  # an unknown CT model is a configuration error
    clear_model_cache()

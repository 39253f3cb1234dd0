"""``vcfviewer analyze`` end to end: summary, errors, resume, exit codes, runners, de-identified."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from vcfviewer.__main__ import main

from batch_support import (
    SENTINEL_ACCESSION, SENTINEL_BIRTH, SENTINEL_ID, SENTINEL_NAME, dx_dataset, film_pixels,
    write_ct, write_dx,
)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _archive(root: Path) -> Path:
    write_dx(root / "p1" / "a.dcm", seed=1)
    write_dx(root / "p2" / "b.dcm", seed=2)
    write_ct(root / "ct", slices=3)
    (root / "readme.txt").write_text("side-car")
    return root


def test_batch_summary_errors_and_resume(tmp_path: Path, models_env: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    root, out = _archive(tmp_path / "in"), tmp_path / "out"
    (root / "junk.dcm").write_bytes(b"DICM" * 8)
    assert main(["analyze", str(root), "--out", str(out), "--workers", "0", "--device",
                 "cpu"]) == 1  # the junk file is an error
    captured = capsys.readouterr()
    assert "analyze: 3/3 100%" in captured.err and "studies/min" in captured.err
    rows = _rows(out / "summary.csv")
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"]  # patient "Ct^Test" first
    ok = [r for r in rows if r["status"] == "ok"]
    assert {r["source"] for r in ok} == {"ct/ct0.dcm", "p1/a.dcm", "p2/b.dcm"}
    assert rows[0]["modality"] == "CT"  # the series analysed by the CT pipeline (tiny model)
    for row in ok:
        assert row["any_fracture"] in ("yes", "no") and row["sdi"].isdigit()
        assert (out / row["key"] / "done.json").is_file()
    errors = _rows(out / "errors.csv")
    assert [(e["stage"], e["source"]) for e in errors] == [("scan", "junk.dcm")]
    # Second run: nothing re-analysed; after removing one output that study runs again.
    (root / "junk.dcm").unlink()
    assert main(["analyze", str(root), "--out", str(out), "--workers", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"]["done_before"] == 3 and doc["counts"]["ok"] == 0
    victim = ok[0]["key"]
    next((out / victim).glob("*.key.png")).unlink()
    assert main(["analyze", str(root), "--out", str(out), "--workers", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    again = {s["key"]: s["status"] for s in doc["studies"]}
    assert again[victim] == "ok" and list(again.values()).count("done_before") == 2


def test_usage_and_configuration_errors_exit_2(tmp_path: Path, models_env: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "in"
    write_dx(root / "a.dcm")
    out = str(tmp_path / "out")
    assert main(["analyze", str(tmp_path / "missing"), "--out", out]) == 2
    assert main(["analyze", str(root), "--out", out, "--formats", "json,pdf"]) == 2
    assert main(["analyze", str(root), "--out", out, "--model", "nope"]) == 2
    assert main(["analyze", "--out", out]) == 2  # neither PATH nor --sample
    (tmp_path / "file").write_text("x")
    assert main(["analyze", str(root), "--out", str(tmp_path / "file" / "sub")]) == 2
    with pytest.raises(SystemExit) as usage:
        main(["analyze", str(root)])  # --out missing: argparse's own usage error
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "no such file or folder" in err and "pdf" in err and "no model card" in err


def test_a_model_whose_checksum_does_not_match_is_refused(tmp_path: Path, tiny_model: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    broken = tmp_path / "models"
    shutil.copytree(tiny_model, broken)
    weights = broken / "vcf-lateral.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setenv("VCFVIEWER_MODELS", str(broken))
    write_dx(tmp_path / "in" / "a.dcm")
    assert main(["analyze", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "sha256" in err and "does not match the model card" in err
    assert not (tmp_path / "out" / "summary.csv").exists()


def test_deidentified_exports_hold_no_identifiers(tmp_path: Path, models_env: Path) -> None:
    ds = dx_dataset(film_pixels(seed=4), patient_name=SENTINEL_NAME, patient_id=SENTINEL_ID)
    ds.AccessionNumber, ds.PatientBirthDate = SENTINEL_ACCESSION, SENTINEL_BIRTH
    ds.OtherPatientNames = SENTINEL_NAME
    ds.add_new(0x00091010, "LO", SENTINEL_ID)  # a private element
    folder = tmp_path / "in" / "Zzsentinel_Qqpatient"  # folders named after the patient
    folder.mkdir(parents=True)
    ds.save_as(folder / "Zzsentinel.dcm", enforce_file_format=True)
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "in"), "--out", str(out), "--workers", "0",
                 "--deidentify", "--formats", "json,csv,sr,seg,key_image,training_set"]) == 0
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".dcm" for p in files) and len(files) >= 8
    for path in files:
        blob = path.read_bytes().lower()
        for secret in ("zzsentinel", "qqpatient", SENTINEL_ID.lower(), SENTINEL_ACCESSION.lower(),
                       SENTINEL_BIRTH, "19400101"):
            assert secret.encode() not in blob, f"{secret} leaked into {path.name}"
    import pydicom

    sr = pydicom.dcmread(next(out.rglob("*.sr.dcm")))
    key = _rows(out / "summary.csv")[0]["key"]
    assert str(sr.PatientName) == "ANONYMOUS^" and sr.PatientID == key
    assert sr.PatientSex == "F" and sr.StudyDate == "20240501"  # kept on purpose
    seg = pydicom.dcmread(next(out.rglob("*.seg.dcm")))
    for derived in (sr, seg):
        assert derived.PatientIdentityRemoved == "YES"
        assert "113100" in [c.CodeValue for c in derived.DeidentificationMethodCodeSequence]
    assert sr.StudyInstanceUID == ds.StudyInstanceUID  # UIDs retained


def test_local_process_pool_with_two_workers(tmp_path: Path, models_env: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root, out = _archive(tmp_path / "in"), tmp_path / "out"
    assert main(["analyze", str(root), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    rows = _rows(out / "summary.csv")
    assert sorted(r["status"] for r in rows) == ["ok", "ok", "ok"]  # the CT series too
    # workers × threads ≤ cores: each worker got cores // 2 torch threads (at least 1)
    from vcfviewer.batch.runners import available_cores

    threads = max(1, available_cores() // 2)
    assert {r["device"] for r in rows if r["status"] == "ok"} == {f"CPU ({threads} threads)"}
    assert "studies:" in capsys.readouterr().out


def test_dask_cluster_on_loopback(tmp_path: Path, models_env: Path) -> None:
    distributed = pytest.importorskip("distributed")
    root, out = _archive(tmp_path / "in"), tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert main(["analyze", str(root), "--out", str(out), "--scheduler",
                     cluster.scheduler_address, "--quiet"]) == 0
    rows = _rows(out / "summary.csv")
    assert sorted(r["status"] for r in rows) == ["ok", "ok", "ok"]  # the CT series too


def test_unreachable_scheduler_is_a_configuration_error(tmp_path: Path, models_env: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed again: nothing listens there
    from vcfviewer.batch import runners

    real = runners.run_dask
    monkeypatch.setattr(runners, "run_dask", lambda tasks, address: real(tasks, address, 1.0))
    write_dx(tmp_path / "in" / "a.dcm")
    assert main(["analyze", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                 "--scheduler", f"tcp://127.0.0.1:{port}", "--quiet"]) == 2


def test_an_unusable_device_stops_the_batch_with_status_2(tmp_path: Path, models_env: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from vcfviewer.batch.task import clear_model_cache

    clear_model_cache()
    write_dx(tmp_path / "in" / "a.dcm", seed=1)
    write_dx(tmp_path / "in" / "b.dcm", seed=2)
    assert main(["analyze", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                 "--workers", "0", "--device", "cuda", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_status"] == 2 and doc["not_run"] == 1  # stopped after the first study
    assert doc["errors"][0]["stage"] == "model"


def test_facing_given_on_the_command_line_applies_to_radiographs_only(
        tmp_path: Path, models_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    write_dx(root / "a.dcm", seed=1)
    write_ct(root / "ct", slices=3)
    assert main(["analyze", str(root), "--out", str(out), "--workers", "0", "--quiet",
                 "--facing", "left"]) == 0
    flags = {}
    for path in out.glob("*/*.annotation.json"):
        doc = json.loads(path.read_text())
        flags[doc["image"]["modality"]] = doc["flags"]
    assert any(f.startswith("analysed facing left, as the reader asked") for f in flags["DX"])
    assert not any("as the reader asked" in f for f in flags["CT"])
    with pytest.raises(SystemExit):
        main(["analyze", str(root), "--out", str(out), "--facing", "up"])

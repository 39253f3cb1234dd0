"""Planning a batch: stable study keys, exclusions, CT volumes, resume markers (no model)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vcfviewer.batch import marker
from vcfviewer.batch.plan import BatchOptions, is_excluded, make_plan
from vcfviewer.batch.task import DONE_BEFORE, OK, StudyResult, StudyTask
from vcfviewer.io.discovery import scan_sync

from batch_support import SENTINEL_NAME, write_ct, write_dx

STUDY, SERIES = "1.2.826.0.1.3680043.8.498.7001", "1.2.826.0.1.3680043.8.498.7002"


def _options(out: Path, **changes: object) -> BatchOptions:
    base = dict(out_dir=out, model_id="vcf-lateral", model_version="1.0.0")
    base.update(changes)
    return BatchOptions(**base)  # type: ignore[arg-type]


def test_keys_come_from_uids_and_survive_moving_the_archive(tmp_path: Path) -> None:
    write_dx(tmp_path / "a" / SENTINEL_NAME.replace("^", "_") / "x.dcm", study_uid=STUDY,
             series_uid=SERIES, patient_name=SENTINEL_NAME)
    first = make_plan(scan_sync(tmp_path / "a"), _options(tmp_path / "out1"))
    shutil.copytree(tmp_path / "a", tmp_path / "b" / "elsewhere")
    second = make_plan(scan_sync(tmp_path / "b"), _options(tmp_path / "out2"))
    assert [t.key for t in first.tasks] == [t.key for t in second.tasks]
    key = first.tasks[0].key
    # 12 hex digits of SHA-256 of the study UID, 8 of the series UID; nothing from the patient.
    import hashlib

    study = hashlib.sha256(f"study:{STUDY}".encode()).hexdigest()[:12]
    series = hashlib.sha256(f"series:{SERIES}".encode()).hexdigest()[:8]
    assert key == f"{study}_{series}"
    assert "sentinel" not in key.lower()
    assert first.tasks[0].out_dir == str(tmp_path / "out1" / key)


def test_plan_analyses_ct_volumes_ignores_side_cars_and_reports_junk(tmp_path: Path) -> None:
    write_dx(tmp_path / "dx" / "one.dcm")
    write_ct(tmp_path / "ct", slices=3)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "truth.json").write_text("{}")
    (tmp_path / "broken.dcm").write_bytes(b"\x00" * 200)
    plan = make_plan(scan_sync(tmp_path), _options(tmp_path / "out"))
    assert [t.source_label for t in plan.tasks] == ["ct/ct0.dcm", "dx/one.dcm"]
    assert len(plan.tasks[0].files) == 3 and plan.tasks[0].modality == "CT"
    assert not plan.tasks[1].files and not plan.finished
    # the .txt and .json side-cars are no errors (discovery skips them, or the plan ignores them)
    assert [i.source for i in plan.issues] == ["broken.dcm"]
    assert plan.files == plan.files_seen >= 5  # 1 DX + 3 CT slices + broken: all accounted


def test_each_image_of_a_multi_image_series_is_its_own_study(tmp_path: Path) -> None:
    write_dx(tmp_path / "s" / "ap.dcm", seed=1, study_uid=STUDY, series_uid=SERIES)
    write_dx(tmp_path / "s" / "lat.dcm", seed=2, study_uid=STUDY, series_uid=SERIES)
    plan = make_plan(scan_sync(tmp_path), _options(tmp_path / "out"))
    keys = [t.key for t in plan.tasks]
    assert len(keys) == 2 and len(set(keys)) == 2
    assert keys[0].rsplit("_", 1)[0] == keys[1].rsplit("_", 1)[0]  # same study_series prefix


def test_exclusions_and_the_output_folder_inside_the_archive(tmp_path: Path) -> None:
    write_dx(tmp_path / "keep" / "a.dcm", seed=1)
    write_dx(tmp_path / "truth" / "b.dcm", seed=2)
    write_dx(tmp_path / "out" / "old" / "c.dcm", seed=3)  # e.g. exports of an earlier run
    plan = make_plan(scan_sync(tmp_path), _options(tmp_path / "out", excludes=("truth",)))
    assert [t.source_label for t in plan.tasks] == ["keep/a.dcm"]
    assert plan.excluded == 2
    assert is_excluded(str(tmp_path / "x" / "f_labels.png"), str(tmp_path), ("*_labels.png",))
    assert not is_excluded(str(tmp_path / "x" / "f.png"), str(tmp_path), ("*_labels.png",))


def test_deidentified_plans_carry_no_source_paths(tmp_path: Path) -> None:
    write_dx(tmp_path / "Doe_John" / "a.dcm")
    plan = make_plan(scan_sync(tmp_path), _options(tmp_path / "out", deidentify=True))
    assert plan.tasks[0].source_label == "" and plan.tasks[0].deidentify


def _done(task: StudyTask, folder: Path, **changes: object) -> StudyResult:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "x.annotation.json").write_text("{}")
    result = StudyResult(key=task.key, status=OK, any_fracture=True, worst_grade=2, sdi=3,
                         levels_flagged=("L1", "L2"), model_id="vcf-lateral",
                         model_version="1.0.0", outputs=("x.annotation.json",))
    marker.write(folder, task, result)
    return result


def test_resume_marker_is_honoured_only_when_complete_and_made_the_same_way(tmp_path: Path) -> None:
    task = StudyTask(key="abc_def", path="x.dcm", out_dir=str(tmp_path / "abc_def"),
                     model_id="vcf-lateral", source_label="p/x.dcm")
    folder = tmp_path / "abc_def"
    recorded = _done(task, folder)
    again = marker.completed(folder, task, "1.0.0")
    assert again == recorded
    assert json.loads((folder / "done.json").read_text())["result"]["source"] == ""
    assert marker.completed(folder, task, "2.0.0") is None  # another model version
    from dataclasses import replace

    assert marker.completed(folder, replace(task, threshold_preset="high_ppv"), "1.0.0") is None
    assert marker.completed(folder, replace(task, deidentify=True), "1.0.0") is None
    (folder / "x.annotation.json").unlink()
    assert marker.completed(folder, task, "1.0.0") is None  # an output went missing
    (folder / "x.annotation.json").write_text("{}")
    (folder / "done.json").write_text('{"format": "vcfviewer.batch.done", "key": ')
    assert marker.completed(folder, task, "1.0.0") is None  # a torn marker


def test_plan_reports_finished_studies_as_done_before(tmp_path: Path) -> None:
    write_dx(tmp_path / "in" / "a.dcm")
    options = _options(tmp_path / "out")
    plan = make_plan(scan_sync(tmp_path / "in"), options)
    task = plan.tasks[0]
    _done(task, Path(task.out_dir))
    again = make_plan(scan_sync(tmp_path / "in"), options)
    assert again.tasks == [] and [r.status for r in again.finished] == [DONE_BEFORE]
    assert again.finished[0].source == "a.dcm" and again.finished[0].sdi == 3

"""The pure per-study task: outputs, marker, figures, failures as results, pickling."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from vcfviewer.batch.task import (
    FAILED, OK, StudyResult, StudyTask, analyze_one, clear_model_cache, figures,
)
from vcfviewer.core.annotation import Provenance, StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import measure_study

from batch_support import write_dx


def _task(tmp_path: Path, path: Path, **changes: object) -> StudyTask:
    base = dict(key="k1_s1", path=str(path), out_dir=str(tmp_path / "out" / "k1_s1"),
                device="cpu", source_label="in/a.dcm", modality="DX")
    base.update(changes)
    return StudyTask(**base)  # type: ignore[arg-type]


def test_one_study_writes_every_export_then_the_marker(tmp_path: Path, models_env: Path) -> None:
    task = _task(tmp_path, write_dx(tmp_path / "in" / "a.dcm"))
    result = analyze_one(task)
    assert result.status == OK, result.reason
    folder = Path(task.out_dir)
    names = {p.name for p in folder.iterdir()}
    assert names == {"a.annotation.json", "a.findings.csv", "a.sr.dcm", "a.seg.dcm",
                     "a.key.png", "done.json"}
    assert set(result.outputs) == names - {"done.json"}
    assert result.model_id == "vcf-lateral" and result.device.startswith("CPU")
    # The row's figures are those of the exported annotation (decided grades, SDI).
    doc = json.loads((folder / "a.annotation.json").read_text())
    grades = {f["level"]: f["grade"] for f in doc["findings"] if f["level"] != "S1"}
    assert result.sdi == doc["measurements"]["sdi"] == sum(grades.values())
    assert result.worst_grade == max(grades.values(), default=0)
    assert result.any_fracture == (result.worst_grade >= 1)
    assert set(result.levels_flagged) == {lvl for lvl, g in grades.items() if g >= 1}
    done = json.loads((folder / "done.json").read_text())
    assert done["recipe"]["model_version"] == result.model_version


def test_a_corrupt_file_is_a_failed_result_not_an_exception(tmp_path: Path,
                                                          models_env: Path) -> None:
    bad = tmp_path / "in" / "bad.dcm"
    good = write_dx(tmp_path / "in" / "a.dcm")
    bad.write_bytes(good.read_bytes()[:400])  # truncated inside the header/pixels
    result = analyze_one(_task(tmp_path, bad))
    assert result.status == FAILED and result.stage == "load" and result.reason
    assert not result.fatal
    assert not (Path(_task(tmp_path, bad).out_dir) / "done.json").exists()


def test_a_missing_model_is_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "no-models"))
    clear_model_cache()
    result = analyze_one(_task(tmp_path, write_dx(tmp_path / "in" / "a.dcm")))
    assert result.status == FAILED and result.stage == "model" and result.fatal
    assert "no model card" in result.reason


def test_a_worker_with_another_model_version_refuses(tmp_path: Path, models_env: Path) -> None:
    task = _task(tmp_path, write_dx(tmp_path / "in" / "a.dcm"), expected_model_version="9.9")
    result = analyze_one(task)
    assert result.fatal and "expects 9.9" in result.reason


def test_tasks_and_results_pickle_and_round_trip(tmp_path: Path) -> None:
    task = _task(tmp_path, tmp_path / "a.dcm", deidentify=True)
    assert pickle.loads(pickle.dumps(task)) == task
    result = StudyResult(key="k", status=OK, worst_grade=2, levels_flagged=("L1",), sdi=2,
                         notes=("n",), outputs=("a.json",))
    assert pickle.loads(pickle.dumps(result)) == result
    assert StudyResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    with pytest.raises(ValueError):
        StudyResult(key="k", status="maybe")
    with pytest.raises(ValueError):
        StudyTask(key="../x", path="a", out_dir="o")


def test_figures_use_decided_grades_and_count_unmeasurable_bodies() -> None:
    from vcfviewer.core.annotation import ImageRef

    def box(top: float, ha: float) -> list[list[float]]:
        return [[0, top + 30 - ha], [10, top], [20, top], [0, top + 30], [10, top + 30],
                [20, top + 30]]

    findings = (VertebraFinding("L1", box(0, 30)),
                VertebraFinding("L2", box(40, 15), grade=3, fracture_type="wedge"),
                VertebraFinding("L3", box(80, 30), grade=1, fracture_type="crush"))
    ann = StudyAnnotation(ImageRef("x.dcm", 200, 100, (1.0, 1.0)), findings,
                          Provenance("t"), flags=("lumbar count 3 (expected 5)",))
    got = figures(ann, measure_study(ann))
    assert got["worst_grade"] == 3 and got["sdi"] == 4 and got["any_fracture"]
    assert got["levels_flagged"] == ("L2", "L3") and got["vertebrae"] == 3
    assert got["notes"][0] == "lumbar count 3 (expected 5)"


def test_formats_that_cannot_exist_for_an_empty_film_are_dropped(tmp_path: Path) -> None:
    from vcfviewer.batch.exporting import formats_for
    from vcfviewer.core.annotation import BodyMask, ImageRef
    import numpy as np

    task = _task(tmp_path, tmp_path / "a.dcm")
    ref = ImageRef("x.dcm", 50, 50, None)
    empty = StudyAnnotation(ref, (), Provenance("t"))
    assert formats_for(task, empty) == ("json", "csv", "key_image")
    sacrum = np.zeros((50, 50), bool)
    sacrum[30:40, 10:30] = True
    only_sacrum = StudyAnnotation(ref, (VertebraFinding("S1", None,
                                                        mask=BodyMask.from_full(sacrum)),),
                                  Provenance("t"))
    assert formats_for(task, only_sacrum) == ("json", "csv", "seg", "key_image")
    box = [[0, 0], [5, 0], [10, 0], [0, 10], [5, 10], [10, 10]]
    one = StudyAnnotation(ref, (VertebraFinding("L1", box),), Provenance("t"))
    assert formats_for(task, one) == task.formats


def test_the_facing_asked_for_reaches_the_model_and_the_marker(tmp_path: Path,
                                                               models_env: Path) -> None:
    from vcfviewer.batch import marker

    source = write_dx(tmp_path / "in" / "a.dcm")
    task = _task(tmp_path, source, facing="right")
    result = analyze_one(task)
    assert result.status == OK, result.reason
    folder = Path(task.out_dir)
    doc = json.loads((folder / "a.annotation.json").read_text())
    assert any(f.startswith("analysed facing right, as the reader asked") for f in doc["flags"])
    assert json.loads((folder / "done.json").read_text())["recipe"]["facing"] == "right"
    # Outputs made facing right do not stand in for a run that lets the model decide.
    assert marker.completed(folder, task, result.model_version) is not None
    auto = _task(tmp_path, source)
    assert marker.completed(folder, auto, result.model_version) is None
    assert "facing" not in marker._recipe(auto, result.model_version)

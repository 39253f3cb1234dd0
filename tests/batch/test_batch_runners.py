"""Runners and reports without a model: crash isolation, threads per worker, CSV, progress line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from vcfviewer.batch import runners, summary
from vcfviewer.batch.plan import FileIssue
from vcfviewer.batch.task import FAILED, OK, SKIPPED, BatchError, StudyResult, StudyTask

from batch_support import fake_analyze


def _tasks(tmp_path: Path, *keys: str) -> list[StudyTask]:
    return [StudyTask(key=k, path=f"{k}.dcm", out_dir=str(tmp_path / k)) for k in keys]


def test_a_dying_worker_costs_only_its_own_study(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path, "a1", "b2", "crash3", "c4", "d5")
    results = {r.key: r for r in runners.run_local(tasks, workers=2, fn=fake_analyze)}
    assert set(results) == {t.key for t in tasks}
    assert results["crash3"].status == FAILED and results["crash3"].stage == "worker"
    assert results["crash3"].reason == runners.DIED
    assert all(r.status == OK for k, r in results.items() if k != "crash3")


def test_workers_times_threads_never_exceed_cores() -> None:
    assert runners.threads_per_worker(1, cores=8) == 8
    assert runners.threads_per_worker(3, cores=8) == 2  # 3 × 2 = 6 ≤ 8
    assert runners.threads_per_worker(16, cores=8) == 1
    assert 1 <= runners.default_workers() <= 4
    with pytest.raises(BatchError):
        list(runners.run_local([], workers=0))


def test_reports_list_every_study_and_every_error(tmp_path: Path) -> None:
    results = [
        StudyResult(key="k1", status=OK, any_fracture=True, worst_grade=2, sdi=3,
                    levels_flagged=("L1", "L2"), seconds=1.25, model_id="m", model_version="1",
                    source="a/x.dcm"),
        StudyResult(key="k2", status=FAILED, stage="load", reason="truncated", source="b.dcm"),
        StudyResult(key="k3", status=SKIPPED, reason="a CT/MR volume"),
    ]
    summary_path, errors_path = summary.write_reports(
        tmp_path, results, [FileIssue("junk.bin", "not a DICOM file")])
    with open(summary_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == summary.SUMMARY_COLUMNS
    assert rows[0]["levels_flagged"] == "L1;L2" and rows[0]["any_fracture"] == "yes"
    assert rows[0]["seconds"] == "1.250" and rows[0]["model"] == "m 1"
    with open(errors_path, newline="") as handle:
        errors = list(csv.DictReader(handle))
    assert [(e["key"], e["stage"], e["reason"]) for e in errors] == [
        ("k2", "load", "truncated"), ("", "scan", "not a DICOM file")]
    text = summary.table(results)
    assert "k1" in text and "L1, L2" in text and "truncated" in text
    assert summary.counts(results) == {"ok": 1, "done_before": 0, "skipped": 1, "failed": 1,
                                       "with_fracture": 1}


def test_progress_line_shows_rate_and_time_left() -> None:
    stream = io.StringIO()
    line = summary.ProgressLine(4, stream=stream, every_s=0.0)
    line.update(StudyResult(key="a", status=OK))
    line.update(StudyResult(key="b", status=FAILED, stage="load", reason="x"))
    out = stream.getvalue().splitlines()
    assert out[0].startswith("analyze: 1/4 25% |") and "studies/min" in out[0]
    assert "left" in out[1] and out[1].endswith("| 1 failed")

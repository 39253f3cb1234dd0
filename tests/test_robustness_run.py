"""A short robustness run (scripts/robustness.py): mutated DICOM files never crash or hang the
loader, ``scan`` or ``analyze``; every input ends loaded or in a clear per-file error."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "batch"))  # shared test-data helpers

from batch_support import make_tiny_model  # noqa: E402


def _script():
    spec = importlib.util.spec_from_file_location("robustness", REPO / "scripts" / "robustness.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_every_mutation_kind_is_applied_and_ends_cleanly(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    make_tiny_model(tmp_path / "models")
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "models"))
    robustness = _script()
    out = tmp_path / "report.json"
    args = robustness._parser().parse_args([
        "--seconds", "8", "--out", str(out), "--work", str(tmp_path / "work"),
        "--corpus-seeds", "0", "--analyze-inputs", "6", "--timeout", "30"])
    report = robustness.run(args)
    assert json.loads(out.read_text())["inputs"] == report["inputs"]
    assert report["bad"] == [], report["bad"][:3]
    assert set(report["by_mutation"]) == set(robustness.MUTATIONS)  # each kind was tried
    assert report["outcomes"].get("error", 0) > 0
    assert report["scan"]["outcome"] == "ok" and report["scan"]["unaccounted"] == []
    assert report["analyze"]["outcome"] == "ok", report["analyze"]
    assert report["analyze"]["files_accounted"] == report["analyze"]["inputs"] == 6
    assert report["ok"]


def test_mutants_of_the_shared_corpus_end_cleanly(tmp_path: Path, shared_data: Path) -> None:
    robustness = _script()
    assert robustness.CORPUS == shared_data / "dicom-corpus"
    args = robustness._parser().parse_args([
        "--seconds", "5", "--out", str(tmp_path / "r.json"), "--work", str(tmp_path / "w"),
        "--corpus-seeds", "12", "--no-analyze", "--seed", "7", "--timeout", "30"])
    report = robustness.run(args)
    assert report["seeds"] > 12 and report["bad"] == [], report["bad"][:3]
    assert report["scan"]["outcome"] == "ok" and report["ok"]


def test_the_mutations_do_what_they_say(tmp_path: Path) -> None:
    import random

    robustness = _script()
    rng = random.Random(0)
    seeds = robustness.write_seeds(tmp_path / "seeds")
    data = seeds[0].read_bytes()
    assert robustness.zero_length(data, rng) == b""
    assert len(robustness.truncate(data, rng)) < len(data)
    assert robustness.flip_bytes(data, rng) != data and len(robustness.flip_bytes(data, rng)) \
        == len(data)
    import io

    import pydicom

    gone = pydicom.dcmread(io.BytesIO(robustness.MUTATIONS["missing_pixels"](data, rng)))
    assert "PixelData" not in gone and "Rows" in gone
    huge = pydicom.dcmread(io.BytesIO(robustness.MUTATIONS["absurd_dimensions"](data, rng)))
    assert (huge.Rows, huge.Columns) != (96, 64)

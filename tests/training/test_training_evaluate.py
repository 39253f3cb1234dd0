"""`vcfviewer evaluate`: studies found beside their truths, scored end to end.

With an analyzer that proposes each study's own truth, every figure must be perfect: that pins
the plumbing (image found from the truth JSON, spacing, tally) independently of any model; the
metric arithmetic itself has hand-computed tests in test_training_metrics.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vcfviewer.core.annotation import Proposal


@pytest.fixture(scope="module")
def films(tmp_path_factory) -> Path:
    from vcfviewer.__main__ import main

    folder = tmp_path_factory.mktemp("films")
    assert main(["synth", str(folder), "--count", "2", "--seed", "800200", "--spacing", "1.3",
                 "--quiet"]) == 0
    return folder


class _TruthAnalyzer:
    """Proposes the truth of the study whose pixels it is shown."""

    truths: dict = {}

    def __init__(self, model_id, device=None, threshold_preset="balanced") -> None:
        self.model_id, self.model_version, self.device_name, self.threshold = \
            "truth", "0", "cpu", 0.5

    def analyze_sync(self, image) -> Proposal:
        return Proposal(annotation=self.truths[image.pixels.shape])


def test_proposing_the_truth_scores_perfectly(films: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.models import inference
    from vcfviewer.training.evaluate import iter_studies

    studies = list(iter_studies(films))
    assert len(studies) == 2
    _TruthAnalyzer.truths = {load_path_sync(image).pixels.shape: truth
                             for _, image, truth in studies}
    assert len(_TruthAnalyzer.truths) == 2  # the two films differ in size
    monkeypatch.setattr(inference, "Analyzer", _TruthAnalyzer)
    assert main(["evaluate", "--data", str(films), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    bodies = sum(len(t.vertebrae) for _, _, t in studies)
    assert out["images"] == 2 and out["bodies_truth"] == bodies
    for key in ("detection_precision", "detection_recall", "level_accuracy_per_body",
                "whole_column_correct", "dice_mean", "genant_exact", "genant_within_1"):
        assert out[key] == 1.0, key
    assert out["landmark_error_mm_mean"] == 0.0 and out["height_ratio_mae_points"] == 0.0
    assert out["model_id"] == "truth" and out["threshold_preset"] == "balanced"
    # 2 of 2: Wilson's interval runs from 1 / (1 + 1.96² / 2) = 0.3424 to 1.
    assert out["whole_column_correct_ci95"] == [0.3424, 1.0]


def test_a_target_mark_says_whether_the_interval_clears_it() -> None:
    from vcfviewer.cli.evaluate import _target_mark

    assert _target_mark("whole_column_correct", 0.92, [0.874, 0.9502]) == \
        "   (target >= 0.97: NOT met; its whole 95 % interval misses it)"
    assert _target_mark("whole_column_correct", 0.96, [0.93, 0.98]) == \
        "   (target >= 0.97: NOT met; its 95 % interval straddles it)"
    assert _target_mark("whole_column_correct", 0.99, [0.975, 1.0]) == \
        "   (target >= 0.97: met; its whole 95 % interval clears it)"
    assert _target_mark("dice_mean", 0.98) == "   (target >= 0.95: met)"
    assert _target_mark("images", 200) == ""


def test_a_real_model_gives_figures_in_range(films: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main
    from vcfviewer.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(out_dir=tmp_path, work_dir=tmp_path / "work", film_size=64, body_size=32,
                      film_widths=(4, 8, 16), body_widths=(4, 8, 16), quiet=True,
                      model_id="tiny", threads=1)
    Trainer(cfg).export({"balanced": 0.5, "high_ppv": 0.8}, {}, {})
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    assert main(["evaluate", "--data", str(films), "--model", "tiny", "--json",
                 "--failures"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 2 and out["model_id"] == "tiny"
    rates = {k: v for k, v in out.items()
             if k.startswith(("detection_", "whole_", "fracture_image")) and "_ci95" not in k}
    assert all(v is None or 0.0 <= v <= 1.0 for v in rates.values())
    for key, value in rates.items():  # each interval, where given, holds its figure
        interval = out.get(f"{key}_ci95")
        assert interval is None or interval[0] <= value <= interval[1], key
    assert np.isfinite(out["seconds_per_image"])
    # Every image whose column is not entirely right is listed with at least one reason.
    failures = out["column_failures"]
    assert len(failures) == round(2 * (1 - out["whole_column_correct"]))
    assert all(f["image"].startswith("synth_") and f["problems"] for f in failures)
    assert main(["evaluate", "--data", str(films), "--model", "tiny", "--failures"]) == 0
    assert f"columns not entirely right: {len(failures)}" in capsys.readouterr().out


def test_a_folder_without_truths_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main

    assert main(["evaluate", "--data", str(tmp_path)]) == 2
    assert "no ground-truth annotation JSON" in capsys.readouterr().out

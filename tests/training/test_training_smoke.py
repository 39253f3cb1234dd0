"""`vcfviewer train` end to end at toy size: simulate, fit, threshold, export, reload, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

if not hasattr(pytest.importorskip("vcfviewer.synth"), "simulate"):
    pytest.skip("simulator not available yet", allow_module_level=True)


def test_train_smoke_writes_a_loadable_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vcfviewer.__main__ import main

    out, work = tmp_path / "models", tmp_path / "work"
    args = ["train", "--out", str(out), "--work", str(work), "--model-id", "smoke",
            "--films", "3", "--val-films", "2", "--calibration-films", "3",
            "--epochs", "1", "--steps", "2",
            "--film-batch", "2", "--body-batch", "4", "--film-size", "64", "--body-size", "32",
            "--spacing", "1.2", "1.4", "--workers", "1", "--quiet",
            "--transitional-rate", "0.5", "--grade-weights", "0", "0", "1",
            "--flat-back-rate", "0.25", "--edge-band-rate", "0.5"]
    assert main(args) == 0
    card = json.loads((out / "smoke.json").read_text())
    # The case mix is part of the recipe the card records.
    assert card["training"]["config"]["case_mix"] == {"transitional_rate": 0.5,
                                                      "flat_back_rate": 0.25,
                                                      "grade_weights": [0.0, 0.0, 1.0]}
    assert card["training"]["config"]["edge_band_rate"] == 0.5
    assert set(card["thresholds"]) == {"balanced", "high_ppv"}
    # Each epoch validates on --val-films; the presets and the card's validation figures come
    # from all --calibration-films, of which those are the first.
    assert card["training"]["history"][0]["images"] == 2
    assert "facing the way its truth faces" in card["training"]["history_note"]
    assert card["metrics"]["validation"]["images"] == 3
    assert card["training"]["calibration"] == {"validation_films": 3, "seeds": [800000, 3],
                                               "spacing_mm": [1.2, 1.4]}
    # The trained body network's own spread median, measured on the validation films.
    assert card["input"]["landmark_spread_reference"] > 0
    assert card["training"]["simulated_films"] == 3 and (work / "checkpoint.pt").is_file()
    monkeypatch.setenv("VCFVIEWER_MODELS", str(out))
    from vcfviewer.models.inference import Analyzer

    assert Analyzer("smoke", device="cpu").model_id == "smoke"
    # --resume with the epoch budget already spent trains nothing more but re-exports.
    assert main(args + ["--resume"]) == 0
    assert json.loads((out / "smoke.json").read_text())["training"]["history"][0]["epoch"] == 1


def test_a_ct_run_trains_calibrates_and_writes_a_ct_card(tmp_path: Path) -> None:
    from vcfviewer.__main__ import main

    out = tmp_path / "models"
    assert main(["train", "--modality", "ct", "--out", str(out), "--work", str(tmp_path / "work"),
                 "--model-id", "ctsmoke", "--films", "3", "--val-films", "2",
                 "--calibration-films", "3", "--epochs", "1", "--steps", "2", "--film-batch", "2",
                 "--body-batch", "4", "--film-size", "64", "--body-size", "32", "--workers", "1",
                 "--threads", "1", "--quiet"]) == 0
    card = json.loads((out / "ctsmoke.json").read_text())
    assert card["task"] == "ct-sagittal-vcf" and card["input"]["modality"] == "ct"
    assert card["metrics"]["validation"]["images"] == 3
    # CT planes come at the simulator's own spacing: the record names none.
    assert card["training"]["calibration"] == {"validation_films": 3, "seeds": [800000, 3]}
    assert "landmark_spread_reference" not in card["input"]  # radiographs only


def test_the_case_mix_reaches_the_simulator() -> None:
    from vcfviewer.training.corpus import _simulate_one

    def flags(mix: dict) -> tuple[str, ...]:
        _, (_, truth) = _simulate_one((300001, (1.2, 1.4), True, "radiograph",
                                       tuple(mix.items())))
        return truth.flags

    assert any("transitional anatomy" in f for f in flags({"transitional_rate": 1.0}))
    assert not any("transitional anatomy" in f for f in flags({"transitional_rate": 0.0}))


def test_the_case_mix_is_refused_for_ct(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main

    args = ["train", "--modality", "ct", "--out", str(tmp_path / "m"), "--work", str(tmp_path / "w"),
            "--transitional-rate", "0.2", "--quiet"]
    assert main(args) == 2
    assert "apply to simulated radiographs" in capsys.readouterr().out
    assert not (tmp_path / "w").exists()  # refused before anything was made


def test_an_edge_band_rate_outside_0_to_1_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main

    args = ["train", "--out", str(tmp_path / "m"), "--work", str(tmp_path / "w"),
            "--edge-band-rate", "1.5", "--quiet"]
    assert main(args) == 2
    assert "--edge-band-rate is a share of body crops" in capsys.readouterr().out
    assert not (tmp_path / "w").exists()  # refused before anything was made


def test_a_trained_card_describes_the_shipped_pipeline() -> None:
    """The design a training run writes into its card is the shipped card's: every stage the
    analyser runs (the gap probe, the closer look, ...) is described in a retrained model too."""
    from vcfviewer.training.ribs import RIB_DESIGN
    from vcfviewer.training.trainer import DESIGN

    shipped = json.loads((Path(__file__).parents[2] / "models" / "vcf-lateral.json").read_text())
    assert shipped["design"] == {**DESIGN, "rib_network": RIB_DESIGN}

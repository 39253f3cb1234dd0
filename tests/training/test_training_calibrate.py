"""`vcfviewer train --calibrate MODEL`: presets re-set on validation films, weights untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _tiny_model(folder: Path) -> Path:
    from vcfviewer.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(out_dir=folder, work_dir=folder / "work", film_size=64, body_size=32,
                      film_widths=(4, 8, 16), body_widths=(4, 8, 16), quiet=True,
                      model_id="tiny", threads=1)
    return Trainer(cfg).export({"balanced": 0.123, "high_ppv": 0.456}, {}, {"note": "kept"})


def test_calibrate_rewrites_presets_and_keeps_weights(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from vcfviewer.__main__ import main

    card_path = _tiny_model(tmp_path)
    before = json.loads(card_path.read_text())
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    assert main(["train", "--calibrate", "tiny", "--calibration-films", "2",
                 "--spacing", "1.2", "1.4", "--workers", "1", "--threads", "1", "--quiet"]) == 0
    after = json.loads(card_path.read_text())
    assert after["sha256"] == before["sha256"] and after["input"] == before["input"]
    assert set(after["thresholds"]) == {"balanced", "high_ppv"}
    assert after["thresholds"] != before["thresholds"]  # toy weights cannot land on 0.123/0.456
    assert after["thresholds"]["high_ppv"] >= after["thresholds"]["balanced"]
    assert after["metrics"]["validation"]["images"] == 2
    assert after["training"]["calibration"]["validation_films"] == 2
    assert after["training"]["note"] == "kept"
    from vcfviewer.models.inference import Analyzer

    assert Analyzer("tiny", device="cpu").threshold == after["thresholds"]["balanced"]


def test_calibrate_names_a_missing_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main

    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    assert main(["train", "--calibrate", "nope", "--quiet"]) == 2
    assert "nope.json" in capsys.readouterr().out


def test_calibrate_on_a_synth_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vcfviewer.__main__ import main

    card_path = _tiny_model(tmp_path / "models")
    val = tmp_path / "val"
    assert main(["synth", str(val), "--count", "2", "--seed", "800100", "--spacing", "1.3",
                 "--quiet"]) == 0
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "models"))
    assert main(["train", "--calibrate", "tiny", "--val-data", str(val), "--threads", "1",
                 "--quiet"]) == 0
    card = json.loads(card_path.read_text())
    assert card["training"]["calibration"] == {"validation_folders": [str(val)], "studies": 2}
    assert card["metrics"]["validation"]["images"] == 2


def test_calibrate_on_an_empty_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main

    _tiny_model(tmp_path / "models")
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "models"))
    assert main(["train", "--calibrate", "tiny", "--val-data", str(tmp_path / "empty"),
                 "--quiet"]) == 2
    assert "no ground-truth annotation JSON" in capsys.readouterr().out


def test_calibrate_on_no_films_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main

    _tiny_model(tmp_path)
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    assert main(["train", "--calibrate", "tiny", "--calibration-films", "0", "--quiet"]) == 2
    assert "--calibration-films 0: the threshold presets are set on validation films" in \
        capsys.readouterr().out

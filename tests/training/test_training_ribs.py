"""`vcfviewer train --ribs MODEL`: the rib network learns its cue and joins a model's weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vcfviewer.training import ribs as training_ribs
from vcfviewer.training.ribs import RibExamples, fit_rib_net, rib_seeds

from test_training_calibrate import _tiny_model


def _toy_examples(n_films: int = 40, per_film: int = 6) -> RibExamples:
    """Crops where a "rib" is a bright bar in the upper right, present on half the bodies."""
    rng = np.random.default_rng(0)
    n = n_films * per_film
    crops = rng.normal(0.0, 1.0, (n, 96, 96)).astype(np.float32)
    thoracic = np.arange(n) % 2 == 0
    crops[thoracic, 20:28, 55:90] += 3.0
    levels = np.where(thoracic, "T12", "L1").astype(object)
    seeds = np.repeat(np.arange(n_films), per_film)
    return RibExamples(crops.astype(np.float16), thoracic, levels, seeds)


def test_the_rib_network_learns_a_visible_rib_and_scores_held_out_films() -> None:
    net, held_out = fit_rib_net(_toy_examples(), steps=80, batch=16, seed=0)
    # Films 0, 10, 20, 30 are held out: 4 films x 6 bodies.
    assert held_out["crops"] == 24
    assert held_out["accuracy"] >= 0.9
    assert set(held_out["per_level"]) == {"L1", "T12"}


def test_rib_seeds_stay_clear_of_the_test_and_validation_films() -> None:
    for seed in range(5):
        seeds = rib_seeds(seed, 2000)
        assert 600_000 <= seeds[0] and seeds[-1] < 700_000


def test_ribs_join_a_model_and_fine_tuning_keeps_them(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.numpy import load_file

    from vcfviewer.__main__ import main
    from vcfviewer.models.inference import Analyzer

    card_path = _tiny_model(tmp_path)
    weights = tmp_path / "tiny.safetensors"
    before = load_file(str(weights))
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    assert main(["train", "--ribs", "tiny", "--rib-films", "10", "--rib-steps", "2",
                 "--workers", "1", "--threads", "1", "--version", "0.2.0", "--quiet",
                 "--grade-weights", "0", "0", "1"]) == 0
    after = load_file(str(weights))
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert any(k.startswith("rib.") for k in after)
    card = json.loads(card_path.read_text())
    assert card["version"] == "0.2.0" and card["input"]["rib_size"] == 96
    record = card["training"]["rib_network"]
    assert record["films"] == 10 and record["steps"] == 2 and record["held_out"]["crops"] > 0
    # The case mix asked for is the rib films' own, and the card says so.
    assert record["case_mix"] == {"grade_weights": [0.0, 0.0, 1.0]}
    assert record["transitional_rate"] == 0.15
    assert Analyzer("tiny", device="cpu").rib_net is not None
    # A fine-tuning run from it (--init) carries the rib network into its own weights.
    from vcfviewer.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(out_dir=tmp_path / "tuned", work_dir=tmp_path / "work", film_size=64,
                      body_size=32, film_widths=(4, 8, 16), body_widths=(4, 8, 16), quiet=True,
                      model_id="tiny", threads=1, init="tiny")
    tuned = json.loads(Trainer(cfg).export({"balanced": 0.5, "high_ppv": 0.8}, {}, {}).read_text())
    assert tuned["input"]["rib_widths"] == card["input"]["rib_widths"]
    tuned_weights = load_file(str(tmp_path / "tuned" / "tiny.safetensors"))
    assert all(np.array_equal(tuned_weights[k], after[k]) for k in after if k.startswith("rib."))


def test_too_few_films_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    from vcfviewer.__main__ import main

    _tiny_model(tmp_path)
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    assert main(["train", "--ribs", "tiny", "--rib-films", "3", "--quiet"]) == 2
    assert "--rib-films >= 10" in capsys.readouterr().out


def test_a_ct_model_gets_no_rib_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vcfviewer.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(out_dir=tmp_path, work_dir=tmp_path / "work", film_size=64, body_size=32,
                      film_widths=(4, 8, 16), body_widths=(4, 8, 16), quiet=True,
                      model_id="tinyct", threads=1, modality="ct")
    Trainer(cfg).export({"balanced": 0.5, "high_ppv": 0.8}, {}, {})
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    with pytest.raises(ValueError, match="not CT planes"):
        training_ribs.add_rib_net("tinyct", films=10, steps=1, workers=1, threads=1)


def test_the_case_mix_reaches_the_rib_films(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_model(tmp_path)
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    seen = {}

    def collect(seeds, workers, transitional_rate, case_mix, say=None):
        seen.update(transitional=transitional_rate, mix=case_mix)
        raise ValueError("stop after simulating")

    monkeypatch.setattr(training_ribs, "collect", collect)
    mix = {"transitional_rate": 0.5, "grade_weights": (0.0, 0.0, 1.0)}
    with pytest.raises(ValueError, match="stop after"):
        training_ribs.add_rib_net("tiny", films=10, steps=1, workers=1, threads=1, case_mix=mix)
    # The transitional rate named replaces the rib default; the rest goes to the simulator.
    assert seen == {"transitional": 0.5, "mix": {"grade_weights": (0.0, 0.0, 1.0)}}
    assert mix["transitional_rate"] == 0.5  # the caller's dict is left as it was


def test_a_joined_rib_network_keeps_the_models_own_beside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.numpy import load_file

    from vcfviewer.__main__ import main
    from vcfviewer.models.inference import Analyzer

    card_path = _tiny_model(tmp_path)
    weights = tmp_path / "tiny.safetensors"
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    base = ["train", "--ribs", "tiny", "--rib-films", "10", "--rib-steps", "2", "--workers", "1",
            "--threads", "1", "--quiet"]
    assert main(base + ["--seed", "2"]) == 0
    first = load_file(str(weights))
    assert main(base + ["--rib-join", "--seed", "3"]) == 0
    second = load_file(str(weights))
    # The first network is member 0, tensor for tensor; the new one is member 1.
    assert all(np.array_equal(second[k.replace("rib.", "rib.members.0.", 1)], v)
               for k, v in first.items() if k.startswith("rib."))
    assert any(k.startswith("rib.members.1.") for k in second)
    assert all(np.array_equal(second[k], v) for k, v in first.items() if not k.startswith("rib."))
    card = json.loads(card_path.read_text())
    assert card["input"]["rib_members"] == 2
    record = card["training"]["rib_network"]
    assert [m["seeds"][0] for m in record["members"]] == [rib_seeds(2, 10)[0], rib_seeds(3, 10)[0]]
    assert len(Analyzer("tiny", device="cpu").rib_net.members) == 2
    # A third joins beside both; without --rib-join a new network replaces the ensemble.
    assert main(base + ["--rib-join", "--seed", "4"]) == 0
    third = load_file(str(weights))
    assert all(np.array_equal(third[k], v) for k, v in second.items() if k.startswith("rib."))
    assert len(json.loads(card_path.read_text())["training"]["rib_network"]["members"]) == 3
    assert main(base) == 0
    card = json.loads(card_path.read_text())
    assert card["input"]["rib_members"] == 1 and "members" not in card["training"]["rib_network"]
    assert Analyzer("tiny", device="cpu").rib_net is not None

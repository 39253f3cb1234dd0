"""Model cards and weights: sha256 verification, safetensors only, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vcfviewer.models.registry import ModelCardError, list_models, load_card
from vcfviewer.models.weights import WeightsError, sha256_file, verified_weights


def _write(folder: Path, payload: bytes = b"not really tensors", **overrides) -> Path:
    weights = folder / "m1.safetensors"
    weights.write_bytes(payload)
    card = {"id": "m1", "version": "0.1", "task": "t", "weights_file": "m1.safetensors",
            "sha256": sha256_file(weights), "input": {}, "classes": {},
            "thresholds": {"balanced": 0.4, "high_ppv": 0.8}}
    card.update(overrides)
    (folder / "m1.json").write_text(json.dumps(card))
    return weights


def test_card_round_trip_and_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    _write(tmp_path)
    (tmp_path / "junk.json").write_text("{")  # unreadable cards are skipped by the listing
    card = load_card("m1")
    assert card.threshold("high_ppv") == 0.8
    assert [c.id for c in list_models()] == ["m1"]
    with pytest.raises(ModelCardError, match="no threshold preset 'x'"):
        card.threshold("x")


def test_sha256_mismatch_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    weights = _write(tmp_path)
    assert verified_weights("m1")[1] == weights
    weights.write_bytes(b"tampered")
    with pytest.raises(WeightsError, match="does not match the model card"):
        verified_weights("m1")


def test_pickle_weights_and_bad_cards_are_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    _write(tmp_path, weights_file="m1.pt")
    with pytest.raises(WeightsError, match="only .safetensors"):
        verified_weights("m1")
    _write(tmp_path, thresholds={"balanced": 2.0, "high_ppv": 0.5})
    with pytest.raises(ModelCardError, match="thresholds.balanced"):
        load_card("m1")
    (tmp_path / "m1.json").write_text(json.dumps({"id": "m1"}))
    with pytest.raises(ModelCardError, match="missing field"):
        load_card("m1")
    with pytest.raises(WeightsError, match="no model card"):
        verified_weights("absent")

"""Inference pipeline with tiny untrained networks: structure, geometry, progress, cancel, I/O."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vcfviewer.core.progress import Cancelled, run_to_completion
from vcfviewer.models.assemble import crop_prob_to_source
from vcfviewer.models.inference import Analyzer, build_networks, choose_device
from vcfviewer.models.preprocess import CropTransform, crop_matrix
from vcfviewer.models.registry import ModelCard

from models_boxfilm import box_study

SPEC = {"film_size": 64, "film_widths": [4, 8, 16], "body_size": 32, "body_widths": [4, 8, 16],
        "crop_side_factor": 2.0, "fusion_weight": 0.5}


def _card() -> ModelCard:
    return ModelCard(id="tiny", version="0", task="t", weights_file="tiny.safetensors",
                     sha256="0" * 64, input=SPEC, classes={},
                     thresholds={"balanced": 0.5, "high_ppv": 0.8})


def test_progress_stages_and_proposal_shape() -> None:
    torch.manual_seed(0)
    film, body = build_networks(SPEC)
    analyzer = Analyzer.from_networks(_card(), film, body)
    rad, _, _ = box_study()
    stages = []
    proposal = run_to_completion(analyzer.analyze(rad), on_progress=lambda p: stages.append(p.stage))
    assert stages[0] == "preprocess" and "network" in stages and stages[-1] == "measure"
    assert proposal.device.startswith("CPU")
    assert {name for name, _ in proposal.timings_s} == {"preprocess", "network", "postprocess",
                                                        "measure"}
    ann = proposal.annotation
    assert ann.provenance.model_id == "tiny" and ann.image.rows == rad.rows
    for f in ann.vertebrae:  # whatever an untrained net finds lies inside the image
        assert f.landmarks.shape == (6, 2)
        assert (f.landmarks[:, 0] <= rad.columns - 1).all() and (f.landmarks[:, 1] >= 0).all()


def test_a_card_s_spread_reference_puts_the_spreads_on_the_shipped_scale() -> None:
    from dataclasses import replace

    from vcfviewer.models.confidence import SPREAD_REFERENCE

    torch.manual_seed(0)
    film, body = build_networks(SPEC)
    crops = np.random.default_rng(0).normal(size=(3, 32, 32)).astype(np.float32)
    plain = Analyzer.from_networks(_card(), film, body)
    assert plain.spread_scale == 1.0  # no reference in the card: the shipped scale
    diffuse = replace(_card(), input={**SPEC, "landmark_spread_reference": 2 * SPREAD_REFERENCE})
    halved = Analyzer.from_networks(diffuse, film, body)
    raw = plain.run_bodies(crops)
    scaled = halved.run_bodies(crops)
    assert np.allclose(scaled["landmark_spread"], raw["landmark_spread"] / 2)
    assert np.array_equal(scaled["landmarks"], raw["landmarks"])  # nothing else changes
    # What the reference is measured on: each column body's mean spread, as the network gives it.
    rad, _, _ = box_study()
    assert np.allclose(halved.column_spreads(rad), plain.column_spreads(rad))


def test_cancel_between_stages() -> None:
    film, body = build_networks(SPEC)
    analyzer = Analyzer.from_networks(_card(), film, body)
    rad, _, _ = box_study()
    with pytest.raises(Cancelled):
        run_to_completion(analyzer.analyze(rad), should_cancel=lambda: True)


def test_crop_probability_maps_back_onto_source_pixels() -> None:
    # Scale 1, mirrored: crop x = 9.5 - (x - 50.5) = 60 - x; crop y = y - 40.5 + 9.5 = y - 31.
    m = crop_matrix(np.array([50.5, 40.5]), 0.0, 20.0, 20, flip=True)
    prob = np.zeros((20, 20), np.float32)
    prob[5:15, 2:8] = 1.0  # crop x 2..7 → source x 53..58; crop rows 5..14 → source rows 36..45
    top, left, roi = crop_prob_to_source(prob, CropTransform(m, 20), (100, 100))
    ys, xs = np.nonzero(roi > 0.5)
    assert (xs + left).min() == 53 and (xs + left).max() == 58
    assert (ys + top).min() == 36 and (ys + top).max() == 45


def test_shipped_weights_round_trip_through_safetensors(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from vcfviewer.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(out_dir=tmp_path, work_dir=tmp_path / "w", film_size=64, body_size=32,
                      film_widths=(4, 8, 16), body_widths=(4, 8, 16), quiet=True, model_id="tiny")
    trainer = Trainer(cfg)
    card_path = trainer.export({"balanced": 0.3, "high_ppv": 0.7}, {}, {})
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path))
    analyzer = Analyzer("tiny", device="cpu")
    assert analyzer.threshold == 0.3 and analyzer.model_version == "1.0.0"
    x = torch.zeros(1, 1, 64, 64)
    with torch.no_grad():
        a = analyzer.film_net(x)["fracture"]
        b = trainer.film_net.eval()(x)["fracture"]
    assert torch.allclose(a, b)
    assert json.loads(card_path.read_text())["sha256"] != "0" * 64
    assert choose_device("cpu").type == "cpu"


def test_a_film_without_bodies_is_flagged_not_silently_empty() -> None:
    from dataclasses import replace

    rad, _, _ = box_study()
    noise = np.random.default_rng(0).normal(0.5, 0.02, rad.pixels.shape).astype(np.float32)
    analyzer = Analyzer("vcf-lateral", device="cpu")
    ann = analyzer.analyze_sync(replace(rad, pixels=noise)).annotation
    assert not ann.vertebrae
    assert any(f.startswith("no vertebral body found") for f in ann.flags), ann.flags


def test_mirror_averaging_maps_the_mirrored_pass_back() -> None:
    from vcfviewer.models.inference import FilmOutput, average_mirrored

    maps = np.zeros((4, 8, 8))
    maps[1, 2, 1] = 1.0  # "fractured" at x = 1 in the plain frame
    mirrored = np.zeros((4, 8, 8))
    mirrored[1, 2, 6] = 1.0  # the same pixel seen in the mirror image (x = 7 - 1)
    centre = np.zeros((8, 8))
    out = average_mirrored(FilmOutput(maps, maps, centre, 0.9, 0.1),
                           FilmOutput(mirrored, mirrored, centre, 0.3, 0.3))
    assert out.fracture[1, 2, 1] == 1.0 and out.fracture[1].sum() == 1.0
    # The mirror image of a right-facing patient faces left: 0.9 and 1 - 0.3 agree.
    assert out.faces_right == pytest.approx(0.8) and out.inverted == pytest.approx(0.2)


def test_landmark_spread_is_small_for_a_peak_and_wide_for_a_flat_map() -> None:
    from vcfviewer.models.network import landmark_spread

    logits = torch.full((1, 2, 32, 32), -30.0)
    logits[0, 0, 10, 20] = 30.0  # one sharp peak: no spread
    logits[0, 1] = 0.0  # flat: the spread of a uniform 32 x 32 grid, sqrt(2 (32^2 - 1) / 12)
    spread = landmark_spread(logits)[0]
    assert float(spread[0]) < 1e-3
    assert float(spread[1]) == pytest.approx(np.sqrt(2 * (32 ** 2 - 1) / 12), rel=1e-4)

"""Each epoch's validation reads every film facing the way its truth faces: the facing probe is
fitted only after training, and an unfitted probe would turn films round."""

from __future__ import annotations

from pathlib import Path

import pytest

if not hasattr(pytest.importorskip("vcfviewer.synth"), "simulate"):
    pytest.skip("simulator not available yet", allow_module_level=True)


def test_truth_facing_validation_reads_each_film_the_truth_s_way(tmp_path: Path) -> None:
    from vcfviewer.training import corpus
    from vcfviewer.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(out_dir=tmp_path, work_dir=tmp_path / "work", film_size=64, body_size=32,
                      film_widths=(4, 8, 16), body_widths=(4, 8, 16), quiet=True, threads=1)
    val = [img for _, img in corpus.simulate_films([800000, 800001], (1.2, 1.4), workers=1,
                                                    keep_images=True)]
    trainer = Trainer(cfg)
    for (_, truth), (_, pred, _) in zip(val, trainer.predictions(val, truth_facing=True)):
        body = truth.vertebrae[0]  # the superior anterior corner lies on the side faced
        side = "right" if body.landmarks[0, 0] > body.landmarks[2, 0] else "left"
        assert any(f.startswith(f"analysed facing {side}, as the reader asked") for f in pred.flags)
    # Without it (the final validation and the presets) the model's own facing call is used.
    for _, pred, _ in trainer.predictions(val):
        assert not any("as the reader asked" in f for f in pred.flags)

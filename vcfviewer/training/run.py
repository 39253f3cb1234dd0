"""One complete training run: data → fit → thresholds → held-out validation → weights + card."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch

from vcfviewer.training import corpus
from vcfviewer.training.trainer import TrainConfig, Trainer, TrainingError


def _mix(sim: list, exported: list, weight: float) -> list:
    """Repeat exported films so they make up about ``weight`` of the training pool."""
    if not exported:
        return sim
    if not sim:
        return exported
    repeat = max(1, round(weight / max(1e-6, 1 - weight) * len(sim) / len(exported)))
    return sim + exported * repeat


def run_training(cfg: TrainConfig) -> dict:
    """Train as ``cfg`` says and write the model; returns the card's metrics."""
    if cfg.case_mix and cfg.modality == "ct":
        raise TrainingError("the case-mix options (--transitional-rate, --flat-back-rate, "
                            "--grade-weights, --type-weights) apply to simulated radiographs, "
                            "not CT planes")
    if not 0.0 <= cfg.edge_band_rate <= 1.0:
        raise TrainingError(f"--edge-band-rate is a share of body crops, 0 to 1; got "
                            f"{cfg.edge_band_rate:g}")
    _check_calibration_films(max(cfg.val_films, cfg.calibration_films))
    start = time.monotonic()
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg)
    if cfg.resume:
        if not trainer.checkpoint_path.is_file():
            raise TrainingError(f"--resume: no checkpoint at {trainer.checkpoint_path}")
        trainer.load_checkpoint()
    say = None if cfg.quiet else corpus.stderr_say
    exported = [f for folder in cfg.data for f in corpus.exported_films(folder)]
    sim_count = cfg.train_films if not cfg.data or cfg.train_films else 0
    sim = [f for f, _ in corpus.simulate_films(corpus.train_seeds(cfg.seed, sim_count),
                                                cfg.spacing_range, cfg.workers, say=say,
                                                modality=cfg.modality, case_mix=cfg.case_mix)]
    calibration, calibration_source = _validation_films(
        cfg, max(cfg.val_films, cfg.calibration_films), say)
    val = calibration[:cfg.val_films]
    train = _mix(sim, exported, cfg.data_weight)
    if not train:
        raise TrainingError("no training films: give --films > 0 or --data FOLDER")
    data_minutes = (time.monotonic() - start) / 60
    trainer.fit(train, val)
    probe_accuracy = trainer.fit_facing_probe(train)
    thresholds, validation = trainer.calibrate(calibration)
    metrics = {"validation": validation, "validation_auroc": thresholds["validation_auroc"],
               "note": f"validation films (seeds 800000+; the first {len(val)} validated each "
                       f"epoch, the presets set on all {len(calibration)}); held-out test "
                       "metrics are added by `vcfviewer evaluate --update-card`"}
    recipe = {"config": _jsonable(asdict(cfg)), "simulated_films": len(sim),
              "exported_films": len(exported), "train_seeds": [corpus.train_seeds(cfg.seed, 1)[0],
                                                               len(sim)],
              "data_minutes": round(data_minutes, 1),
              "total_minutes": round((time.monotonic() - start) / 60, 1),
              "facing_probe_train_accuracy": round(probe_accuracy, 3),
              "calibration": calibration_source,
              "torch": torch.__version__, "machine": platform.machine(),
              "threads": cfg.threads, "history": trainer.history,
              "history_note": "each epoch's validation reads every film facing the way its truth "
                              "faces: the facing probe is fitted after training"}
    path = trainer.export(thresholds, metrics, recipe)
    if not cfg.quiet:
        corpus.stderr_say(f"wrote {path}\n")
    return metrics


def config_for_card(card, base: TrainConfig) -> TrainConfig:
    """``base`` with the network sizes and modality of a shipped model's card."""
    spec = card.input
    return replace(base, model_id=card.id, version=card.version,
                   modality=spec.get("modality", "radiograph"),
                   film_size=int(spec["film_size"]), body_size=int(spec["body_size"]),
                   film_widths=tuple(spec["film_widths"]), body_widths=tuple(spec["body_widths"]),
                   film_stem_stride=int(spec.get("film_stem_stride", 1)),
                   crop_side_factor=float(spec.get("crop_side_factor", base.crop_side_factor)),
                   fusion_weight=float(spec.get("fusion_weight", base.fusion_weight)),
                   init=card.id)


def calibrate(model_id: str, base: TrainConfig, val_data: tuple[Path, ...] = ()) -> dict:
    """Set a shipped model's threshold presets on ``base.calibration_films`` simulated
    validation films (or on the studies of ``val_data``, folders written by ``vcfviewer synth``
    from validation seeds), weights untouched, and rewrite its card; returns the new thresholds.

    Why: a short run validates on few films, and with few positives every threshold in a wide
    gap looks equally good; more validation films place the presets where they generalise.
    """
    from vcfviewer.models.registry import load_card, write_card

    if not val_data:
        _check_calibration_films(base.calibration_films)
    card = load_card(model_id)
    cfg = config_for_card(card, base)
    trainer = Trainer(cfg)
    say = None if cfg.quiet else corpus.stderr_say
    if val_data:
        from vcfviewer.training.evaluate import EvaluationError, load_studies

        try:
            val = load_studies(val_data)
        except EvaluationError as exc:
            raise TrainingError(str(exc)) from None
        source = {"validation_folders": [str(f) for f in val_data], "studies": len(val)}
    else:
        val, source = _validation_films(cfg, cfg.calibration_films, say)
    thresholds, validation = trainer.calibrate(val)
    data = card.to_json()
    data["thresholds"] = {k: thresholds[k] for k in ("balanced", "high_ppv")}
    data["metrics"] = {**data.get("metrics", {}),
                       "validation": validation,
                       "validation_auroc": thresholds["validation_auroc"]}
    data["training"] = {**data.get("training", {}), "calibration": source}
    write_card(data, card.path)
    return thresholds


def _check_calibration_films(count: int) -> None:
    if count < 1:
        raise TrainingError(f"--calibration-films {count}: the threshold presets are set on "
                            "validation films; give at least 1")


def _validation_films(cfg: TrainConfig, count: int,
                      say: Callable[[str], None] | None) -> tuple[list, dict]:
    """The first ``count`` simulated validation films (image, truth) at the run's spacing, and
    the record of them a card keeps (CT planes come at the simulator's own spacing)."""
    films = [img for _, img in corpus.simulate_films(corpus.val_seeds(count), cfg.spacing_range,
                                                      cfg.workers, keep_images=True, say=say,
                                                      modality=cfg.modality)]
    source = {"validation_films": count, "seeds": [corpus.val_seeds(1)[0], count]}
    if cfg.modality == "radiograph":
        source["spacing_mm"] = list(cfg.spacing_range)
    return films, source


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)

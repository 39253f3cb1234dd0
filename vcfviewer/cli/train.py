"""``vcfviewer train``: train (or fine-tune) the model and write models/<id>.safetensors + card."""

from __future__ import annotations

import argparse
from pathlib import Path

from vcfviewer.cli import case_mix


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` parser."""
    p = subparsers.add_parser("train", help="train or fine-tune the fracture model",
                              description="Train on simulated films (and exported training "
                              "sets). The defaults are the shipped 2-CPU-core recipe (< 60 min).")
    p.add_argument("--out", type=Path, default=None, help="folder for weights + card "
                   "(default: the models folder)")
    p.add_argument("--work", type=Path, default=Path("train-work"),
                   help="checkpoints and logs (default ./train-work)")
    p.add_argument("--model-id", default=None,
                   help="default vcf-lateral, or vcf-ct with --modality ct")
    p.add_argument("--modality", choices=("radiograph", "ct"), default="radiograph",
                   help="simulated lateral radiographs, or simulated sagittal CT planes (HU)")
    p.add_argument("--version", default=None,
                   help="version written to the card (default 1.0.0; with --ribs: kept)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--films", type=int, default=1200, help="simulated training films")
    p.add_argument("--val-films", type=int, default=24, help="validation films scored each epoch")
    p.add_argument("--calibration-films", type=int, default=100, metavar="N",
                   help="validation films the threshold presets are set on, at the end of a run "
                   "(the first --val-films of them are those scored each epoch) and with "
                   "--calibrate")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--steps", type=int, default=200, help="steps per epoch")
    p.add_argument("--film-batch", type=int, default=8)
    p.add_argument("--body-batch", type=int, default=24)
    p.add_argument("--spacing", type=float, nargs=2, default=(0.5, 0.7), metavar=("LO", "HI"),
                   help="simulated pixel spacing range in mm (training resolution)")
    p.add_argument("--film-size", type=int, default=256)
    p.add_argument("--body-size", type=int, default=96)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (use 1 on a machine busy with other work: "
                   "oversubscribed OpenMP threads spin and run several times slower)")
    p.add_argument("--workers", type=int, default=2, help="simulator processes")
    p.add_argument("--init", metavar="MODEL", help="start from a shipped model (fine-tuning)")
    p.add_argument("--data", type=Path, action="append", default=[], metavar="FOLDER",
                   help="training-set folder exported by the viewer (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue from --work/checkpoint.pt")
    p.add_argument("--max-minutes", type=float, default=48.0,
                   help="training-phase time budget; the learning rate decays over it and the "
                   "run stops when it is spent (0 = steps only)")
    p.add_argument("--calibrate", metavar="MODEL",
                   help="train nothing: set MODEL's threshold presets on --calibration-films "
                   "validation films (its own modality and sizes) and rewrite its card")
    p.add_argument("--val-data", type=Path, action="append", default=[], metavar="FOLDER",
                   help="with --calibrate: calibrate on this folder written by 'vcfviewer synth' "
                   "(validation seeds only; repeatable) instead of simulating --calibration-films")
    p.add_argument("--ribs", metavar="MODEL",
                   help="train nothing else: fit the rib network (T12 or L1? model card) on "
                   "--rib-films full-resolution simulated films and add it to MODEL's weights")
    p.add_argument("--rib-films", type=int, default=1800, help="with --ribs: simulated films")
    p.add_argument("--rib-steps", type=int, default=4000, help="with --ribs: training steps")
    p.add_argument("--rib-join", action="store_true",
                   help="with --ribs: add the new rib network beside the model's own (their "
                   "logits averaged) instead of replacing it")
    case_mix.add_arguments(p, "training (or --ribs) films only: ")
    p.add_argument("--edge-band-rate", type=float, default=0.0, metavar="P",
                   help="share of body crops given a flat field-edge band over one wall, the "
                   "true corners kept as targets (off by default: see the model card)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from vcfviewer import paths
    from vcfviewer.training.run import run_training
    from vcfviewer.training.trainer import TrainConfig, TrainingError

    default_id = "vcf-ct" if args.modality == "ct" else "vcf-lateral"
    cfg = TrainConfig(model_id=args.model_id or default_id, version=args.version or "1.0.0",
                      modality=args.modality,
                      out_dir=args.out or paths.models_dir(), work_dir=args.work, seed=args.seed,
                      train_films=args.films, val_films=args.val_films,
                      calibration_films=args.calibration_films,
                      spacing_range=tuple(args.spacing), film_size=args.film_size,
                      body_size=args.body_size, epochs=args.epochs, steps_per_epoch=args.steps,
                      film_batch=args.film_batch, body_batch=args.body_batch, lr=args.lr,
                      threads=args.threads, workers=args.workers, init=args.init,
                      data=tuple(args.data), resume=args.resume, max_minutes=args.max_minutes or None,
                      quiet=args.quiet, case_mix=case_mix.chosen(args),
                      edge_band_rate=args.edge_band_rate)
    try:
        if args.calibrate:
            from vcfviewer.models.registry import ModelCardError
            from vcfviewer.training.run import calibrate

            try:
                thresholds = calibrate(args.calibrate, cfg, tuple(args.val_data))
            except ModelCardError as exc:
                raise TrainingError(str(exc)) from None
            print(f"{args.calibrate}: balanced {thresholds['balanced']}, "
                  f"high_ppv {thresholds['high_ppv']}")
        elif args.ribs:
            _fit_ribs(args)
        else:
            run_training(cfg)
    except TrainingError as exc:
        print(f"vcfviewer train: {exc}")
        return 2
    return 0


def _fit_ribs(args: argparse.Namespace) -> None:
    from vcfviewer.models.weights import WeightsError
    from vcfviewer.training.corpus import stderr_say
    from vcfviewer.training.ribs import HOLD_OUT_EVERY, add_rib_net
    from vcfviewer.training.trainer import TrainingError

    # Films whose seed is a multiple of HOLD_OUT_EVERY score the fit: at least one is needed.
    if args.rib_films < HOLD_OUT_EVERY or args.rib_steps < 1:
        raise TrainingError(f"--ribs needs --rib-films >= {HOLD_OUT_EVERY} (every "
                            f"{HOLD_OUT_EVERY}th film is held out to score the fit) and "
                            "--rib-steps >= 1")
    try:
        record = add_rib_net(args.ribs, films=args.rib_films, steps=args.rib_steps,
                             seed=args.seed, workers=args.workers, threads=args.threads,
                             version=args.version, case_mix=case_mix.chosen(args),
                             join=args.rib_join, say=None if args.quiet else stderr_say)
    except (WeightsError, ValueError) as exc:
        raise TrainingError(str(exc)) from None
    levels = ", ".join(f"{lv} {v['accuracy']:.3f}" for lv, v in record["held_out"]["per_level"].items())
    how = "joined" if args.rib_join else "added"
    print(f"{args.ribs}: rib network {how}; held-out accuracy {record['held_out']['accuracy']} "
          f"({levels})")

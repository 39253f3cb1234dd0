"""``vcfviewer train``: simulate (or read) labelled films, train both networks, write weights + card.

The default run is sized for 2 CPU cores in under an hour: films simulated once at training
resolution into memory (two worker processes), then alternating film/body batches with heavy
augmentation, validation each epoch, a checkpoint each epoch (``--resume`` continues from it),
threshold presets set at the end on more validation films (``calibration_films``), and
``models/<id>.safetensors`` + ``<id>.json`` written atomically.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from vcfviewer.models import assemble
from vcfviewer.models.confidence import spread_reference
from vcfviewer.models.facing import side_name
from vcfviewer.models.inference import (Analyzer, build_networks, build_rib_net, prefixed,
                                        split_state)
from vcfviewer.io.atomic import atomic_path
from vcfviewer.models.registry import ModelCard, write_card
from vcfviewer.models.weights import load_state, sha256_file, verified_weights
from vcfviewer.training.data import LabelledFilm, body_example, faces_right, film_example
from vcfviewer.training.evaluate import predict, scored_spacing
from vcfviewer.training.losses import body_loss, film_loss
from vcfviewer.training.metrics import Tally, auroc, high_ppv_threshold, youden_threshold
from vcfviewer.training.ribs import RIB_DESIGN


class TrainingError(RuntimeError):
    """A training run that cannot start or continue (bad folder, incompatible checkpoint)."""


@dataclass
class TrainConfig:
    """Every knob of a training run; the defaults are the shipped 2-core recipe."""

    model_id: str = "vcf-lateral"
    version: str = "1.0.0"
    modality: str = "radiograph"  # "ct": simulated sagittal CT planes in HU (models/ct.py)
    out_dir: Path = Path("models")
    work_dir: Path = Path("train-work")
    seed: int = 1
    train_films: int = 1200
    val_films: int = 24  # validated each epoch
    # Validation films the threshold presets are set on at the end (the first val_films of them
    # are the per-epoch ones): 24 films hold too few fractures to place a threshold; the default
    # run's balanced preset was 0.658 set on 24 and 0.26 on 100 (model card, Training recipe).
    calibration_films: int = 100
    spacing_range: tuple[float, float] = (0.5, 0.7)
    film_size: int = 256
    body_size: int = 96
    film_widths: tuple[int, ...] = (16, 32, 64, 96, 128)
    film_stem_stride: int = 2
    body_widths: tuple[int, ...] = (8, 16, 32, 64, 128)
    crop_side_factor: float = 2.0
    fusion_weight: float = 1.0  # body network only: the film vote lowered AUROC (model card)
    epochs: int = 12
    steps_per_epoch: int = 200
    film_batch: int = 8
    body_batch: int = 24
    lr: float = 1e-3
    final_lr_fraction: float = 0.05  # exponential decay to this share of lr over the run
    threads: int = 2
    workers: int = 2
    init: str | None = None
    data: tuple[Path, ...] = ()
    data_weight: float = 0.5  # share of samples drawn from exported sets when --data is given
    resume: bool = False
    max_minutes: float | None = 48.0  # training-phase budget (data + export add ~5 min)
    quiet: bool = False
    # Simulator options for the training films only (validation keeps the natural rates), to
    # show the networks more of what they miss: e.g. {"transitional_rate": 0.2}.
    case_mix: dict = field(default_factory=dict)
    # Share of body crops given a field-edge band (data.edge_band; off: see the model card).
    edge_band_rate: float = 0.0
    extra: dict = field(default_factory=dict)

    def card_input(self) -> dict:
        spec = {"film_size": self.film_size, "film_widths": list(self.film_widths),
                "film_stem_stride": self.film_stem_stride,
                "body_size": self.body_size, "body_widths": list(self.body_widths),
                "crop_side_factor": self.crop_side_factor, "fusion_weight": self.fusion_weight,
                "channels": 1, "pixels": "bone-bright radiograph, any size; spacing optional"}
        if self.modality == "ct":
            from vcfviewer.models.ct import CT_WINDOW_HU

            spec.update(modality="ct", ct_window_hu=list(CT_WINDOW_HU),
                        pixels="sagittal CT plane in HU (patient facing left), clipped to "
                               "ct_window_hu; every body measured on its own mid-sagittal plane")
        return spec

    @property
    def task(self) -> str:
        return "ct-sagittal-vcf" if self.modality == "ct" else "lateral-spine-vcf"


def _stack(examples: list[dict], device: torch.device) -> dict[str, torch.Tensor]:
    out = {}
    for key in examples[0]:
        arr = np.stack([e[key] for e in examples])
        tensor = torch.from_numpy(arr)
        out[key] = tensor.to(device)
    return out


class Trainer:
    """One training run (see module docstring)."""

    def __init__(self, config: TrainConfig) -> None:
        self.cfg = config
        torch.set_num_threads(max(1, config.threads))
        # OpenCV's own pool would compete with torch's threads for the same cores.
        import cv2

        cv2.setNumThreads(max(1, config.threads))
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.film_net, self.body_net = build_networks(config.card_input())
        # A rib network of the --init model (models.ribs) reads its own crops, untouched by this
        # run's training: it is carried into the exported weights as it was.
        self.rib_state: dict = {}
        self.rib_input: dict = {}
        # The body network's own landmark-spread median (confidence.SPREAD_REFERENCE): the
        # --init model's until this run has trained, then measured again for each validation.
        self.spread_reference: float | None = None
        self._spread_step = 0
        if config.modality not in ("radiograph", "ct"):
            raise TrainingError(f"--modality {config.modality!r}: expected radiograph or ct")
        if config.init:
            self._load_init(config.init)
        params = list(self.film_net.parameters()) + list(self.body_net.parameters())
        self.opt = torch.optim.Adam(params, lr=config.lr)
        self.film_net.to(self.device)
        self.body_net.to(self.device)
        self.epoch = 0
        self.global_step = 0
        self.elapsed_s = 0.0  # training time of earlier sessions (resume)
        self.history: list[dict] = []

    def _load_init(self, model_id: str) -> None:
        card, path = verified_weights(model_id)
        if card.input.get("film_size") != self.cfg.film_size or card.input.get(
                "body_size") != self.cfg.body_size:
            raise TrainingError(f"--init {model_id}: its input sizes differ from this run's")
        state = load_state(path)
        film, body = split_state(state)
        self.film_net.load_state_dict(film)
        self.body_net.load_state_dict(body)
        self.rib_state = {k: v for k, v in state.items() if k.startswith("rib.")}
        self.rib_input = {k: v for k, v in card.input.items() if k.startswith("rib_")}
        self.spread_reference = card.input.get("landmark_spread_reference")

    # -- checkpoints -------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.cfg.work_dir / "checkpoint.pt"

    def save_checkpoint(self) -> None:
        """Atomic checkpoint of networks, optimiser, scheduler, epoch and RNG state."""
        state = {"film": self.film_net.state_dict(), "body": self.body_net.state_dict(),
                 "opt": self.opt.state_dict(), "epoch": self.epoch,
                 "global_step": self.global_step, "elapsed_s": self.elapsed_s,
                 "history": json.dumps(self.history),
                 "rng": json.dumps(self.rng.bit_generator.state)}
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load_checkpoint(self) -> None:
        """Continue from the last checkpoint (weights-only unpickling: tensors and plain types)."""
        try:
            state = torch.load(self.checkpoint_path, weights_only=True, map_location=self.device)
            missing, unexpected = self.film_net.load_state_dict(state["film"], strict=False)
            if unexpected or any(not k.startswith(("facing_head.", "facing_probe."))
                                 for k in missing):
                raise RuntimeError(f"film network mismatch: {missing or unexpected}")
            self.body_net.load_state_dict(state["body"])
            if not missing:
                self.opt.load_state_dict(state["opt"])
            else:  # a checkpoint from before the dense facing head: restart Adam's moments
                self._say("checkpoint lacks the facing head; it starts fresh\n")
        except (OSError, RuntimeError, KeyError) as exc:
            raise TrainingError(f"{self.checkpoint_path}: cannot resume ({exc})") from None
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.elapsed_s = float(state["elapsed_s"])
        self.history = json.loads(state["history"])
        self.rng.bit_generator.state = json.loads(state["rng"])

    # -- training ------------------------------------------------------------------------------
    def _film_batch(self, films: list[LabelledFilm]) -> dict:
        picks = self.rng.integers(0, len(films), self.cfg.film_batch)
        return _stack([film_example(films[i], self.cfg.film_size, self.rng) for i in picks],
                      self.device)

    def _body_batch(self, films: list[LabelledFilm]) -> dict:
        examples = []
        while len(examples) < self.cfg.body_batch:
            film = films[int(self.rng.integers(0, len(films)))]
            bodies = film.body_indices
            if not bodies:
                continue
            # Fractured bodies are the minority; sample them more often when present.
            weights = np.array([3.0 if film.annotation.findings[i].is_fractured else 1.0
                                for i in bodies])
            index = int(self.rng.choice(bodies, p=weights / weights.sum()))
            examples.append(body_example(film, index, self.cfg.body_size, self.rng,
                                         self.cfg.crop_side_factor,
                                         edge_band_rate=self.cfg.edge_band_rate))
        return _stack(examples, self.device)

    def step(self, films: list[LabelledFilm]) -> dict[str, float]:
        """One optimiser step on a film batch and a body batch."""
        self.film_net.train()
        self.body_net.train()
        fb, bb = self._film_batch(films), self._body_batch(films)
        f_loss, f_parts = film_loss(self.film_net(fb["input"]), fb)
        b_loss, b_parts = body_loss(self.body_net(bb["input"]), bb)
        self.opt.zero_grad(set_to_none=True)
        (f_loss + b_loss).backward()
        self.opt.step()
        return {"film": f_loss.item(), "body": b_loss.item(),
                **{f"f_{k}": v for k, v in f_parts.items()},
                **{f"b_{k}": v for k, v in b_parts.items()}}

    def progress_fraction(self, session_start: float) -> float:
        """How far through the run: steps done or time budget spent, whichever is further."""
        by_steps = self.global_step / max(1, self.cfg.epochs * self.cfg.steps_per_epoch)
        if not self.cfg.max_minutes:
            return by_steps
        minutes = (self.elapsed_s + time.monotonic() - session_start) / 60
        return max(by_steps, minutes / self.cfg.max_minutes)

    def fit(self, train: list[LabelledFilm], val: list) -> dict:
        """Run the epochs (from the checkpoint when resuming); returns the last validation.

        The learning rate decays exponentially with progress (steps, or the time budget when
        ``max_minutes`` is set, whichever is further), so a run cut short by the clock still
        ends at a small learning rate instead of stopping mid-schedule.
        """
        start = time.monotonic()
        report: dict = {}
        while self.epoch < self.cfg.epochs and self.progress_fraction(start) < 1.0:
            running: dict[str, float] = {}
            for i in range(self.cfg.steps_per_epoch):
                fraction = self.progress_fraction(start)
                if fraction >= 1.0:
                    self._say("\nstopping: the time budget is spent")
                    break
                for group in self.opt.param_groups:
                    group["lr"] = self.cfg.lr * self.cfg.final_lr_fraction ** fraction
                parts = self.step(train)
                self.global_step += 1
                for k, v in parts.items():
                    running[k] = running.get(k, 0.0) * 0.9 + v * 0.1 if k in running else v
                self._progress(i + 1, running, start)
            self.epoch += 1
            report = self.validate(val, truth_facing=True)
            minutes = (self.elapsed_s + time.monotonic() - start) / 60
            report.update({"epoch": self.epoch, "step": self.global_step,
                           "minutes": round(minutes, 2),
                           **{f"train_{k}": round(v, 4) for k, v in running.items()}})
            self.history.append(report)
            self._say("\n" + json.dumps(report))
            self.elapsed_s += time.monotonic() - start
            start = time.monotonic()
            self.save_checkpoint()
        return report

    def _progress(self, i: int, running: dict, start: float) -> None:
        width = 24
        done = int(width * i / self.cfg.steps_per_epoch)
        mins = (self.elapsed_s + time.monotonic() - start) / 60
        self._say(f"\repoch {self.epoch + 1}/{self.cfg.epochs} [{'#' * done}{'.' * (width - done)}] "
                  f"{i}/{self.cfg.steps_per_epoch} film {running.get('film', 0):.3f} "
                  f"body {running.get('body', 0):.3f} lm {running.get('b_l1_px', 0):.2f}px "
                  f"{mins:.1f} min", end="")

    def _say(self, text: str, end: str = "") -> None:
        if not self.cfg.quiet:
            print(text, end=end, file=sys.stderr, flush=True)

    def fit_facing_probe(self, films: list[LabelledFilm], steps: int = 150,
                         batch: int = 16) -> float:
        """Fit the linear facing probe on the frozen encoder; returns its training accuracy.

        Cheap (encoder forward only) and robust: the shared encoder already sees the posterior
        elements; the probe only has to read their side from a 4x4 pooled layout.
        """
        net = self.film_net
        net.eval()
        opt = torch.optim.Adam(net.facing_probe.parameters(), lr=3e-3)
        hits: list[float] = []
        for i in range(steps):
            picks = self.rng.integers(0, len(films), batch)
            ex = [film_example(films[j], self.cfg.film_size, self.rng) for j in picks]
            x = torch.from_numpy(np.stack([e["input"] for e in ex])).to(self.device)
            y = torch.from_numpy(np.stack([e["global"][0] for e in ex])).to(self.device)
            with torch.no_grad():
                bottleneck = net.encoder(x)[-1]
            logit = net.probe_facing(bottleneck)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits.append(float(((logit > 0).float() == y).float().mean()))
            self._say(f"\rfacing probe {i + 1}/{steps} loss {loss.item():.3f} "
                      f"acc(last 20) {np.mean(hits[-20:]):.2f}")
        self._say("\n")
        return float(np.mean(hits[-50:]))

    # -- validation, thresholds, export -----------------------------------------------------------
    def provisional_card(self, thresholds: dict | None = None) -> ModelCard:
        reference = ({} if self.spread_reference is None else
                     {"landmark_spread_reference": self.spread_reference})
        return ModelCard(id=self.cfg.model_id, version=self.cfg.version, task=self.cfg.task,
                         weights_file=f"{self.cfg.model_id}.safetensors", sha256="0" * 64,
                         input={**self.cfg.card_input(), **self.rib_input, **reference},
                         classes=CLASSES,
                         thresholds=thresholds or {"balanced": 0.5, "high_ppv": 0.8})

    def _analyzer(self) -> Analyzer:
        return Analyzer.from_networks(self.provisional_card(), self.film_net, self.body_net,
                                      device=str(self.device), rib=self._rib_net())

    def measure_spread_reference(self, val: list) -> None:
        """After training steps, the body network's landmark-spread median on the validation
        films (``confidence.spread_reference``), so validation and the exported card read its
        spreads, when more diffuse than the shipped network's, on the scale every spread limit
        was set on (``confidence.spread_scale``). It reads each validation film once more (the
        reference must be known before the films are analysed), facing the way its truth faces:
        the body network's own spreads, whatever the facing probe says. Radiographs only
        (``column_spreads`` reads a film): a CT run's card keeps the spreads as its network
        gives them."""
        if self.cfg.modality != "radiograph" or self.global_step == self._spread_step:
            return
        analyzer = self._analyzer()
        self.spread_reference = spread_reference(
            [analyzer.column_spreads(image, side_name(faces_right(truth)))
             for image, truth in val])
        self._spread_step = self.global_step

    def predictions(self, val: list, truth_facing: bool = False) -> list[tuple]:
        """(truth annotation, predicted annotation, spacing) for each validation image; with
        ``truth_facing`` each film is read facing the way its truth faces, as a reader may ask
        (each epoch's validation: the facing probe is fitted after training, and until then it
        turns films round, their landmarks 20-26 mm off, hiding what the networks learned)."""
        self.measure_spread_reference(val)
        analyzer = self._analyzer()
        out = []
        for image, truth in val:  # a film, or a whole CT volume when calibrating on a folder
            proposal = (analyzer.analyze_sync(image, side_name(faces_right(truth)))
                        if truth_facing else predict(analyzer, image))
            out.append((truth, proposal.annotation, scored_spacing(proposal)))
        return out

    def _design(self) -> dict:
        if self.cfg.modality == "ct":
            return {**DESIGN, **CT_DESIGN}
        return {**DESIGN, **({"rib_network": RIB_DESIGN} if self.rib_input else {})}

    def _rib_net(self):
        """The --init model's rib network, so validation reads columns as inference will."""
        net = build_rib_net(self.rib_input) if self.rib_input else None
        if net is not None:
            net.load_state_dict(prefixed(self.rib_state, "rib."))
        return net

    def validate(self, val: list, threshold: float = 0.5, truth_facing: bool = False) -> dict:
        """End-to-end metrics on the validation films at ``threshold`` (``predictions``)."""
        return _summary(self.predictions(val, truth_facing), threshold)

    def calibrate(self, val: list) -> tuple[dict[str, float], dict]:
        """The threshold presets set on ``val`` (``_presets``) and the end-to-end metrics there
        at the balanced one; the films are analysed once for both."""
        predictions = self.predictions(val)
        thresholds = _presets(predictions)
        return thresholds, _summary(predictions, thresholds["balanced"])

    def export(self, thresholds: dict, metrics: dict, recipe: dict) -> Path:
        """Write ``<out>/<id>.safetensors`` and ``<id>.json`` atomically; returns the card path."""
        from safetensors.torch import save_file

        self.cfg.out_dir.mkdir(parents=True, exist_ok=True)
        weights = self.cfg.out_dir / f"{self.cfg.model_id}.safetensors"
        state = {f"film.{k}": v.detach().cpu().contiguous() for k, v in self.film_net.state_dict().items()}
        state.update({f"body.{k}": v.detach().cpu().contiguous()
                      for k, v in self.body_net.state_dict().items()})
        state.update(self.rib_state)
        with atomic_path(weights) as tmp:
            save_file(state, str(tmp), metadata={"model_id": self.cfg.model_id,
                                                 "version": self.cfg.version})
        card = replace(self.provisional_card({k: thresholds[k] for k in ("balanced", "high_ppv")}),
                       sha256=sha256_file(weights), metrics=metrics, training=recipe,
                       design=self._design(),
                       description=DESCRIPTION if self.cfg.modality != "ct" else CT_DESCRIPTION)
        return write_card(card.to_json(), self.cfg.out_dir / f"{self.cfg.model_id}.json")


def _summary(predictions: list[tuple], threshold: float) -> dict:
    """The end-to-end metrics of ``Trainer.predictions``, every grade decided at ``threshold``."""
    tally = Tally()
    for truth, pred, spacing in predictions:
        tally.add(truth, _rethreshold(pred, threshold), spacing, threshold)
    return tally.summary(threshold)


def _presets(predictions: list[tuple]) -> dict[str, float]:
    """Balanced (Youden's J, specificity >= 0.95) and high-PPV (specificity >= 0.99) presets."""
    tally = Tally()
    for truth, pred, spacing in predictions:
        tally.add(truth, pred, spacing, 0.5)
    # Operating points are set on detected bodies: a missed body is not called whatever the
    # threshold, and its 0 score would drag Youden's threshold down.
    found = [s for s in tally.scores if s[2]]
    labels = np.array([s[0] for s in found], bool)
    probs = np.array([s[1] for s in found], float)
    # Youden's J (CLINICAL §7) with a specificity floor of 0.95: unconstrained J picked
    # thresholds near 0.1 whose per-image specificity (~0.5) would bury readers in alarms.
    balanced = youden_threshold(probs, labels, min_spec=0.95)
    # Screening preset: specificity >= 0.99 on validation, never below the balanced one.
    high_ppv = max(high_ppv_threshold(probs, labels), balanced)
    return {"balanced": round(balanced, 4), "high_ppv": round(high_ppv, 4),
            "validation_auroc": auroc(probs, labels)}


def _rethreshold(annotation, threshold: float):
    from vcfviewer.models.grading import decide_grades

    return decide_grades(annotation, threshold)


CLASSES = {"fracture_task": ["background", "fractured", "normal", "sacrum"],
           "level_task": ["background", "thoracic", "lumbar", "sacrum"],
           "landmarks": ["superior_anterior", "superior_middle", "superior_posterior",
                         "inferior_anterior", "inferior_middle", "inferior_posterior"],
           "film_outputs": ["faces_right", "inverted"]}

DESCRIPTION = ("Two-stage multi-task model for lateral spine radiographs: a whole-film U-Net "
               "(fracture task, level-region task, body-centre heatmap, facing/inversion) and a "
               "per-body U-Net (mask, six landmarks by soft-argmax, fracture probability). Trained "
               "only on simulated films; see design and training.")

CT_DESCRIPTION = ("The lateral model's two-stage design fine-tuned on simulated sagittal CT planes "
                  "(HU clipped to a bone window, 0.5-5 mm voxels, CT noise). For a CT series the "
                  "film network scans sagittal planes, bodies are followed across planes and each "
                  "is measured on its own mid-sagittal plane (vcfviewer.models.ct).")

CT_DESIGN = {
    "ct_volumes": "film network on sagittal planes every 2.5 mm within 40 mm of the column's "
                  "mid-sagittal plane; detections linked across planes; a body must span >= 12 mm "
                  "left-right and lie within 20 mm of the column's middle plane (far planes show "
                  "ribs and iliac wings); its mid-sagittal plane is the area-weighted centre of "
                  "its planes; the anchoring sacrum is the largest found within 10 mm of the "
                  "column's middle; levels numbered from the sacrum over the whole column; body "
                  "network on each body's own plane",
    "ct_training": "simulated sagittal CT planes (vcfviewer.synth.ct, HU clipped to ct_window_hu, "
                   "then the radiograph normalisation), bodies outside the truth ignored, "
                   "resolution augmentation up to 3.5 mm voxels (real CTs are often 3 mm)",
}

DESIGN = {
    "film_network": "ResNet-style encoder (GroupNorm, stride-2 stem, 5 stages, widths 16..128) "
                    "shared by all tasks, one U-Net decoder, light per-task heads at 128 px whose "
                    "logits are upsampled to the 256 px letterboxed input (a full-resolution "
                    "decoder cost 2x the CPU time; the body stage makes the fine masks)",
    "body_network": "same encoder/decoder family at 96 px, crop side = 2 x sqrt(body area) "
                    "(body-relative scale, so films without pixel spacing work), rotated so the "
                    "local column axis is vertical, mirrored so the patient faces left",
    "instances": "connected components of the body classes after opening (3x3, 2 iterations), "
                 "split by body-centre heatmap peaks (peaks down to 0.08 too inside a component "
                 "1.25x a typical body: a crushed body fused with its neighbour; a component "
                 "under 1.3x a body is split only between peaks stacked along the column)",
    "exposures": "the film network also reads the film at gamma 0.3 and 2.5 (re-windowed for "
                 "an under- and an over-exposed field); compact bodies those views show next to "
                 "the column join it",
    "hidden_bodies": "the body network also reads a typical body's crop at the "
                     "midpoint of every gap between consecutive bodies and 0.8 of the "
                     "end gap beyond each end; a small (mask <= 0.75 of a typical "
                     "body), whole (each height >= 0.15 of the crop side), sharp "
                     "(landmark spread <= 28 crop px), centred (within 0.15 of the "
                     "crop side) reading joins the column as a flattened body, takes "
                     "back the pixels a neighbour had swallowed, and is named in a "
                     "model note (models/hidden.py)",
    "closer_look": "models/tiles.py: the film network also reads two overlapping "
                   "halves of the film (rows 0-60 % and 40-100 %, 1.7x larger on a "
                   "2:1 film; not read where a half is enlarged < 1.2x) at the same "
                   "three exposures, without mirror images; a half's bodies not cut "
                   "by its inner edge are mapped onto the whole film's grid and join "
                   "the column only between its highest and lowest bodies (the ends "
                   "are the field edge's and the sacrum's question), and only if the "
                   "body network draws them with a certain outline (IoU >= 0.75, "
                   "mean spread <= 11)",
    "cut_bodies": (f"a body whose landmarks lie within {assemble.EDGE_MARGIN_FRACTION:.1%} of the "
                   "longer side of the exposed field's edge (collimator bands found from the "
                   f"pixels), whose mask comes within {assemble.MASK_EDGE_CELLS:g} crop cell"
                   f"{'' if assemble.MASK_EDGE_CELLS == 1 else 's'} of it, "
                   f"or whose landmark nearest it (within {assemble.NEAR_EDGE_HEIGHT:.0%} of the "
                   "body's height) has a diffuse heatmap (spread >= "
                   f"{assemble.DIFFUSE_LANDMARK_CELLS:g} crop cells), is cut: named in a note, "
                   "not measured; a body kept although its mask comes within "
                   f"{assemble.EDGE_DOUBT_CELLS:g} crop cells of the edge is named in a note "
                   "(it may be cut off)"),
    "levels": "numbered from the sacrum upward (body above S1 = L5); the level-region task counts "
              "lumbar bodies and a count other than the numbering's is flagged, not forced; with "
              "a rib network, a body numbered T12 that shows no rib beyond doubt makes the column "
              "an L6 one (renamed, with a note)",
    "fracture_probability": "fusion_weight x body-network probability + (1 - fusion_weight) x "
                            "mean film-network 'fractured' probability over the body",
    "grade": "probability >= threshold decides whether a body is fractured, and so does a body "
             "flattened as a whole (every height <= 0.72 of the same height in its nearest normal "
             "neighbours above and below; models/grading.py) whose outline is not in doubt, with "
             "a note; landmark morphometry (core.morphometry.measure_study) decides the Genant "
             "grade (at least 1) and type",
    "orientation": "film network predicts facing right / inverted grey scale; when either is "
                   "> 0.5 the film is mirrored/inverted to the canonical view and run again",
    "tall_bodies": "a body whose tallest height is >= 1.4x the tallest of the bodies within two "
                   "places that the model calls unfractured is named in a note (two vertebrae "
                   "read as one?) unless the body network reads it apart "
                   "(models/confidence.tall_bodies)",
    "read_apart": "a tall body (tall_bodies) is probed by the body network with crops of a "
                  "typical body's size a quarter and three quarters down its axis; two sharp "
                  "readings (mean landmark spread <= 11 crop px) of >= 0.35 of a typical body "
                  "sharing < 0.2 of the smaller mask replace it as two bodies, the column is "
                  "renumbered and measured again, with a note (models/merged.py); readings "
                  "sharing more are two bodies when what the vaguer one adds to the sharper "
                  "inside the tall body is >= 0.35 of a typical body (the sharper and that rest); "
                  "where only one reading is sharp, a third crop centred on what it leaves of "
                  "the tall body (>= 0.35 of a typical body) that reads sharp and shares < 0.2 "
                  "of the smaller mask with it is the second body",
    "sacrum_top": "when the sacrum's centre lies less than 0.75 of the lowest body's height "
                  "below that body's centre (a vertebra's lies >= 0.95 below on validation "
                  "films), the body is the top of a flat sacrum: it joins the sacrum and the "
                  "column is renumbered, with a note (models/sacrum_top.py)",
    "repeats": "two neighbouring bodies whose body-network masks share >= 0.2 of the smaller "
               "one (different bodies <= 0.16 on validation films) are one body read twice: a "
               "gap probe's body yields to the film network's (which is made whole again and "
               "measured afresh if the probe took its pixels), else the reading with the vaguer "
               "landmarks is dropped; the column is renumbered, with a note (models/repeats.py)",
}

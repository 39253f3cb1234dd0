"""Fitting the rib network (``models.ribs``) onto a model: ``vcfviewer train --ribs MODEL``.

The rib network is independent of the film and body networks (its crops come from the final
landmarks), so it is trained on its own, after them, and added to the model's weights file (with
``--rib-join`` beside the rib network the model has, the two read as one ensemble). Its
films are simulated at full resolution (0.1-0.2 mm), as the analyser sees films: a short rib
over the posterior elements is a fine structure. Landmarks are jittered (3 % of the body's depth)
because at inference they come from the body network, not from the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vcfviewer.models.ribs import L1_RIBLESS, RIB_ABOVE, RIB_ABSENT_LOGIT

if TYPE_CHECKING:  # the simulator workers import this module and need no card machinery
    from vcfviewer.models.registry import ModelCard

# The network's shape as the model card states it (``models.inference.build_rib_net`` reads it);
# kept as plain data so the simulator workers that import this module need no torch.
RIB_INPUT = {"rib_size": 96, "rib_widths": [16, 24, 32, 64, 96], "rib_stem_stride": 2}
RIB_SEED_BASE = 600_000  # films 600000-699999 (the film and body networks use 100000-599999)
COPIES = 3  # crops per body: as drawn, and twice with jittered landmarks
JITTER = 0.03  # landmark noise, share of the body's depth
# The question is T12 against L1 (or an L6): those bodies and their neighbours count 3x.
JUNCTION = ("T11", "T12", "L1", "L2", "L6")
JUNCTION_WEIGHT = 3.0
HOLD_OUT_EVERY = 10  # films whose seed is a multiple of this are held out to score the fit
# L6 films are rare (0.04 naturally) but they are what the rib check is for.
RIB_TRANSITIONAL_RATE = 0.15
# The L6 rule's limits are written from the constants that apply them, so a limit read again
# (as for 1.4.0) cannot leave the card's design text behind.
RIB_DESIGN = ("encoder-only classifier (widths 16..96, stride-2 stem, 3x3 pooled bottleneck) on a "
              "96 px crop per body behind its posterior wall, 3 body depths wide, in the body's "
              "own anterior-posterior / superior-inferior frame: P(the body carries a rib). A "
              f"body numbered T12 from the sacrum with logit < {RIB_ABSENT_LOGIT:g}, under a body "
              f"> {RIB_ABOVE:g} (if any) and above an L1 < {L1_RIBLESS:g}, makes the column an L6 "
              "one (models/ribs.py). With rib_members > 1, that many such networks trained apart "
              "(other films, another case mix) read as one: the mean of their logits")


@dataclass(frozen=True)
class RibExamples:
    crops: np.ndarray  # (n, S, S) float16, z-scored
    thoracic: np.ndarray  # (n,) bool: the body carries a rib
    levels: np.ndarray  # (n,) str
    seeds: np.ndarray  # (n,) film seed


def rib_seeds(seed: int, count: int) -> list[int]:
    base = RIB_SEED_BASE + 20_000 * (seed % 5)
    return list(range(base, base + count))


def film_examples(job: tuple[int, float, tuple]) -> RibExamples:
    """Crops of every vertebral body of one simulated film (worker process)."""
    from vcfviewer.models.preprocess import normalise_unit
    from vcfviewer.core.morphometry import body_frame
    from vcfviewer.models.ribs import rib_crops
    from vcfviewer.synth import SynthOptions, simulate

    seed, transitional_rate, case_mix = job
    options = SynthOptions(**{"transitional_rate": transitional_rate, **dict(case_mix)})
    study = simulate(seed, options)
    unit = normalise_unit(study.radiograph.pixels)
    rng = np.random.default_rng(seed)
    sets, levels = [], []
    for f in study.annotation.findings:
        if f.is_sacrum or f.landmarks is None:
            continue
        depth = body_frame(f.landmarks)[3]
        for copy in range(COPIES):
            noise = rng.normal(0.0, JITTER * depth, (6, 2)) if copy else 0.0
            sets.append(np.asarray(f.landmarks, float) + noise)
            levels.append(f.level)
    lv = np.array(levels, dtype=object)
    return RibExamples(rib_crops(unit, sets, RIB_INPUT["rib_size"]).astype(np.float16),
                       np.array([x.startswith("T") for x in levels], bool), lv,
                       np.full(len(levels), seed))


def collect(seeds: list[int], workers: int = 2, transitional_rate: float = RIB_TRANSITIONAL_RATE,
            case_mix: dict | None = None, say: Callable[[str], None] | None = None) -> RibExamples:
    """Simulate ``seeds`` in ``workers`` processes and keep only their body crops."""
    from vcfviewer.training.corpus import run_in_workers

    jobs = [(s, transitional_rate, tuple(sorted((case_mix or {}).items()))) for s in seeds]
    parts = run_in_workers(film_examples, jobs, workers, say,
                           "simulating films for the rib network")
    return RibExamples(*(np.concatenate([getattr(p, k) for p in parts])
                         for k in ("crops", "thoracic", "levels", "seeds")))


def _augment(batch: np.ndarray, rng: np.random.Generator):
    """Contrast, brightness and noise per crop, and a shift of up to 4 px (landmark error)."""
    import torch

    x = torch.from_numpy(batch.astype(np.float32))[:, None]
    n = len(x)
    x = x * torch.from_numpy(rng.uniform(0.7, 1.3, (n, 1, 1, 1)).astype(np.float32))
    x = x + torch.from_numpy(rng.normal(0.0, 0.2, (n, 1, 1, 1)).astype(np.float32))
    sigma = torch.from_numpy(rng.uniform(0.0, 0.3, (n, 1, 1, 1)).astype(np.float32))
    x = x + torch.randn_like(x) * sigma
    dy, dx = (int(v) for v in rng.integers(-4, 5, 2))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def fit_rib_net(examples: RibExamples, steps: int = 4000, batch: int = 64, lr: float = 2e-3,
                seed: int = 0, say: Callable[[str], None] | None = None):
    """Train a fresh ``RibNet`` (one-cycle AdamW, junction bodies weighted up) on the films not
    held out; returns the network and its held-out accuracy per level at 0.5."""
    import torch
    from torch.nn import functional as F

    from vcfviewer.models.inference import build_rib_net

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    held = examples.seeds % HOLD_OUT_EVERY == 0
    train = np.flatnonzero(~held)
    if len(train) == 0:
        raise ValueError("no training crops: simulate more films")
    weight = np.where(np.isin(examples.levels[train], JUNCTION), JUNCTION_WEIGHT, 1.0)
    net = build_rib_net(RIB_INPUT)
    opt = torch.optim.AdamW(net.parameters(), lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    net.train()
    for step in range(steps):
        pick = rng.choice(train, batch, p=weight / weight.sum())
        target = torch.from_numpy(examples.thoracic[pick].astype(np.float32))
        loss = F.binary_cross_entropy_with_logits(net(_augment(examples.crops[pick], rng)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        if say and (step % 20 == 0 or step == steps - 1):
            say(f"\rrib network {step + 1}/{steps} loss {loss.item():.3f}")
    if say:
        say("\n")
    net.eval()
    return net, held_out_accuracy(net, examples, held)


def rib_probabilities(net, crops: np.ndarray, chunk: int = 256) -> np.ndarray:
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(crops), chunk):
            x = torch.from_numpy(crops[i:i + chunk].astype(np.float32))[:, None]
            out.append(torch.sigmoid(net(x)).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def held_out_accuracy(net, examples: RibExamples, held: np.ndarray) -> dict:
    """Accuracy at 0.5 per level on the held-out films' crops, with the counts."""
    prob = rib_probabilities(net, examples.crops[held])
    right = (prob > 0.5) == examples.thoracic[held]
    levels = examples.levels[held]
    per_level = {str(lv): {"accuracy": round(float(right[levels == lv].mean()), 4),
                           "crops": int((levels == lv).sum())}
                 for lv in sorted(set(levels), key=str)}
    return {"accuracy": round(float(right.mean()), 4) if len(right) else None,
            "crops": int(held.sum()), "per_level": per_level}


def joined_rib_state(own: dict, own_members: int, new: dict) -> tuple[dict, int]:
    """A model's rib network (``own``, prefix removed; ``own_members`` networks in it) with a
    new one (``new``) added beside it: the state of the ``RibEnsemble`` holding both, and its
    member count. A single network becomes member 0, keeping its tensors."""
    members = own if own_members > 1 else {f"members.0.{k}": v for k, v in own.items()}
    added = {f"members.{own_members}.{k}": v for k, v in new.items()}
    return {**members, **added}, own_members + 1


def joined_record(own: dict | None, record: dict) -> dict:
    """The card's training record of an ensemble: every member's record, oldest first."""
    earlier = own.get("members", [own]) if own else []
    return {"members": [*earlier, record], "combined": "mean of the members' logits"}


def add_rib_net(model_id: str, films: int = 1800, steps: int = 4000, seed: int = 2,
                workers: int = 2, threads: int = 2, version: str | None = None,
                case_mix: dict | None = None, join: bool = False,
                say: Callable[[str], None] | None = None) -> dict:
    """Train a rib network on ``films`` simulated films and write it into ``model_id``'s
    weights file beside its film and body networks (those stay bit-identical); the card gains
    the rib network's input spec and a training record. Returns the new network's record.
    With ``join`` the new network is added beside the model's own rib network(s), read as one
    ensemble (``models.network.RibEnsemble``), instead of replacing it.

    ``case_mix`` overrides simulator options of the rib films (``SynthOptions`` fields, e.g.
    more grade 3 crushes: a crushed T12 must still read as rib-bearing); the transitional rate
    is ``RIB_TRANSITIONAL_RATE`` unless it names one."""
    import torch

    from vcfviewer.models.weights import verified_weights

    card, path = verified_weights(model_id)
    if card.input.get("modality", "radiograph") != "radiograph":
        raise ValueError(f"{model_id}: the rib network reads lateral radiographs, not CT planes")
    torch.set_num_threads(max(1, threads))
    start = time.monotonic()
    seeds = rib_seeds(seed, films)
    mix = dict(case_mix or {})
    transitional = float(mix.pop("transitional_rate", RIB_TRANSITIONAL_RATE))
    examples = collect(seeds, workers, transitional, mix, say=say)
    sim_minutes = (time.monotonic() - start) / 60
    net, held_out = fit_rib_net(examples, steps=steps, seed=seed, say=say)
    members = save_rib_net(path, card, net.state_dict(), join, version)
    record = {"films": films, "seeds": [seeds[0], len(seeds)], "spacing_mm": "0.1-0.2 (full)",
              "transitional_rate": transitional, "crops": int(len(examples.crops)), "steps": steps,
              "held_out": held_out, "simulation_minutes": round(sim_minutes, 1),
              "total_minutes": round((time.monotonic() - start) / 60, 1)}
    if mix:
        record["case_mix"] = mix  # the card's JSON writes tuples as lists
    record_rib_net(card, path, members, record, version)
    return record


def save_rib_net(path: Path, card: ModelCard, net_state: dict, join: bool,
                  version: str | None) -> int:
    """Write the rib network into the weights file (replacing the model's own, or with ``join``
    beside it); the film and body networks' tensors are copied untouched. Returns the member
    count."""
    from safetensors.torch import save_file

    from vcfviewer.io.atomic import atomic_path
    from vcfviewer.models.inference import prefixed
    from vcfviewer.models.weights import load_state

    full = load_state(path)
    own = prefixed(full, "rib.")
    rib_state, members = net_state, 1
    if join and own:
        rib_state, members = joined_rib_state(own, int(card.input.get("rib_members", 1)),
                                              net_state)
    state = {k: v for k, v in full.items() if not k.startswith("rib.")}
    state.update({f"rib.{k}": v.detach().cpu().contiguous() for k, v in rib_state.items()})
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"model_id": card.id,
                                             "version": version or card.version})
    return members


def record_rib_net(card: ModelCard, path: Path, members: int, record: dict,
                    version: str | None) -> None:
    """The card gains the rib network's input spec, design, new sha256 and training record (an
    ensemble's lists every member's)."""
    from vcfviewer.models.registry import write_card
    from vcfviewer.models.weights import sha256_file

    data = card.to_json()
    data["input"] = {**data["input"], **RIB_INPUT, "rib_members": members}
    data["sha256"] = sha256_file(path)
    data["version"] = version or data["version"]
    training = data.get("training", {})
    written = joined_record(training.get("rib_network"), record) if members > 1 else record
    data["training"] = {**training, "rib_network": written}
    data["design"] = {**data.get("design", {}), "rib_network": RIB_DESIGN}
    write_card(data, card.path)

"""Where training films come from: the simulator (in worker processes) and exported training sets.

Kept free of torch at import time so spawned simulator workers start quickly.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vcfviewer.training.data import LabelledFilm, labelled_film

# Seeds of the fixed held-out test set (``vcfviewer synth --seed 900000 --count 200``); training
# and validation never draw from this range.
TEST_SEED_RANGE = range(900_000, 1_000_000)


def train_seeds(seed: int, count: int) -> list[int]:
    """Training film seeds for a run seed (disjoint from validation and test seeds)."""
    base = 100_000 * (seed % 5 + 1)
    return list(range(base, base + count))


def val_seeds(count: int) -> list[int]:
    """Validation film seeds (fixed across runs so thresholds are comparable)."""
    return list(range(800_000, 800_000 + count))


def _spacing_for(seed: int, spacing_range: tuple[float, float]) -> float:
    rng = np.random.default_rng(seed + 17)
    return float(rng.uniform(*spacing_range))


def _simulate_one(job: tuple[int, tuple[float, float], bool, str, tuple]):
    from vcfviewer.synth import SynthOptions

    seed, spacing_range, keep_image, modality, case_mix = job
    if modality == "ct":
        study = _ct_plane(seed)
    else:
        from vcfviewer.synth import simulate

        options = SynthOptions(spacing_mm=_spacing_for(seed, spacing_range), **dict(case_mix))
        study = simulate(seed, options)
    film = labelled_film(study.radiograph.pixels, study.label_map, study.annotation,
                         study.ignore, _max_coarsen(study) if modality == "ct" else 1.0)
    return film, (study.radiograph, study.annotation) if keep_image else None


CT_COARSEST_MM = 3.5  # real CTs come as coarse as 3 mm voxels (the shipped example)


def _max_coarsen(study) -> float:
    """How much coarser a simulated CT plane may be made in training (up to CT_COARSEST_MM)."""
    pixel = study.radiograph.spacing_mm[0] if study.radiograph.spacing_mm else 1.0
    return max(1.0, CT_COARSEST_MM / pixel)


def _ct_plane(seed: int):
    """A simulated sagittal CT plane, its HU clipped to the model's window as inference does."""
    from dataclasses import replace

    from vcfviewer.models.ct import clip_hu
    from vcfviewer.synth.ct import simulate_ct_plane

    study = simulate_ct_plane(seed)
    return replace(study, radiograph=replace(study.radiograph,
                                             pixels=clip_hu(study.radiograph.pixels)))


def simulate_films(seeds: Sequence[int], spacing_range: tuple[float, float], workers: int = 2,
                   keep_images: bool = False, say: Callable[[str], None] | None = None,
                   modality: str = "radiograph", case_mix: dict | None = None) -> list:
    """Simulate films (or CT planes) in ``workers`` processes; (LabelledFilm, (image, truth) | None).

    ``case_mix`` overrides simulator options (``SynthOptions`` fields) for radiographs, e.g. more
    transitional anatomy or severe fractures than the simulator's natural rates."""
    mix = tuple(sorted((case_mix or {}).items()))
    jobs = [(int(s), tuple(spacing_range), keep_images, modality, mix) for s in seeds]
    return run_in_workers(_simulate_one, jobs, workers, say)


def run_in_workers(fn: Callable, jobs: Sequence, workers: int = 2,
                   say: Callable[[str], None] | None = None,
                   what: str = "simulating films") -> list:
    """``fn`` over ``jobs`` in ``workers`` spawned processes (results in order), with a
    progress line through ``say``; in this process when ``workers`` <= 1."""
    out = []
    start = time.monotonic()
    pool = mp.get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        iterator = pool.imap(fn, jobs, chunksize=4) if pool else map(fn, jobs)
        for i, item in enumerate(iterator, 1):
            out.append(item)
            if say and (i % 20 == 0 or i == len(jobs)):
                rate = i / max(time.monotonic() - start, 1e-6)
                say(f"\r{what} {i}/{len(jobs)} ({rate:.1f}/s)")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if say:
        say("\n")
    return out


def exported_films(folder: Path) -> list[LabelledFilm]:
    """Reader-corrected studies from a training-set folder exported by the viewer."""
    from vcfviewer.io.training_set import read_training_set

    films = []
    for entry in read_training_set(folder):
        pixels = entry.pixels
        if entry.annotation.image.modality == "CT":  # CT planes are HU: window as inference does
            from vcfviewer.models.ct import clip_hu

            pixels = clip_hu(pixels)
        films.append(labelled_film(pixels, entry.label_map, entry.annotation))
    return films


def stderr_say(text: str) -> None:
    """Progress text to stderr without a newline."""
    print(text, end="", file=sys.stderr, flush=True)

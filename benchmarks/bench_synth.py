"""Simulator throughput: images per second at full (detector) and training resolution, on 1 and
2 processes, plus the write cost, and the projected time for 5,000 training images.

Run: ``.venv/bin/python benchmarks/bench_synth.py [--count 12] [--train-spacing 0.5]``.
Prints figures; asserts nothing (the target, 5,000 training images in < 30 min on 2 cores, is
checked by reading the last line).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path


def _init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _simulate(job: tuple[int, float | None]) -> tuple[float, tuple[int, int]]:
    from vcfviewer.synth import SynthOptions, simulate

    seed, spacing = job
    start = time.perf_counter()
    study = simulate(seed, SynthOptions(spacing_mm=spacing))
    return time.perf_counter() - start, study.radiograph.pixels.shape


def _rate(count: int, spacing: float | None, workers: int, seed: int) -> tuple[float, list[float], list]:
    jobs = [(seed + i, spacing) for i in range(count)]
    start = time.perf_counter()
    if workers == 1:
        _init()
        results = [_simulate(j) for j in jobs]
    else:
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_init) as pool:
            pool.map(_simulate, [(seed + 10_000, spacing)] * workers)  # warm the imports
            start = time.perf_counter()
            results = pool.map(_simulate, jobs, chunksize=1)
    wall = time.perf_counter() - start
    return count / wall, [r[0] for r in results], [r[1] for r in results]


def _write_cost(spacing: float | None, seed: int, count: int) -> float:
    from vcfviewer.synth import SynthOptions, simulate, write_study

    studies = [simulate(seed + i, SynthOptions(spacing_mm=spacing)) for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        write_study(studies[0], Path(tmp), "warm-up")  # first call pays for pydicom's imports
        start = time.perf_counter()
        for i, study in enumerate(studies):
            write_study(study, Path(tmp), f"s{i}")
        return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="images per measurement")
    parser.add_argument("--train-spacing", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    print(f"cpu cores visible: {multiprocessing.cpu_count()}")
    train_rate_2 = None
    for label, spacing in (("training", args.train_spacing), ("full", None)):
        for workers in (1, 2):
            count = args.count if spacing is not None else max(4, args.count // 3)
            rate, times, shapes = _rate(count, spacing, workers, args.seed)
            rows = statistics.median(s[0] for s in shapes)
            cols = statistics.median(s[1] for s in shapes)
            print(f"{label:8s} spacing={spacing or '0.1-0.2'} mm, {workers} process(es): {rate:5.2f} images/s "
                  f"(median {statistics.median(times):.2f} s/image, median size {rows:.0f}x{cols:.0f})")
            if label == "training" and workers == 2:
                train_rate_2 = rate
    for label, spacing in (("training", args.train_spacing), ("full", None)):
        print(f"write_study ({label}): {_write_cost(spacing, args.seed, 3):.2f} s/study (DICOM + JSON + PNG)")
    if train_rate_2:
        minutes = 5000 / train_rate_2 / 60
        print(f"5,000 training images on 2 processes: {minutes:.1f} min (target < 30 min)")


if __name__ == "__main__":
    main()

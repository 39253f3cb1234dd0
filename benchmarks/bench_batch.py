"""Batch throughput: simulated studies per minute through ``vcfviewer analyze``, 1 vs 2 workers.

    .venv/bin/python benchmarks/bench_batch.py [--studies 12] [--workers 1 2] [--seed 5000]

Writes ``--studies`` simulated lateral films (``vcfviewer synth``, default settings: DX at a
random 0.1–0.2 mm spacing), then runs the full batch (scan, load, model, measure, every default
export) once per worker count into a fresh output folder, and prints wall-clock studies/minute
(worker start-up and model loading included, as a user would see it), the mean per-study time
inside the workers, and the speed-up over the first worker count. Uses the shipped model, or the
one VCFVIEWER_MODELS points to. Run it on an otherwise idle machine; numbers go in the report,
never in a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _vcfviewer(*args: str) -> list[str]:
    return [sys.executable, "-m", "vcfviewer", *args]


def make_studies(folder: Path, count: int, seed: int) -> float:
    """Simulate ``count`` studies into ``folder``; returns the seconds it took."""
    start = time.perf_counter()
    subprocess.run(_vcfviewer("synth", str(folder), "--count", str(count), "--seed", str(seed),
                              "--workers", "2", "--quiet"), check=True)
    return time.perf_counter() - start


def run_batch(source: Path, out: Path, workers: int) -> dict:
    """One timed ``vcfviewer analyze`` run; returns its figures."""
    start = time.perf_counter()
    done = subprocess.run(_vcfviewer("analyze", str(source), "--out", str(out), "--workers",
                                     str(workers), "--device", "cpu", "--exclude",
                                     "*_labels.png", "--json", "--quiet"),
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"analyze failed (status {done.returncode}): {done.stderr[-2000:]}")
    doc = json.loads(done.stdout)
    with open(out / "summary.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["status"] == "ok"]
    per_study = [float(r["seconds"]) for r in rows]
    return {"workers": workers, "studies_ok": len(rows), "failed": doc["counts"]["failed"],
            "wall_s": round(wall, 1), "studies_per_min": round(len(rows) / wall * 60, 2),
            "mean_study_s": round(sum(per_study) / max(1, len(per_study)), 2),
            "device": rows[0]["device"] if rows else "", "model": rows[0]["model"] if rows else ""}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        films = Path(tmp) / "films"
        synth_s = make_studies(films, args.studies, args.seed)
        runs = [run_batch(films, Path(tmp) / f"out{w}", w) for w in args.workers]
    base = runs[0]["studies_per_min"] or float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.studies} simulated studies (synth took {synth_s:.0f} s)")
    print(f"model: {runs[0]['model']}")
    print(f"{'workers':>7} {'ok':>4} {'failed':>6} {'wall s':>7} {'studies/min':>12} "
          f"{'s/study (in worker)':>20} {'speed-up':>9}  device")
    for r in runs:
        print(f"{r['workers']:>7} {r['studies_ok']:>4} {r['failed']:>6} {r['wall_s']:>7} "
              f"{r['studies_per_min']:>12} {r['mean_study_s']:>20} "
              f"{r['studies_per_min'] / base:>9.2f}  {r['device']}")
    if args.json:
        args.json.write_text(json.dumps({"studies": args.studies, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End-to-end inference time per radiograph with a split by stage, and peak memory.

    .venv/bin/python benchmarks/bench_inference.py [--images N] [--threads 2] [--device cpu]
        [--spacing 0.15] [--path FILE ...]

Without --path it simulates full-resolution DX films (default 0.15 mm spacing, ~2000 px tall),
writes them as DICOM to a temporary folder and times: load (DICOM decode via the loader),
preprocess, network (both networks), postprocess (instances, crops) and measure (masks to source
pixels, morphometry, grades). Prints per-stage means, the network's share, and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _films(count: int, spacing: float, folder: Path) -> list[Path]:
    from vcfviewer.synth import SynthOptions, simulate, write_study

    paths = []
    for i in range(count):
        study = simulate(950_000 + i, SynthOptions(spacing_mm=spacing))
        written = write_study(study, folder, f"bench{i}")
        paths.append(next(p for p in written.values() if str(p).endswith(".dcm")))
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--spacing", type=float, default=0.15)
    parser.add_argument("--model", default=None)
    parser.add_argument("--path", type=Path, nargs="*", default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.models.inference import Analyzer

    analyzer = Analyzer(args.model, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        paths = args.path or _films(args.images, args.spacing, Path(tmp))
        rows: list[dict[str, float]] = []
        analyzer.analyze_sync(load_path_sync(paths[0]))  # warm-up (allocator, kernels)
        if analyzer.device.type == "cuda":
            torch.cuda.synchronize()
        for path in paths:
            start = time.perf_counter()
            image = load_path_sync(path)
            load_s = time.perf_counter() - start
            proposal = analyzer.analyze_sync(image)
            total = time.perf_counter() - start
            rows.append({"load": load_s, **dict(proposal.timings_s), "total": total,
                         "pixels": image.rows * image.columns})
    _report(rows, analyzer, args)
    return 0


def _report(rows: list[dict[str, float]], analyzer, args) -> None:
    mean = {k: statistics.mean(r.get(k, 0.0) for r in rows) for k in rows[0]}
    print(f"device: {analyzer.device_name}; torch threads {args.threads}; model "
          f"{analyzer.model_id} {analyzer.model_version}; {len(rows)} images, "
          f"mean {mean['pixels'] / 1e6:.1f} Mpixel")
    for stage in ("load", "preprocess", "network", "postprocess", "measure", "total"):
        print(f"  {stage:12s} {mean.get(stage, 0.0):7.3f} s")
    print(f"  network share of total: {mean.get('network', 0.0) / mean['total']:.0%}")
    print(f"  peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())

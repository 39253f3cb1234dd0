"""Time per CT series: load, reformat + analysis (split), on the CPU threads asked for.

    .venv/bin/python benchmarks/bench_ct.py [PATH ...] [--threads 2] [--repeats 3]

Defaults to the real CTs in ../shared/data/ct-example (NIfTI volume and the DICOM series).
Prints one line per series with the median of ``--repeats`` runs and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ct-example"


def _one(path: Path, analyzer) -> dict[str, float]:
    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.io.loader import load_path_sync

    start = time.perf_counter()
    volume = load_path_sync(path)
    loaded = time.perf_counter()
    proposal = run_to_completion(analyzer.analyze_volume(volume))
    done = time.perf_counter()
    figures = {"load": loaded - start, "analysis": done - loaded, "total": done - start}
    figures.update({f"  {k}": v for k, v in proposal.timings_s})
    figures["bodies"] = len(proposal.annotation.vertebrae)
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", type=Path)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    import torch

    from vcfviewer.models.inference import Analyzer
    from vcfviewer.models.registry import model_id_for

    torch.set_num_threads(args.threads)
    paths = args.paths or [SHARED / "example_ct.nii.gz", SHARED / "example_ct_dicom"]
    analyzer = Analyzer(model_id_for("ct"), device=args.device)
    print(f"model {analyzer.model_id} {analyzer.model_version} on {analyzer.device_name}")
    for path in paths:
        _one(path, analyzer)  # warm-up: first-touch allocations and kernel choice
        runs = [_one(path, analyzer) for _ in range(args.repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        split = " ".join(f"{k.strip()} {v:.2f}s" for k, v in med.items() if k.startswith("  "))
        print(f"{path.name}: load {med['load']:.2f}s, analysis {med['analysis']:.2f}s "
              f"({split}), total {med['total']:.2f}s, {int(med['bodies'])} bodies")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()

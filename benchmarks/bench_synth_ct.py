"""CT simulator throughput: training planes per second (drawn spacing, and fixed at 0.6 mm),
volumes per minute (a 60-plane slab and the default 70 mm one), and the cost of writing a series.

Run: ``.venv/bin/python benchmarks/bench_synth_ct.py [--planes 20] [--volumes 2]``.
Prints figures; asserts nothing. Targets: a plane ≤ ~0.3 s at 0.6 mm, a 60-plane volume < ~15 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _planes(count: int, seed: int, pixel: float | None) -> list[float]:
    from vcfviewer.synth.ct import simulate_ct_plane

    times = []
    for i in range(count):
        start = time.perf_counter()
        simulate_ct_plane(seed + i, pixel_mm=pixel)
        times.append(time.perf_counter() - start)
    return times


def _volumes(count: int, seed: int, lateral: float) -> tuple[list[float], object]:
    from vcfviewer.synth.ct import simulate_ct_volume

    times, last = [], None
    for i in range(count):
        start = time.perf_counter()
        last = simulate_ct_volume(seed + i, pixel_mm=0.8, slice_mm=2.0, lateral_mm=lateral)
        times.append(time.perf_counter() - start)
    return times, last


def _report(label: str, times: list[float], unit: str, per: float) -> None:
    mean = statistics.mean(times)
    print(f"{label}: {per / mean:.2f} {unit} (mean {mean:.3f} s, median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s, n={len(times)})")


def main() -> None:
    """Measure and print."""
    import cv2

    cv2.setNumThreads(1)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--planes", type=int, default=20)
    parser.add_argument("--volumes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    _planes(1, args.seed, None)  # imports, caches
    _report("planes, drawn spacing (0.5–1 mm)", _planes(args.planes, args.seed, None), "planes/s", 1.0)
    _report("planes at 0.6 mm", _planes(args.planes, args.seed, 0.6), "planes/s", 1.0)
    times, ct = _volumes(args.volumes, args.seed, 48.0)
    _report(f"60-plane volumes {ct.volume.shape}", times, "volumes/min", 60.0)
    times, ct = _volumes(args.volumes, args.seed, 70.0)
    _report(f"70 mm volumes {ct.volume.shape}", times, "volumes/min", 60.0)
    from vcfviewer.synth.ct_writer import write_ct_series

    with tempfile.TemporaryDirectory() as folder:
        for nifti in (False, True):
            start = time.perf_counter()
            write_ct_series(ct, Path(folder), "bench", nifti=nifti)
            print(f"write {'NIfTI' if nifti else 'DICOM series'} of {ct.volume.shape}: "
                  f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()

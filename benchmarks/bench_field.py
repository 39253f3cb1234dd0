"""How well the exposed field is estimated from the pixels, against the simulator's truth.

    .venv/bin/python benchmarks/bench_field.py [--films 200] [--seed 900000]

Simulates films (the natural case mix; the default seeds are the held-out test set's) and, for
each side of each film, compares the depth of the collimator/shutter band that
``models.field.exposed_field`` finds with the band the simulator painted, measured along the
middle 60 % of the side. Prints: the sides with a band, the bands missed (found more than 12 px
shallower than they are), the bands invented (more than 12 px deep where there is none) and the
signed edge offset of the bands found (estimated minus true depth, px; positive = the edge drawn
too far in). A body is cut when its landmarks come within 3 px of the true edge, so the offset
matters as much as the misses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

SIDES = ("top", "bottom", "left", "right")
MISS_PX = 12.0  # a band found this much shallower than it is counts as missed
NO_BAND_PX = 8.0  # a true band this shallow counts as none


def band_depths(exposed: Callable[[np.ndarray, np.ndarray], np.ndarray],
                shape: tuple[int, int], lines: int = 64) -> dict[str, float]:
    """Median depth (px) of the unexposed band on each side, over ``lines`` lines across the
    side's middle 60 %; ``exposed(xs, ys)`` says which source pixels the X-rays reached."""
    rows, cols = shape
    out = {}
    for side in SIDES:
        along, across = (cols, rows) if side in ("top", "bottom") else (rows, cols)
        at = np.linspace(0.2 * along, 0.8 * along, lines).astype(int)
        depth = np.arange(across)
        if side in ("bottom", "right"):
            depth = depth[::-1]
        a, d = np.meshgrid(at, depth)  # (across, lines): row k is k px in from this side
        xs, ys = (a, d) if side in ("top", "bottom") else (d, a)
        hit = exposed(xs.ravel(), ys.ravel()).reshape(a.shape)
        first = np.where(hit.any(axis=0), np.argmax(hit, axis=0), across)
        out[side] = float(np.median(first))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=200)
    parser.add_argument("--seed", type=int, default=900_000)
    args = parser.parse_args()
    from vcfviewer.models.field import exposed_field
    from vcfviewer.synth import simulate

    banded = missed = invented = 0
    offsets: list[float] = []
    seconds: list[float] = []
    for seed in range(args.seed, args.seed + args.films):
        study = simulate(seed)
        pixels = study.radiograph.pixels
        start = time.perf_counter()
        field = exposed_field(pixels)
        seconds.append(time.perf_counter() - start)
        truth = study.exposed
        true = band_depths(lambda xs, ys: truth[ys, xs], pixels.shape)
        est = band_depths(lambda xs, ys: field.depth(np.stack([xs, ys], 1)) > 0, pixels.shape)
        for side in SIDES:
            if true[side] > NO_BAND_PX:
                banded += 1
                if est[side] < true[side] - MISS_PX:
                    missed += 1
                else:
                    offsets.append(est[side] - true[side])
            elif est[side] > true[side] + MISS_PX:
                invented += 1
    print(f"films {args.films} (seeds {args.seed}+), sides with a band {banded}")
    print(f"bands missed {missed} ({missed / max(banded, 1):.1%}), invented {invented}")
    if offsets:
        print(f"edge offset of the bands found (px, estimated - true): median "
              f"{statistics.median(offsets):+.1f}, 5-95 % [{np.percentile(offsets, 5):+.1f}, "
              f"{np.percentile(offsets, 95):+.1f}]")
    print(f"exposed_field: {1000 * statistics.mean(seconds):.1f} ms per film")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Realism review: simulated films beside every real film, at the same displayed scale.

    .venv/bin/python scripts/contact_sheet.py /tmp/sheet.png [--count 8] [--seed 0]

Real films come from ``../shared/data/real-lateral-unlabelled/`` (8-bit web images without pixel
spacing). Each tile is scaled so that the mean vertebral body height is about the same on screen:
for simulated films from the truth; for real films from a typical lumbar FOV (≈ 6.5 body heights
per film height, overridable). Write the sheet under /tmp: it contains real films and must never
be committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real-lateral-unlabelled"
BODY_PX = 70  # displayed body height in every tile
FILM_BODIES = 8.5  # real films: film height ≈ this many body heights (L1–S1 plus margins)


def _tile(grey: np.ndarray, scale: float, label: str, height: int) -> np.ndarray:
    small = cv2.resize(grey, (max(1, int(grey.shape[1] * scale)), max(1, int(grey.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    tile = np.full((height, small.shape[1]), 40, dtype=np.uint8)
    h = min(height, small.shape[0])
    tile[:h] = small[:h]
    cv2.putText(tile, label, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1, cv2.LINE_AA)
    return tile


def _real_tiles(height: int) -> list[np.ndarray]:
    tiles = []
    for path in sorted(REAL.glob("*")):
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            continue
        scale = BODY_PX * FILM_BODIES / grey.shape[0]
        tiles.append(_tile(grey, scale, path.stem, height))
    return tiles


def _synth_tiles(count: int, seed: int, spacing: float | None, height: int) -> list[np.ndarray]:
    from vcfviewer.synth import SynthOptions, simulate
    from vcfviewer.synth.writer import degrade_to_raster

    options = SynthOptions(spacing_mm=spacing)
    tiles = []
    for s in range(seed, seed + count):
        study = simulate(s, options)
        raster, _ = degrade_to_raster(study)
        heights = [np.ptp(f.landmarks[:, 1]) for f in raster.annotation.vertebrae]
        body = float(np.median(heights)) if heights else raster.radiograph.rows / FILM_BODIES
        grey = raster.radiograph.pixels.astype(np.uint8)
        grades = "".join(str(int(f.grade)) for f in study.annotation.vertebrae)
        tiles.append(_tile(grey, BODY_PX / body, f"seed {s} g{grades}", height))
    return tiles


def _rows(tiles: list[np.ndarray], width: int) -> list[np.ndarray]:
    rows, current, used = [], [], 0
    for tile in tiles:
        if current and used + tile.shape[1] > width:
            rows.append(current)
            current, used = [], 0
        current.append(tile)
        used += tile.shape[1] + 6
    if current:
        rows.append(current)
    out = []
    for row in rows:
        line = np.full((row[0].shape[0], width), 20, dtype=np.uint8)
        x = 0
        for tile in row:
            w = min(tile.shape[1], width - x)
            line[:, x: x + w] = tile[:, :w]
            x += tile.shape[1] + 6
        out.append(line)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG to write (under /tmp: it holds real films)")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spacing", type=float, default=0.3, help="simulate at this spacing (mm)")
    parser.add_argument("--height", type=int, default=int(BODY_PX * FILM_BODIES * 1.3))
    parser.add_argument("--width", type=int, default=2400)
    args = parser.parse_args(argv)
    if str(args.out.resolve()).startswith(str(REPO)):
        print("refusing to write a sheet with real films inside the repository", file=sys.stderr)
        return 2
    tiles = _real_tiles(args.height) + _synth_tiles(args.count, args.seed, args.spacing, args.height)
    sheet = np.concatenate([np.pad(r, ((0, 6), (0, 0))) for r in _rows(tiles, args.width)])
    cv2.imwrite(str(args.out), sheet)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

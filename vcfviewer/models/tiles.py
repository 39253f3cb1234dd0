"""A closer look: the film network on overlapping halves of the film, for bodies too faint or
too small to stand out at the whole film's 256 px.

The film network sees a whole 3-4 Mpixel film at 256 px, a body some 20 px tall. A faint body at
the top of an under-exposed field, or a moderately wedged one beside a wide disc, can then give
the fracture task too few pixels to survive the opening, and every level above it is read one
too high (held-out 900071, 900138). Read on a half of the film, the same body is 1.7x larger.
Each tile's bodies are found as on the whole film (``postprocess.find_bodies``); a body that
touches a tile's inner cut is left to the other tile, which holds it whole (the tiles overlap
by more than a body's height). The rest are mapped onto the whole film's input grid and join
the column only where it has no body yet (``postprocess.add_from_exposures``, as the other
exposures' bodies do), and only between its highest and lowest bodies, in its gaps
(``postprocess.within_column``). Each tile is read once at each exposure, without the mirror
image the whole film is averaged with: the mirror changed no column on 2000 simulated films
and doubled the closer look's cost.

A body only a tile saw must then be drawn with a certain outline by the body network
(``confirmed``: the outline check's own limits, ``confidence.outline_uncertain``). On the 460
validation films every body a tile added that the truth holds passed them (IoU 0.85-0.94, mean
spread 7.8-10.9 crop px), and the one it added in a collimated band over burned-in text, where
the exposed-field finder had missed the band (800270), did not (0.69, 17.3).
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from vcfviewer.core.annotation import VertebraFinding
from vcfviewer.models import assemble
from vcfviewer.models.confidence import outline_uncertain
from vcfviewer.models.postprocess import (BodyCandidate, FilmParse, find_bodies, mask_centre,
                                          renumbered, touches_box)
from vcfviewer.models.preprocess import FilmTransform

# Row spans of the tiles as fractions of the film's height (the column runs along the rows of a
# lateral film): two overlapping by 0.2 of the height, more than a vertebral body's height on a
# film of four or more bodies.
TILE_SPANS = ((0.0, 0.6), (0.4, 1.0))
# A tile whose letterbox enlarges the film less than this (a square or landscape film) adds
# nothing the whole film did not show, so none are read.
MIN_TILE_GAIN = 1.2


def tile_rows(rows: int, cols: int, spans=TILE_SPANS) -> list[tuple[int, int]]:
    """Row ranges [top, bottom) of the tiles to read, or none when they would not enlarge."""
    out = []
    for lo, hi in spans:
        top, bottom = int(round(lo * rows)), int(round(hi * rows))
        gain = max(rows, cols) / max(bottom - top, cols)
        if bottom - top >= 2 and gain >= MIN_TILE_GAIN:
            out.append((top, bottom))
    return out


def tile_to_film(tile: FilmTransform, top: int, film: FilmTransform) -> np.ndarray:
    """2x3 affine from a tile's input grid to the whole film's input grid (the tile holds
    source rows top..; both letterbox the same columns, mirrored alike)."""
    grid = np.array([[0.0, 0.0], [float(tile.size), 0.0], [0.0, float(tile.size)]])
    source = tile.to_source(grid) + [0.0, float(top)]
    return cv2.getAffineTransform(grid.astype(np.float32),
                                  film.to_input(source).astype(np.float32))


def _inner_cut(mask: np.ndarray, tile: FilmTransform, top: int, bottom: int, rows: int) -> bool:
    """Does the body reach a row where the tile cuts the film (not the film's own border)?"""
    box_top, _, box_bottom, _ = tile.content_box
    ys = np.flatnonzero(mask.any(axis=1))
    return bool((top > 0 and ys[0] <= box_top) or (bottom < rows and ys[-1] >= box_bottom - 1))


def bodies_from_tile(maps: tuple[np.ndarray, np.ndarray, np.ndarray], tile: FilmTransform,
                     span: tuple[int, int], film: FilmTransform) -> list[BodyCandidate]:
    """The bodies a tile's (fracture, level, centre) maps show, on the whole film's input grid,
    with their votes as the tile read them. Bodies cut by the tile's inner edge are left out."""
    fracture, level, centre = maps
    top, bottom = span
    rows = film.source_shape[0]
    found, _ = find_bodies(fracture, level, centre, tile.content_box)
    matrix = tile_to_film(tile, top, film)
    out = []
    for body in found:
        if _inner_cut(body.mask, tile, top, bottom, rows):
            continue
        warped = cv2.warpAffine(body.mask.astype(np.float32), matrix, (film.size, film.size),
                                flags=cv2.INTER_LINEAR) >= 0.5
        if warped.sum() < 8:
            continue
        out.append(replace(body, mask=warped, centre=mask_centre(warped),
                           touches_edge=touches_box(warped, film.content_box), closer=True))
    return out


def confirmed(unit: np.ndarray, parse: FilmParse, transform: FilmTransform, spec: dict,
              run_bodies) -> FilmParse:
    """``parse`` less the bodies only a tile found that the body network reads with an
    uncertain outline, renumbered if any went. ``run_bodies`` is the analyser's body network."""
    closer = [i for i, b in enumerate(parse.bodies) if b.closer]
    if not closer:
        return parse
    crops, tfs = assemble.body_crops(unit, parse, transform, spec)
    out = run_bodies(crops[closer])
    doubtful = []
    for k, i in enumerate(closer):
        finding = VertebraFinding(level=parse.levels[i],
                                  landmarks=tfs[i].to_source(out["landmarks"][k]),
                                  mask=assemble.body_mask(out["mask"][k], tfs[i], unit.shape))
        if outline_uncertain(finding, out["landmark_spread"][k]):
            doubtful.append(i)
    if not doubtful:
        return parse
    kept = [b for i, b in enumerate(parse.bodies) if i not in doubtful]
    return renumbered(parse, kept, forget=[parse.levels[i] for i in doubtful])


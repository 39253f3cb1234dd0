"""The closer look: tiles of the film read by the film network, their bodies on the film's grid."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from models_filmcolumn import film_body, film_column
from models_filmmaps import bodies_at, film_maps, hide_body

from vcfviewer.models.postprocess import find_bodies, parse_film, within_column
from vcfviewer.models.preprocess import letterbox
from vcfviewer.models.tiles import bodies_from_tile, confirmed, tile_rows, tile_to_film


def test_tiles_overlap_along_the_rows_of_a_tall_film_only() -> None:
    # 2000 x 1000: tiles of 1200 rows enlarge the film 2000 / 1200 = 1.67x.
    assert tile_rows(2000, 1000) == [(0, 1200), (800, 2000)]
    # A square film: a 600-row tile is still letterboxed by its 1000 columns (gain 1.0).
    assert tile_rows(1000, 1000) == []


def _transforms():
    """A 200 x 100 film at 100 px, and its upper tile (rows 0-120) at 100 px."""
    _, film = letterbox(np.zeros((200, 100), np.float32), 100)
    _, tile = letterbox(np.zeros((120, 100), np.float32), 100)
    return film, tile


def test_tile_grid_maps_onto_the_film_grid() -> None:
    film, tile = _transforms()
    # By hand: the tile is 83 x 100 px at offset (8, 0), scales 0.83 and 100/120; the film
    # is 50 x 100 px at offset (25, 0), scale 0.5. Source (50, 60) lies at tile (49.415,
    # 49.9167) and film (49.75, 29.75).
    assert (tile.scale_x, tile.offset_x, film.scale_x, film.offset_x) == (0.83, 8.0, 0.5, 25.0)
    m = tile_to_film(tile, 0, film)
    assert m @ [49.415, 49.916667, 1.0] == pytest.approx([49.75, 29.75], abs=1e-3)
    # The lower tile (rows 80-200) has the same grid: the same tile point is 40 rows lower.
    m = tile_to_film(tile, 80, film)
    assert m @ [49.415, 49.916667, 1.0] == pytest.approx([49.75, 69.75], abs=1e-3)


def _tile_maps(size: int = 100):
    frac = np.zeros((4, size, size), np.float32)
    frac[0] = 1.0
    level = frac.copy()
    centre = np.zeros((size, size), np.float32)
    for rows, peak in ((slice(30, 45), 37), (slice(88, 100), 94)):
        frac[:, rows, 40:60] = 0
        frac[2, rows, 40:60] = 1.0
        level[:, rows, 40:60] = 0
        level[2, rows, 40:60] = 1.0
        centre[peak, 50] = 1.0
    return frac, level, centre


def test_a_tile_body_lands_on_the_film_grid_and_one_cut_by_the_tile_is_left_out() -> None:
    film, tile = _transforms()
    maps = _tile_maps()
    assert len(find_bodies(*maps, tile.content_box)[0]) == 2
    bodies = bodies_from_tile(maps, tile, (0, 120), film)
    # The body on rows 88-99 reaches the tile's bottom, where the tile (not the film) ends.
    assert len(bodies) == 1
    body = bodies[0]
    # Its tile centre (49.5, 37) by hand: source (50.102, 44.5), film grid (49.801, 22.0).
    assert body.centre == pytest.approx([49.801, 22.0], abs=0.6)
    # 20 x 15 = 300 tile pixels x (0.5 / 0.83) x (0.5 / (100 / 120)) = 108 film pixels.
    assert 95 <= body.area <= 120
    assert not body.touches_edge
    # The same body at the film's own bottom border is kept (nothing else holds it whole).
    assert len(bodies_from_tile(maps, tile, (80, 200), film)) == 2


def test_a_body_a_tile_shows_fills_a_gap_where_the_film_shows_none() -> None:
    shown = film_maps(6, lumbar_from=1)  # bodies on rows 6-17, 21-32, 36-47, ... (centres 12, 27, 42)
    hidden = hide_body(*shown, slice(36, 48))
    # Numbered from the sacrum, every body above the lost one is named one level too low.
    assert parse_film(*hidden, (0, 0, 128, 128)).levels == ("L1", "L2", "L3", "L4", "L5")
    middle = [b for b in find_bodies(*shown, (0, 0, 128, 128))[0] if 36 <= b.centre[1] <= 48]
    parse = parse_film(*hidden, (0, 0, 128, 128), closer=[middle])
    assert parse.levels == ("T12", "L1", "L2", "L3", "L4", "L5")
    # A tile's reading of a body the column already has adds nothing.
    again = find_bodies(*shown, (0, 0, 128, 128))[0]
    assert len(parse_film(*shown, (0, 0, 128, 128), closer=[again]).bodies) == 6


def test_a_tile_adds_nothing_beyond_the_column_s_ends() -> None:
    column = bodies_at([10, 25, 40])
    kept = within_column(bodies_at([5, 30, 40, 55]), column)
    # In a gap (30) or level with an end body (40) a tile's body may join; above the top (5)
    # the field's edge decides, below the lowest (55) lies the sacrum.
    assert [float(b.centre[1]) for b in kept] == [30.0, 40.0]
    assert within_column(bodies_at([5]), []) == []
    # The lower tile reads the sacrum's top segment as a body: the column keeps its L5 last.
    shown = film_maps(6, lumbar_from=1)
    below = [b for b in find_bodies(*shown, (0, 0, 128, 128))[0] if b.centre[1] > 80]
    hidden = film_maps(5, lumbar_from=0, gap=3)
    assert len(parse_film(*hidden, (0, 0, 128, 128), closer=[below]).bodies) == 5
    # Nor does the top body an under-exposed film lost come back from a tile.
    top = [b for b in find_bodies(*shown, (0, 0, 128, 128))[0] if b.centre[1] < 18]
    assert len(parse_film(*hide_body(*shown), (0, 0, 128, 128), closer=[top]).bodies) == 5


def _fake_body_network(spread: float):
    """A body network that draws a 48 x 36 box at the crop centre with its six landmarks on the
    box's corners and edge midpoints (mask and landmarks agree), each heatmap ``spread`` wide."""
    def run_bodies(crops: np.ndarray) -> dict:
        n = len(crops)
        mask = np.zeros((n, 96, 96), np.float32)
        mask[:, 30:66, 24:72] = 0.9
        xs = np.array([24.0, 48.0, 71.0])
        lm = np.concatenate([np.stack([xs, np.full(3, 30.0)], 1), np.stack([xs, np.full(3, 65.0)], 1)])
        return {"mask": mask, "landmarks": np.repeat(lm[None], n, 0),
                "landmark_spread": np.full((n, 6), spread), "fracture": np.zeros(n)}
    return run_bodies


@pytest.mark.parametrize("spread, levels", [
    (5.0, ("T12", "L1", "L2", "L3", "L4", "L5")),  # sharp: the tile's body stays
    (15.0, ("L1", "L2", "L3", "L4", "L5")),  # mean spread 15 > 11: it goes, T12 -> L1
])
def test_a_body_only_a_tile_saw_stays_only_if_drawn_sharply(spread, levels) -> None:
    unit = np.zeros((256, 256), np.float32)
    _, transform = letterbox(unit, 128)
    rows = [slice(y, y + 12) for y in (5, 20, 35, 50, 65, 80)]
    seen_closer = replace(film_body(rows[0]), closer=True)
    parse = film_column([seen_closer] + rows[1:])
    assert parse.levels == ("T12", "L1", "L2", "L3", "L4", "L5")
    out = confirmed(unit, parse, transform, {"body_size": 96, "crop_side_factor": 2.0},
                    _fake_body_network(spread))
    assert out.levels == levels
    assert any(b is seen_closer for b in out.bodies) == (spread < 11)


def test_the_shipped_model_reads_a_missed_crushed_body_on_a_closer_look() -> None:
    """Severe-fracture validation film 830143 (as in test_models_hidden): the whole film shows
    no body at its crushed L3; the lower half read closer does, so the column is right without
    the gap probe's second look (whose note would otherwise name it)."""
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.synth import SynthOptions, simulate

    options = SynthOptions(fracture_rate=1.0, grade_weights=(0, 0, 1), type_weights=(0.2, 0.2, 0.6))
    study = simulate(830143, options)
    ann = Analyzer("vcf-lateral", device="cpu").analyze_sync(study.radiograph).annotation
    truth = [f.level for f in study.annotation.findings if f.landmarks is not None]
    found = {f.level: f for f in ann.findings if f.landmarks is not None}
    assert list(found) == truth
    assert int(found["L3"].grade) == 3
    assert not any("flattened body the film network missed" in f for f in ann.flags)


def test_the_closer_look_reads_each_half_once_at_each_exposure(monkeypatch) -> None:
    """Two halves at three exposures are six film-network images in one batch, with no mirror
    images (they changed no column on 2000 simulated films and doubled the cost)."""
    from vcfviewer.models.inference import EXPOSURE_GAMMAS, Analyzer

    analyzer = Analyzer("vcf-lateral", device="cpu")
    batches = []
    run = analyzer.run_films
    monkeypatch.setattr(analyzer, "run_films", lambda x: batches.append(len(x)) or run(x))
    unit = np.random.default_rng(0).random((400, 200)).astype(np.float32)
    _, film = letterbox(unit, 256)
    found = analyzer._closer_look(unit, False, film, [])
    assert batches == [2 * (1 + len(EXPOSURE_GAMMAS))] == [6]
    assert len(found) == 6

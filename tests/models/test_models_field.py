"""The exposed field: collimator/shutter bands found, saturated regions not taken for them, and
cut bodies judged against the field's edge."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vcfviewer.core.annotation import BodyMask, VertebraFinding
from vcfviewer.models.assemble import (EDGE_DOUBT_CELLS, EDGE_MARGIN_FRACTION, MASK_EDGE_CELLS,
                                       CutEvidence, _close_to_edge, _drop_cut)
from vcfviewer.models.field import exposed_field

ROWS, COLS = 1200, 900


def _film(seed: int = 0) -> np.ndarray:
    """Noisy exposed anatomy-like background (never flat), 0..1000."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ROWS, 0:COLS]
    return (400 + 200 * np.sin(x / 90.0) + 100 * np.cos(y / 70.0)
            + rng.normal(0, 20, (ROWS, COLS))).astype(np.float32)


def _left_band(img: np.ndarray, depth: float, tilt: float, value: float) -> np.ndarray:
    """Paint a flat band along the left side whose edge is x = depth + tilt * y."""
    y, x = np.mgrid[0:ROWS, 0:COLS]
    out = img.copy()
    out[x < depth + tilt * y] = value
    return out


def test_a_tilted_black_shutter_band_is_found_with_its_edge() -> None:
    img = _left_band(_film(), depth=100, tilt=0.02, value=0.0)  # edge at x = 100 .. 124
    field = exposed_field(img)
    for y in (50, 600, 1150):
        edge = 100 + 0.02 * y
        # 20 px inside the band's edge the depth is ~20 px (grid cells are ~1.2 px here).
        assert field.depth(np.array([[edge + 20, y]]))[0] == pytest.approx(20, abs=2.5)
        assert field.depth(np.array([[edge - 5, y]]))[0] <= 0


def test_a_black_shutter_beside_saturated_air_is_found_where_anatomy_meets_it() -> None:
    # Along most of the left side saturated (black) air lies beyond the shutter's edge, so the
    # flat run goes on past it; only the lowest sixth of the side shows anatomy at the edge.
    img = _left_band(_film(), depth=100, tilt=0.0, value=0.0)
    y, x = np.mgrid[0:ROWS, 0:COLS]
    img[(y < 1000) & (x < 260 + 60 * np.sin(y / 75.0))] = 0.0
    field = exposed_field(img)
    assert field.depth(np.array([[120, 1100]]))[0] == pytest.approx(20, abs=2.0)
    assert field.depth(np.array([[95, 1100]]))[0] <= 0


def test_saturated_air_along_a_border_that_anatomy_also_reaches_is_no_band() -> None:
    # Saturated air hugging the top border, its wavy lower boundary a few pixels deep at the
    # troughs (which line up), while anatomy reaches the border over a fifth of the side: the
    # troughs' envelope is not a shutter's edge.
    img = _film()
    y, x = np.mgrid[0:ROWS, 0:COLS]
    img[(x < 720) & (y < 3 + 30 * np.abs(np.sin(x / 50.0)))] = 0.0
    field = exposed_field(img)
    for col in (314, 800):  # in a trough of the air, and where anatomy reaches the border
        assert field.depth(np.array([[col, 12]]))[0] == pytest.approx(12, abs=1.5)
    assert field.depth(np.array([[300, 120]]))[0] > 100


def test_the_band_edge_is_placed_to_within_a_pixel_on_a_full_size_film() -> None:
    # The simulator's truth margin is 3 px, so an edge drawn a working-grid cell (~2.3 px on a
    # 2400-row film) too far out decides cut bodies wrongly.
    rng = np.random.default_rng(3)
    img = (500 + rng.normal(0, 25, (2400, 1800))).astype(np.float32)
    img[:, :300] = 4095.0  # a lead collimator's light band, edge at x = 300
    field = exposed_field(img)
    for inside in (6, 20, 60):
        assert field.depth(np.array([[300 + inside, 1200]]))[0] == pytest.approx(inside, abs=1.0)


def test_text_burned_into_a_light_band_does_not_break_it() -> None:
    img = _film()
    img[:80] = 1000.0  # lead collimator along the top
    img[20:50, 100:400] = np.random.default_rng(1).uniform(0, 1000, (30, 300))  # burned-in text
    field = exposed_field(img)
    assert field.depth(np.array([[600, 100]]))[0] == pytest.approx(20, abs=2.5)
    assert field.depth(np.array([[250, 60]]))[0] <= 0


def test_a_ragged_saturated_region_is_not_a_band() -> None:
    img = _film()
    # Saturated dark lung: a flat blob at the top whose lower border is a curve, not a line.
    y, x = np.mgrid[0:ROWS, 0:COLS]
    img[y < 250 + 120 * np.sin(x / 140.0)] = 0.0
    field = exposed_field(img)
    # Below the blob the only edge is the image border, 450 px above... or the blob is ignored:
    # either way a point in the blob's middle counts as exposed.
    assert field.depth(np.array([[450, 300]]))[0] > 100


def test_no_band_means_the_image_border_is_the_edge() -> None:
    field = exposed_field(_film())
    assert field.depth(np.array([[10, 600]]))[0] == pytest.approx(10, abs=1.5)
    assert field.depth(np.array([[-3, 600], [COLS + 2, 600]])).max() <= 0


def _finding(level: str, x0: float, y0: float, w: float = 120, h: float = 100) -> VertebraFinding:
    # six landmarks: superior post/mid/ant... only their positions matter here
    lm = np.array([[x0 + w, y0], [x0 + w / 2, y0], [x0, y0], [x0, y0 + h], [x0 + w / 2, y0 + h],
                   [x0 + w, y0 + h]], float)
    mask = np.zeros((int(h) + 1, int(w) + 1), bool)
    cv2.fillConvexPoly(mask.view(np.uint8), (lm[[0, 2, 3, 5]] - [x0, y0]).astype(np.int32), 1)
    return VertebraFinding(level=level, landmarks=lm, mask=BodyMask(int(y0), int(x0), mask))


def test_bodies_reaching_into_the_band_are_cut_and_whole_ones_kept() -> None:
    img = _left_band(_film(), depth=150, tilt=0.0, value=0.0)
    field = exposed_field(img)
    whole = _finding("L2", 300, 400)
    under_band = _finding("L3", 100, 600)  # anterior corners inside the band
    kept, cut = _drop_cut([whole, under_band], img.shape, field)
    assert [f.level for f in kept] == ["L2"] and cut == ["L3"]
    # Judged against the image border alone, the body under the band would have been kept.
    kept, cut = _drop_cut([whole, under_band], img.shape, None)
    assert cut == []


def _landmarks_moved(f: VertebraFinding, dx: float) -> VertebraFinding:
    """The same body and mask with its landmarks drawn ``dx`` px to the side."""
    return VertebraFinding(level=f.level, landmarks=f.landmarks + [dx, 0.0], mask=f.mask)


def test_a_mask_stopping_within_a_crop_cell_of_the_band_marks_the_body_cut() -> None:
    # The body network's mask of a cut body stops up to about a crop cell short of the band,
    # with its landmarks drawn further inside: the landmark test alone keeps such a body.
    img = _left_band(_film(), depth=150, tilt=0.0, value=0.0)
    field = exposed_field(img)
    cell = 4.0  # source px per crop cell on a full-size film
    near = _landmarks_moved(_finding("L3", 150 + 0.5 * cell, 600), 10.0)  # mask half a cell off
    clear = _finding("L2", 150 + 3 * MASK_EDGE_CELLS * cell, 400)  # three times the reach away
    sharp = CutEvidence(cell, np.full(6, 3.0))
    kept, cut = _drop_cut([clear, near], img.shape, field, [sharp, sharp])
    assert [f.level for f in kept] == ["L2"] and cut == ["L3"]
    # Without the body network's evidence only a mask running into the band cuts a body.
    kept, cut = _drop_cut([clear, near], img.shape, field)
    assert cut == []


def test_a_body_kept_with_its_mask_within_the_doubt_reach_of_the_band_is_named() -> None:
    # Band edge at x = 150, 4 px crop cells: a mask 1.5 cells (6 px) off is not cut (the cut
    # reach is 1 cell, 4 px) but within the doubt reach (2 cells, 8 px); one 3 cells off is clear.
    assert MASK_EDGE_CELLS < 1.5 < EDGE_DOUBT_CELLS < 3
    img = _left_band(_film(), depth=150, tilt=0.0, value=0.0)
    field = exposed_field(img)
    cell = 4.0
    near = _landmarks_moved(_finding("L3", 150 + 1.5 * cell, 600), 10.0)
    clear = _finding("L2", 150 + 3 * cell, 400)
    evidence = [CutEvidence(cell, np.full(6, 3.0))] * 2
    kept, cut = _drop_cut([clear, near], img.shape, field, evidence)
    assert [f.level for f in kept] == ["L2", "L3"] and cut == []
    assert _close_to_edge([clear, near], field, evidence) == {near.finding_id}
    assert _close_to_edge([clear, near], None, evidence) == set()  # CT planes: no field


def test_a_diffuse_corner_near_the_edge_marks_the_body_cut() -> None:
    # Landmarks 10 px and the mask 20 px (5 cells) inside the band's edge: the geometry keeps
    # the body; a corner heatmap spread over the crop says the network could not see it.
    img = _left_band(_film(), depth=150, tilt=0.0, value=0.0)
    field = exposed_field(img)
    near = _landmarks_moved(_finding("L3", 170, 600), -10.0)
    far = _finding("L2", 400, 400)
    sharp = np.full(6, 3.0)
    diffuse = sharp.copy()
    diffuse[2] = 20.0  # the anterior corners (x0) face the band; index 2 is one of them
    kept, cut = _drop_cut([far, near], img.shape, field,
                          [CutEvidence(4.0, sharp), CutEvidence(4.0, sharp)])
    assert cut == []
    kept, cut = _drop_cut([far, near], img.shape, field,
                          [CutEvidence(4.0, diffuse), CutEvidence(4.0, diffuse)])
    assert [f.level for f in kept] == ["L2"] and cut == ["L3"]  # far from the edge: kept


def test_every_truth_body_of_simulated_films_is_inside_the_estimated_field() -> None:
    """The simulator keeps a body only when its landmarks are 3 px inside the exposed field
    (synth.geometry); the field estimated from the pixels must agree for those landmarks."""
    from vcfviewer.synth.simulate import simulate

    collimated = 0
    for seed in range(8):
        study = simulate(seed)
        pixels = study.radiograph.pixels
        field = exposed_field(pixels)
        collimated += int((field.distance <= 0).mean() > 0.01)
        margin = EDGE_MARGIN_FRACTION * max(pixels.shape)
        for f in study.annotation.findings:
            if f.landmarks is not None:
                assert field.depth(f.landmarks).min() >= margin, (seed, f.level)
    assert collimated >= 2  # the seeds include collimated films, so the test tests something

"""Body crops with a painted edge band: the body stage learns where a cut body's hidden corners
lie (training.data.edge_band, body_example)."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.core.annotation import ImageRef, Provenance, StudyAnnotation, VertebraFinding
from vcfviewer.training import data

# A 20 x 20 px body facing left: the anterior wall is x = 10, the posterior wall x = 30.
BODY = np.array([[10, 10], [20, 10], [30, 10], [10, 30], [20, 30], [30, 30]], float)


def test_an_anterior_band_cutting_a_quarter_of_the_width_covers_x_below_15() -> None:
    # Wall x = 10, body width 20, offset -0.25 → the edge is 5 px into the body, at x = 15.
    band = data.edge_band((40, 40), BODY, "anterior", -0.25)
    assert band[:, :15].all() and not band[:, 15:].any()


def test_a_superior_band_outside_the_body_covers_y_below_8() -> None:
    # Wall y = 10, height 20, offset +0.1 → 2 px above the wall, at y = 8.
    band = data.edge_band((40, 40), BODY, "superior", 0.1)
    assert band[:8].all() and not band[8:].any()


def test_an_inferior_band_at_the_wall_covers_y_beyond_30() -> None:
    band = data.edge_band((40, 40), BODY, "inferior", 0.0)
    assert band[31:].all() and not band[:31].any()


def test_a_tilted_band_turns_about_the_walls_midpoint() -> None:
    # Anterior wall turned 45 degrees about (10, 20): the edge is x + y = 30, outward towards 0.
    band = data.edge_band((40, 40), BODY, "anterior", 0.0, tilt_deg=45.0)
    assert band[0, 0] and band[19, 10] and not band[20, 10] and not band[20, 20]


def test_painting_fills_the_band_flat_and_leaves_the_rest() -> None:
    unit = np.random.default_rng(1).random((40, 40)).astype(np.float32)
    before = unit.copy()
    band = data._paint_band(unit, BODY, np.random.default_rng(2))
    assert band.any() and (~band).any()
    assert np.unique(unit[band]).size == 1
    assert np.array_equal(unit[~band], before[~band])


def _film() -> data.LabelledFilm:
    labels = np.zeros((96, 96), np.int16)
    labels[38:59, 38:59] = 1
    lm = BODY + 28  # the body's corners at 38 and 58
    annotation = StudyAnnotation(image=ImageRef("", 96, 96, (1.0, 1.0)),
                                 findings=(VertebraFinding("L1", lm),), provenance=Provenance("t"))
    pixels = np.random.default_rng(0).random((96, 96)) * 0.2
    pixels[labels == 1] += 0.6
    return data.labelled_film(pixels, labels, annotation)


def test_a_banded_crop_keeps_the_true_corners_and_loses_the_hidden_mask(monkeypatch) -> None:
    film = _film()
    plain = data.body_example(film, 0, 48, np.random.default_rng(5), 2.0)
    monkeypatch.setattr(data, "BAND_SIDE_ODDS", (1.0, 0.0, 0.0))
    monkeypatch.setattr(data, "BAND_OFFSET", (-0.3, -0.3))
    banded = data.body_example(film, 0, 48, np.random.default_rng(5), 2.0, edge_band_rate=1.0)
    # Same random draws before the band: the landmark targets are the true corners either way.
    assert np.allclose(plain["landmarks"], banded["landmarks"])
    # A 30 % cut of the body's width leaves about 70 % of its mask as the target.
    assert banded["mask"].sum() == pytest.approx(0.7 * plain["mask"].sum(), rel=0.08)

"""Preprocessing: exact inverses, clipping, CLAHE/z-score, crops."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.models.preprocess import (PreprocessError, crop_matrix, extract_crop, letterbox,
                                         normalise_unit, prepare_film)


def test_letterbox_maps_points_both_ways_exactly() -> None:
    img = np.random.default_rng(0).random((300, 180)).astype(np.float32)
    for flip in (False, True):
        _, tf = prepare_film(img, 64, flip=flip)
        pts = np.array([[0.0, 0.0], [179.0, 299.0], [37.25, 101.5]])
        assert np.allclose(tf.to_source(tf.to_input(pts)), pts, atol=1e-9)


def test_letterbox_geometry_hand_computed() -> None:
    # 200 rows x 100 cols into 100 px: scale 0.5, content 100 x 50 centred at x offset 25.
    canvas, tf = letterbox(np.ones((200, 100), np.float32), 100)
    assert tf.scale_x == 0.5 and tf.scale_y == 0.5 and tf.offset_x == 25 and tf.offset_y == 0
    assert tf.content_box == (0, 25, 100, 75)
    assert canvas[:, :25].max() == 0 and canvas[:, 25:75].min() == 1
    # Source pixel centre (0, 0) covers input [25, 25.5) x [0, 0.5): its centre is 25.25 - 0.5 + .5
    assert np.allclose(tf.to_input(np.array([0.0, 0.0])), [24.75, -0.25])


def test_flip_mirrors_points() -> None:
    _, tf = letterbox(np.ones((100, 100), np.float32), 100, flip=True)
    assert np.allclose(tf.to_input(np.array([0.0, 10.0])), [99.0, 10.0])


def test_normalise_clips_top_percent_and_rejects_constant() -> None:
    img = np.zeros((100, 100), np.float32)
    img[:, 50:] = 1.0
    img[0, :5] = 1000.0  # a marker: the top 1 % must not flatten the rest
    unit = normalise_unit(img)
    assert unit[50, 60] == pytest.approx(1.0) and unit[50, 10] == pytest.approx(0.0)
    with pytest.raises(PreprocessError):
        normalise_unit(np.ones((10, 10)))


def test_prepare_film_is_zscored_over_content() -> None:
    img = np.random.default_rng(1).random((120, 80)).astype(np.float32)
    x, tf = prepare_film(img, 64)
    top, left, bottom, right = tf.content_box
    content = x[top:bottom, left:right]
    assert abs(content.mean()) < 1e-4 and content.std() == pytest.approx(1.0, abs=1e-3)


def test_crop_transform_round_trip_and_orientation() -> None:
    img = np.zeros((200, 200), np.float32)
    img[90:110, 60:80] = 1.0  # bright square left of centre
    m = crop_matrix(np.array([100.0, 100.0]), 0.0, 100.0, 50, flip=True)
    crop, tf = extract_crop(img, m, 50)
    pts = np.array([[70.0, 100.0], [5.0, 190.0]])
    assert np.allclose(tf.to_source(tf.to_crop(pts)), pts)
    # Mirrored: the square (source x 60..80) lands right of the crop centre.
    assert crop[:, 30:].mean() > crop[:, :20].mean()
    # Rotation by 90 degrees takes the source +x axis onto crop -y... check one point exactly.
    m90 = crop_matrix(np.array([100.0, 100.0]), np.pi / 2, 100.0, 50, flip=False)
    assert np.allclose(m90[:, :2] @ [1.0, 0.0], [0.0, 0.5], atol=1e-12)


def test_crop_shrinks_large_films_without_losing_registration() -> None:
    img = np.zeros((2000, 2000), np.float32)
    img[950:1050, 950:1050] = 1.0
    m = crop_matrix(np.array([1000.0, 1000.0]), 0.0, 400.0, 40, flip=False)
    crop, _ = extract_crop(img, m, 40)
    # The 100 px square is 10 crop px wide and centred.
    bright = np.argwhere(crop > crop.mean() + crop.std())
    assert np.allclose(bright.mean(axis=0), [19.5, 19.5], atol=0.6)
    assert 8 <= np.ptp(bright[:, 1]) + 1 <= 12

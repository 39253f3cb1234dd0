"""The simulator's promises: determinism, exact truth under morphometry, landmarks on contours,
non-overlapping masks, mirrored anatomy for patients facing right."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vcfviewer.core.annotation import FractureType, Grade
from vcfviewer.core.morphometry import measure_study
from vcfviewer.synth import SynthError, SynthOptions, simulate

FAST = SynthOptions(spacing_mm=0.6)


@pytest.fixture(scope="module")
def studies() -> list:
    return [simulate(seed, FAST) for seed in range(30)]


def test_same_seed_same_arrays() -> None:
    a, b = simulate(7, FAST), simulate(7, FAST)
    assert np.array_equal(a.radiograph.pixels, b.radiograph.pixels)
    assert np.array_equal(a.label_map, b.label_map)
    for fa, fb in zip(a.annotation.findings, b.annotation.findings):
        assert fa == fb
    c = simulate(8, FAST)
    assert a.radiograph.pixels.shape != c.radiograph.pixels.shape or not np.array_equal(
        a.radiograph.pixels, c.radiograph.pixels)


def test_options_change_the_film() -> None:
    base = simulate(3, FAST)
    other = simulate(3, replace(FAST, spacing_mm=0.8))
    assert other.radiograph.pixels.shape[0] < base.radiograph.pixels.shape[0]
    assert other.radiograph.spacing_mm == (0.8, 0.8)


def test_bad_options_and_seed_are_refused() -> None:
    with pytest.raises(SynthError, match="fracture_rate"):
        SynthOptions(fracture_rate=1.5)
    with pytest.raises(SynthError, match="spacing_mm"):
        SynthOptions(spacing_mm=0.0)
    with pytest.raises(SynthError, match="top_levels"):
        SynthOptions(top_levels=("C3",))
    with pytest.raises(SynthError, match="seed"):
        simulate(-1, FAST)


def test_truth_grade_is_what_morphometry_measures(studies: list) -> None:
    fractured = 0
    for study in studies:
        measured = measure_study(study.annotation)
        for f in study.annotation.vertebrae:
            m = measured[f.finding_id]
            assert m.measurable, (study.meta["seed"], f.level, m.reason)
            assert m.measured_grade == f.grade, (study.meta["seed"], f.level, m.height_loss)
            if f.grade > Grade.NORMAL:
                fractured += 1
                assert m.measured_type == f.fracture_type
            # never within a point of a cut-off: the truth is not ambiguous
            assert min(abs(m.height_loss - c) for c in (0.20, 0.25, 0.40)) > 0.01
    assert fractured >= 10  # the default fracture rate gives plenty over 30 films


def test_every_grade_and_type_occurs(studies: list) -> None:
    seen = {(int(f.grade), f.fracture_type) for s in studies for f in s.annotation.vertebrae}
    assert {g for g, _ in seen} == {0, 1, 2, 3}
    assert {t for _, t in seen} >= {FractureType.WEDGE, FractureType.BICONCAVE, FractureType.CRUSH}


def test_landmarks_lie_on_their_body_contour(studies: list) -> None:
    """Within 1 px of the mask's outline: the 3×3 pixels around each landmark hold both the body
    and something else."""
    for study in studies[:12]:
        for k, f in enumerate(study.annotation.findings, start=1):
            if f.landmarks is None:
                continue
            body = study.label_map == k
            for x, y in f.landmarks:
                r, c = int(round(y)), int(round(x))
                block = body[max(r - 1, 0): r + 2, max(c - 1, 0): c + 2]
                assert block.any() and not block.all(), (study.meta["seed"], f.level, x, y)


def test_label_map_matches_masks_without_overlap(studies: list) -> None:
    for study in studies[:12]:
        labels = study.label_map
        assert labels.dtype == np.int16 and labels.shape == study.radiograph.pixels.shape
        covered = np.zeros(labels.shape, dtype=int)
        for k, f in enumerate(study.annotation.findings, start=1):
            full = f.mask.to_full(labels.shape)
            covered += full
            assert np.array_equal(full, labels == k), (study.meta["seed"], f.level)
        assert covered.max() <= 1
        assert labels.max() == len(study.annotation.findings)
        assert study.annotation.findings[-1].level == "S1"


def test_facing_right_mirrors_the_anatomy() -> None:
    left = simulate(5, replace(FAST, facing_left_rate=1.0))
    right = simulate(5, replace(FAST, facing_left_rate=0.0))
    cols = left.radiograph.columns
    assert left.meta["facing"] == "left" and right.meta["facing"] == "right"
    for fl, fr in zip(left.annotation.vertebrae, right.annotation.vertebrae):
        # anterior stays anatomical: it is on the image's left when facing left
        assert fl.landmark("superior_anterior")[0] < fl.landmark("superior_posterior")[0]
        assert fr.landmark("superior_anterior")[0] > fr.landmark("superior_posterior")[0]
        assert np.allclose(fr.landmarks[:, 0], cols - 1 - fl.landmarks[:, 0])
    assert np.array_equal(right.label_map, left.label_map[:, ::-1])


def test_heights_are_in_mm_with_plausible_sizes(studies: list) -> None:
    for study in studies[:10]:
        assert study.annotation.image.pixel_spacing == study.radiograph.spacing_mm
        measured = measure_study(study.annotation)
        assert measured.unit == "mm"
        for f in study.annotation.vertebrae:
            m = measured[f.finding_id]
            if f.grade == Grade.NORMAL and f.level.startswith("L"):
                assert 17.0 < m.hp < 36.0, (f.level, m.hp)


def test_bone_is_bright_and_range_is_12_bit(studies: list) -> None:
    import cv2

    brighter = []
    for study in studies[:10]:
        pixels = study.radiograph.pixels
        assert pixels.dtype == np.float32 and pixels.min() >= 0 and pixels.max() <= 4095
        assert np.array_equal(pixels, np.round(pixels))
        labels = study.label_map
        for k in range(1, int(labels.max())):  # vertebral bodies (the sacrum is last)
            body = (labels == k).astype(np.uint8)
            ring = (cv2.dilate(body, np.ones((9, 9), np.uint8)) - body).astype(bool) & (labels == 0)
            brighter.append(pixels[body > 0].mean() > pixels[ring].mean())
    # bone-bright: bodies outshine the tissue and discs right around them (overlaps aside)
    assert np.mean(brighter) > 0.85


def test_full_resolution_default_is_detector_like() -> None:
    study = simulate(11)
    rows, cols = study.radiograph.pixels.shape
    spacing = study.radiograph.spacing_mm[0]
    assert 0.1 <= spacing <= 0.2
    assert 1500 <= rows <= 3000 and cols >= 700


def test_lookalikes_are_flagged_and_graded_normal() -> None:
    """Schmorl's nodes, short bodies, physiological wedging, transitional anatomy and osteophytes
    are flagged and never fractures; their truth still agrees with morphometry."""
    from vcfviewer.core.annotation import Lookalike

    options = replace(FAST, fracture_rate=0.0, schmorl_rate=1.0, short_body_rate=1.0,
                      physiological_wedge_rate=1.0, osteophyte_rate=1.0, transitional_rate=1.0,
                      top_levels=("T11",))
    seen: set = set()
    levels: set = set()
    for seed in range(6):
        study = simulate(seed, options)
        measured = measure_study(study.annotation)
        levels |= set(study.annotation.levels)
        for f in study.annotation.vertebrae:
            seen |= f.lookalikes
            assert f.grade == Grade.NORMAL
            assert measured[f.finding_id].measured_grade == Grade.NORMAL, (seed, f.level)
    assert {Lookalike.SCHMORL_NODE, Lookalike.SHORT_BODY, Lookalike.PHYSIOLOGICAL_WEDGE,
            Lookalike.OSTEOPHYTE, Lookalike.TRANSITIONAL} <= seen
    assert "L6" in levels  # about half the transitional films have six lumbar bodies


def test_cement_goes_into_a_fractured_body() -> None:
    from vcfviewer.core.annotation import Lookalike

    options = replace(FAST, fracture_rate=1.0, cement_rate=1.0)
    study = simulate(2, options)
    cemented = [f for f in study.annotation.vertebrae if Lookalike.CEMENT in f.lookalikes]
    assert len(cemented) == 1 and cemented[0].grade > Grade.NORMAL
    k = study.annotation.findings.index(cemented[0]) + 1
    body = study.label_map == k
    others = (study.label_map > 0) & ~body
    # very bright: cement outshines every other body
    assert study.radiograph.pixels[body].mean() > study.radiograph.pixels[others].mean()


def test_the_exposed_field_is_where_the_band_is_not(studies: list) -> None:
    # Collimator and shutter bands are painted with one value (black, or a light grey for
    # lead), burned-in text aside; the exposed field is their complement, in the image's
    # orientation (facing right mirrors it with the anatomy).
    banded = 0
    for study in studies:
        exposed, pixels = study.exposed, study.radiograph.pixels
        assert exposed.shape == pixels.shape and exposed.dtype == bool
        if not exposed.all():
            banded += 1
            values, counts = np.unique(pixels[~exposed], return_counts=True)
            band = values[np.argmax(counts)]
            assert counts.max() >= 0.8 * counts.sum() and (band == 0 or band >= 0.8 * 4095)
            assert (pixels[exposed] == band).mean() < 0.5
            assert exposed[pixels.shape[0] // 2, pixels.shape[1] // 2]
    assert banded >= 1  # the fixture's films include a collimated one

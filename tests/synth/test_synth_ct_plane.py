"""Simulated sagittal CT planes: geometry of a reformat, HU, exact truth, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.core import levels
from vcfviewer.core.image import SpacingSource
from vcfviewer.core.morphometry import measure_study
from vcfviewer.core.reformat import BONE_WINDOW
from vcfviewer.synth import SynthError, SynthOptions
from vcfviewer.synth.ct import simulate_ct_plane


@pytest.fixture(scope="module")
def planes() -> list:
    return [simulate_ct_plane(seed) for seed in range(8)]


def test_plane_is_a_ct_reformat(planes: list) -> None:
    for st in planes:
        r, meta = st.radiograph, st.meta
        p, s = meta["pixel_mm"], meta["slice_mm"]
        assert r.spacing_mm == (p, p) and r.spacing_source is SpacingSource.VOLUME
        assert r.window == BONE_WINDOW and r.patient.modality == "CT"
        assert r.pixels.dtype == np.float32
        assert 0.5 <= p <= 1.0 and 0.6 <= s <= 5.0
        # a reformat of n slices s mm apart has floor((n - 1)·s/p) + 1 rows of p mm
        rows = r.rows
        assert (rows - 1) * p <= (meta["slices"] - 1) * s + 1e-6 < rows * p
        ref = st.annotation.image
        assert (ref.rows, ref.columns) == r.pixels.shape and ref.pixel_spacing == (p, p)
        assert ref.modality == "CT" and ref.plane_index is None and ref.plane_count is None


def test_orientation_and_level_order(planes: list) -> None:
    for st in planes:
        vertebrae = st.annotation.vertebrae
        for f in vertebrae:
            lm = f.landmarks
            # facing left: anterior landmarks at smaller x; superior ones at smaller rows
            assert np.all(lm[[0, 3], 0] < lm[[2, 5], 0]), (st.meta["seed"], f.level)
            assert np.all(lm[:3, 1] < lm[3:, 1]), (st.meta["seed"], f.level)
            assert f.plane_index is None
        centres = [f.centre()[1] for f in st.annotation.findings]
        assert centres == sorted(centres)
        names = st.annotation.levels
        assert names == levels.sort_levels(names)
        column = [lv for lv in levels.ALL_LEVELS if lv != "T13" and (lv != "L6" or lv in names)]
        idx = [column.index(n) for n in names if n != "S1"]
        assert idx == list(range(idx[0], idx[0] + len(idx))), names  # no gap in the numbering


def test_hounsfield_units(planes: list) -> None:
    for st in planes:
        px, labels = st.radiograph.pixels, st.label_map
        if st.meta["truncated_at_x"] is None:
            # in front of the patient: air (plus noise)
            assert abs(float(np.median(px[:, :5])) + 1000.0) < 30.0
        bone = px[labels > 0]
        # cancellous bone 40–250 HU in a denser shell: the sections read bone, not soft tissue
        assert 40.0 < float(np.median(bone)) < 450.0, st.meta["seed"]
        assert float(np.percentile(px, 99.9)) > 300.0


def test_truth_masks_are_the_label_map(planes: list) -> None:
    for st in planes:
        labels = st.label_map
        assert labels.dtype == np.int16 and labels.shape == st.radiograph.pixels.shape
        assert set(np.unique(labels)) <= set(range(len(st.annotation.findings) + 1))
        for k, f in enumerate(st.annotation.findings, start=1):
            assert np.array_equal(f.mask.to_full(labels.shape), labels == k)
            if f.landmarks is not None:
                assert np.all(f.landmarks >= 0)
                assert np.all(f.landmarks[:, 1] <= labels.shape[0] - 1)


def test_truth_grades_are_what_morphometry_measures(planes: list) -> None:
    for st in planes:
        measured = measure_study(st.annotation)
        for f in st.annotation.vertebrae:
            m = measured[f.finding_id]
            assert m.measurable and m.measured_grade == f.grade, (st.meta["seed"], f.level)


def test_off_midline_sections_are_smaller() -> None:
    mid = simulate_ct_plane(5, offset_mm=0.0, pixel_mm=0.8, slice_mm=2.0)
    half = min(mid.meta["half_widths_mm"][lv] for lv in ("L2", "L3", "L4") if lv in mid.meta["half_widths_mm"])
    side = simulate_ct_plane(5, offset_mm=0.75 * half, pixel_mm=0.8, slice_mm=2.0)
    for level in ("L3", "L4"):
        a, b = mid.annotation.by_level(level), side.annotation.by_level(level)
        assert a is not None and b is not None
        assert b.mask.area < 0.97 * a.mask.area
        # the landmarks stay the body's mid-sagittal ones wherever the plane cuts it (the
        # field of view may start elsewhere: the same points up to one shift)
        shift = a.landmarks - b.landmarks
        assert np.allclose(shift, shift[0], atol=1e-6)
    assert abs(side.meta["offset_mm"] - 0.75 * half) < 1e-3


def test_same_arguments_same_plane_and_arguments_matter() -> None:
    a = simulate_ct_plane(11, offset_mm=4.0, pixel_mm=0.9, slice_mm=3.0)
    b = simulate_ct_plane(11, offset_mm=4.0, pixel_mm=0.9, slice_mm=3.0)
    assert np.array_equal(a.radiograph.pixels, b.radiograph.pixels)
    assert np.array_equal(a.label_map, b.label_map)
    assert all(fa == fb for fa, fb in zip(a.annotation.findings, b.annotation.findings))
    c = simulate_ct_plane(11, offset_mm=-4.0, pixel_mm=0.9, slice_mm=3.0)
    assert not np.array_equal(a.radiograph.pixels, c.radiograph.pixels)
    assert a.meta["slice_mm"] == 3.0 and a.meta["pixel_mm"] == 0.9


def test_thick_slices_blur_along_si_only() -> None:
    thin = simulate_ct_plane(3, offset_mm=0.0, pixel_mm=0.8, slice_mm=0.75)
    thick = simulate_ct_plane(3, offset_mm=0.0, pixel_mm=0.8, slice_mm=5.0)

    def sharpness(px: np.ndarray, axis: int) -> float:
        return float(np.percentile(np.abs(np.diff(np.clip(px, -200, 1200), axis=axis)), 99))

    # 5 mm slices smear edges along the rows (SI) far more than across (AP)
    assert sharpness(thick.radiograph.pixels, 0) < 0.6 * sharpness(thin.radiograph.pixels, 0)
    assert sharpness(thick.radiograph.pixels, 1) > 0.6 * sharpness(thin.radiograph.pixels, 1)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(SynthError, match="seed"):
        simulate_ct_plane(-1)
    with pytest.raises(SynthError, match="pixel_mm"):
        simulate_ct_plane(0, pixel_mm=0.0)
    with pytest.raises(SynthError, match="slice_mm"):
        simulate_ct_plane(0, slice_mm=50.0)
    with pytest.raises(SynthError, match="offset_mm"):
        simulate_ct_plane(0, offset_mm=float("nan"))


def test_options_reach_the_ct_column() -> None:
    healthy = simulate_ct_plane(2, SynthOptions(fracture_rate=0.0), pixel_mm=1.0, slice_mm=3.0)
    assert all(f.grade == 0 for f in healthy.annotation.findings)

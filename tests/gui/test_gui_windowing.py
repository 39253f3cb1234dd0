"""Window/level rules as plain maths (hand-computed expectations)."""

from __future__ import annotations

import pytest

from vcfviewer.core.image import Window
from vcfviewer.gui.viewer import windowing as w


def test_drag_right_by_one_doubling_doubles_the_width() -> None:
    out = w.drag_window(Window(1000.0, 400.0), dx=200.0, dy=0.0, data_range=(0.0, 4095.0))
    assert (out.center, out.width) == pytest.approx((1000.0, 800.0))


def test_drag_down_raises_the_level_by_width_per_250_pixels() -> None:
    out = w.drag_window(Window(1000.0, 400.0), dx=0.0, dy=125.0, data_range=(0.0, 4095.0))
    assert (out.center, out.width) == pytest.approx((1200.0, 400.0))  # 125/250 × 400


def test_drag_is_clamped_to_reach_of_the_data() -> None:
    narrow = w.drag_window(Window(100.0, 1.0), dx=-10_000.0, dy=0.0, data_range=(0.0, 1000.0))
    assert narrow.width == pytest.approx(1000.0 * w.MIN_WIDTH_FRACTION)
    wide = w.drag_window(Window(100.0, 1000.0), dx=10_000.0, dy=0.0, data_range=(0.0, 1000.0))
    assert wide.width == pytest.approx(4000.0)
    high = w.drag_window(Window(100.0, 1000.0), dx=0.0, dy=1e6, data_range=(0.0, 1000.0))
    assert high.center == pytest.approx(2000.0)  # max + one span


def test_presets_resolve_against_header_and_range() -> None:
    header = Window(40.0, 400.0)
    assert w.resolve_preset(w.DEFAULT, header, (-1024.0, 3071.0)) == header
    assert w.resolve_preset(w.BONE, header, (-1024.0, 3071.0)) == Window(400.0, 1800.0)
    full = w.resolve_preset(w.FULL_RANGE, header, (-1024.0, 3071.0))
    assert (full.low, full.high) == pytest.approx((-1024.0, 3071.0))
    assert [p.key for p in w.presets_for(True)] == ["default", "bone", "soft", "full"]
    assert [p.key for p in w.presets_for(False)] == ["default", "full"]


def test_half_resolution_is_the_two_by_two_block_mean() -> None:
    import numpy as np

    from vcfviewer.gui.viewer.display_pyramid import half_resolution

    pixels = np.arange(15, dtype=np.float32).reshape(3, 5)
    # rows 0-1 only (odd last row dropped); blocks [0,1,5,6] and [2,3,7,8]; column 4 dropped
    assert half_resolution(pixels).tolist() == [[3.0, 5.0]]


def test_pyramid_levels_switch_with_hysteresis() -> None:
    import numpy as np

    from vcfviewer.gui.viewer.display_pyramid import DisplayPyramid

    small = DisplayPyramid.build(np.zeros((100, 100), dtype=np.float32))
    assert small.half is None and small.level_for(0.1, current=0) == 0
    big = DisplayPyramid.build(np.zeros((2001, 2000), dtype=np.float32))
    assert big.half.shape == (1000, 1000) and big.extent(1) == (2000.0, 2000.0)
    assert big.level_for(0.40, current=0) == 1 and big.level_for(0.50, current=0) == 0
    assert big.level_for(0.50, current=1) == 1 and big.level_for(0.60, current=1) == 0

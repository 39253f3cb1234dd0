"""Elderly flat or kyphotic lumbar spines (``SynthOptions.flat_back_rate``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vcfviewer.synth import SynthError, SynthOptions, simulate
from vcfviewer.synth.anatomy import _disc, plan_column

LEVELS = ["T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]


def test_rate_zero_draws_nothing_so_earlier_seeds_keep_their_column() -> None:
    for seed in range(20):
        a = plan_column(np.random.default_rng(seed), LEVELS)
        b = plan_column(np.random.default_rng(seed), LEVELS, 0.0)
        assert a == b and 25.0 <= a.meta["lordosis_deg"] <= 70.0


def test_a_flat_back_has_little_or_reversed_lordosis_over_a_retroverted_pelvis() -> None:
    columns = [plan_column(np.random.default_rng(seed), LEVELS, 1.0) for seed in range(200)]
    for c in columns:
        lordosis, slope = c.meta["lordosis_deg"], c.sacral_slope_deg
        assert 10.0 <= slope <= 30.0 and -15.0 <= lordosis <= 25.0
        assert slope - 25.0 - 1e-9 <= lordosis <= slope  # the trunk leans forward ≤ 25°
    kyphotic = [c for c in columns if c.meta["lordosis_deg"] < -5.0]
    assert kyphotic, "some columns should be kyphotic"
    for c in kyphotic:  # the lumbar discs are then taller at the back
        lumbar = [d for b, d in zip(c.bodies, c.discs) if b.level.startswith("L")]
        assert sum(d.posterior - d.anterior for d in lumbar) > 0


def test_a_disc_wedged_backwards_is_lifted_whole_keeping_its_wedge() -> None:
    # depth 35 mm at -10°: spread = 35 tan(-10°) = -6.17 mm; a mean of 8.5-10.5 mm (L2's table,
    # scale 1) minus half of it is above the 1.5 mm floor, so nothing is lifted...
    rng = np.random.default_rng(0)
    disc = _disc("L2", rng, 35.0, 1.0, 0.0, -10.0)
    assert disc.posterior - disc.anterior == pytest.approx(35.0 * math.tan(math.radians(10.0)))
    # ...but at -40° (spread -29.4 mm) the front would go below the floor: both sides are lifted.
    disc = _disc("L2", np.random.default_rng(0), 35.0, 1.0, 0.0, -40.0)
    assert disc.anterior == pytest.approx(1.5)
    assert disc.posterior - disc.anterior == pytest.approx(35.0 * math.tan(math.radians(40.0)))


def test_the_rate_is_checked_and_a_flat_back_film_renders() -> None:
    with pytest.raises(SynthError, match="flat_back_rate"):
        SynthOptions(flat_back_rate=1.5)
    study = simulate(3, SynthOptions(spacing_mm=0.6, flat_back_rate=1.0))
    assert len(study.annotation.vertebrae) >= 3

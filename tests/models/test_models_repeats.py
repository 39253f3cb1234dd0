"""One vertebral body read twice: the partial reading is dropped and the column renumbered."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.core.annotation import BodyMask
from vcfviewer.models.postprocess import FilmParse
from vcfviewer.models.repeats import (drop_repeats, overlap_share, repeated_readings, restored,
                                      without_readings)

from models_filmcolumn import film_body, film_column


def _mask(top: int, left: int, rows: int, cols: int) -> BodyMask:
    return BodyMask(top, left, np.ones((rows, cols), bool))


def test_overlap_share_is_taken_over_the_smaller_mask() -> None:
    a = _mask(0, 0, 10, 10)  # 100 px
    b = _mask(5, 5, 10, 20)  # 200 px; shares rows 5-9, columns 5-9 with a: 25 px
    assert overlap_share(a, b) == pytest.approx(25 / 100)
    assert overlap_share(b, a) == pytest.approx(0.25)
    assert overlap_share(a, _mask(10, 0, 10, 10)) == 0.0  # edge to edge: no shared pixel
    holed = BodyMask(0, 0, np.zeros((10, 10), bool))
    assert overlap_share(a, holed) == 0.0


def test_a_reading_inside_another_repeats_it_and_the_vaguer_one_goes() -> None:
    whole = _mask(0, 0, 40, 30)  # 1200 px
    partial = _mask(20, 0, 20, 30)  # 600 px, wholly inside: share 1.0
    below = _mask(38, 0, 40, 30)  # touches the partial on rows 38-39: 60 / 600 = 0.10
    # Mean landmark spreads 8 (sharp) and 15 (diffuse): the diffuse reading is dropped.
    assert repeated_readings([whole, partial, below], [8.0, 15.0, 6.0]) == {1: 0}
    # Held-out 900181: the sharper reading had the smaller mask; it is kept all the same.
    assert repeated_readings([whole, partial, below], [12.9, 9.8, 6.0]) == {0: 1}


def test_neighbours_that_touch_are_two_bodies() -> None:
    spreads = [8.0, 9.0, 10.0]
    # 6 of 40 rows shared: 180 / 1200 = 0.15, under the 0.2 limit (validation: <= 0.16).
    assert repeated_readings([_mask(0, 0, 40, 30), _mask(34, 0, 40, 30)], spreads) == {}
    # 0.2 exactly (8 rows) is one body read twice; a missing mask is never a repeat.
    assert repeated_readings([_mask(0, 0, 40, 30), _mask(32, 0, 40, 30)], spreads) == {1: 0}
    assert repeated_readings([_mask(0, 0, 40, 30), None, _mask(0, 0, 40, 30)], spreads) == {}


def test_a_second_look_yields_to_the_film_networks_own_reading() -> None:
    whole, partial = _mask(0, 0, 40, 30), _mask(20, 0, 20, 30)
    # The second look's reading is the sharper (8 against 15) and still goes.
    assert repeated_readings([whole, partial], [15.0, 8.0], [False, True]) == {1: 0}
    assert repeated_readings([whole, partial], [15.0, 8.0], [True, True]) == {0: 1}


def test_a_neighbour_a_second_look_took_pixels_from_is_made_whole_again() -> None:
    # The gap probe read rows 51-57 of a normal body (rows 51-69) as a flat body and took them:
    # the film network's body was left with rows 58-69. Both readings are one body.
    whole = film_body(slice(51, 70))
    probe = film_body(slice(51, 58), second_look=True)
    rest = film_body(slice(58, 70), before=whole)
    parse = film_column([slice(6, 18), slice(21, 33), slice(36, 48), probe, rest])
    assert parse.levels == ("L1", "L2", "L3", "L4", "L5")
    out = restored(parse, {3: 4})
    assert out.bodies[-1] is whole and len(out.bodies) == 4
    assert out.levels == ("L2", "L3", "L4", "L5")
    assert out.flags[-1].startswith("L5: one body read twice")
    # Not when the film network's own body is the one dropped, or it was never cut.
    assert restored(parse, {4: 3}) is None
    assert restored(film_column([slice(6, 18), probe, whole]), {1: 2}) is None


def test_dropping_a_repeat_renumbers_the_levels_above_it() -> None:
    # Five readings; the fourth and fifth are one body (the fifth its lower half).
    parse = film_column([slice(6, 18), slice(21, 33), slice(36, 48), slice(51, 70), slice(60, 70)])
    assert parse.levels == ("L1", "L2", "L3", "L4", "L5")
    hidden = "L2: a flattened body the film network missed; check it and the levels above it"
    parse = FilmParse(parse.bodies, parse.sacrum, parse.levels, parse.flags + (hidden,))
    out = without_readings(parse, {4: 3})
    assert out.levels == ("L2", "L3", "L4", "L5")
    assert [b.centre[1] for b in out.bodies] == pytest.approx([11.5, 26.5, 41.5, 60.0])
    # The hidden body's note follows its body (L2 → L3); the numbering's own notes are
    # remade for the new column; the repeat is named by the kept body's new level.
    assert out.flags[-2] == "L3: a flattened body the film network missed; check it and the " \
                            "levels above it"
    assert out.flags[-1] == "L5: one body read twice; the less certain reading was dropped " \
                            "and the levels above renumbered; check the levels"
    assert without_readings(parse, {}) is parse


def test_a_note_about_the_dropped_reading_goes_with_it() -> None:
    # The hidden body (L4) was the upper half of L5: dropped, and its note with it.
    parse = film_column([slice(6, 18), slice(21, 33), slice(36, 48), slice(51, 60), slice(51, 70)])
    hidden = "L4: a flattened body the film network missed; check it and the levels above it"
    parse = FilmParse(parse.bodies, parse.sacrum, parse.levels, parse.flags + (hidden,))
    out = without_readings(parse, {3: 4})
    assert out.levels == ("L2", "L3", "L4", "L5")
    assert not any("flattened" in f for f in out.flags)
    assert out.flags[-1].startswith("L5: one body read twice")


def test_drop_repeats_keeps_the_network_outputs_in_step_with_the_column() -> None:
    parse = film_column([slice(6, 18), slice(21, 33), slice(28, 33), slice(36, 48)])
    body_out = {"landmarks": np.arange(4 * 6 * 2, dtype=float).reshape(4, 6, 2),
                "landmark_spread": np.array([[8.0] * 6, [8.0] * 6, [20.0] * 6, [8.0] * 6]),
                "fracture": np.array([0.1, 0.2, 0.3, 0.4])}
    tfs = ["tf0", "tf1", "tf2", "tf3"]
    masks = [_mask(6, 50, 12, 16), _mask(21, 50, 12, 16), _mask(28, 50, 5, 16),
             _mask(36, 50, 12, 16)]
    out, kept_tfs, kept, kept_masks = drop_repeats(parse, tfs, body_out, masks)
    assert out.levels == ("L3", "L4", "L5")
    assert kept_tfs == ["tf0", "tf1", "tf3"]
    assert kept["fracture"].tolist() == [0.1, 0.2, 0.4]
    assert kept["landmarks"].shape == (3, 6, 2)
    assert kept_masks == [masks[0], masks[1], masks[3]]
    same = drop_repeats(parse, tfs, body_out, masks[:2] + [None] + masks[3:])
    assert same[0] is parse and same[1] is tfs and same[2] is body_out


@pytest.mark.slow
def test_a_tilted_body_read_twice_is_counted_once() -> None:
    """Simulated film 900181 (held-out set): the film network finds two centres on its tilted
    L5; the column must come out as the truth's, the note saying why."""
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.synth.simulate import simulate

    study = simulate(900181)
    proposal = Analyzer("vcf-lateral", device="cpu").analyze_sync(study.radiograph)
    assert [f.level for f in proposal.annotation.findings] == \
        [f.level for f in study.annotation.findings]
    assert any("one body read twice" in n for n in proposal.annotation.flags)

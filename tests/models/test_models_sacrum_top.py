"""The top of a flat sacrum read as L5: measured, absorbed into the sacrum, the column renumbered."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.core.annotation import BodyMask, VertebraFinding
from vcfviewer.models.sacrum_top import (NOTE_START, TOP_OF_SACRUM_LIMIT, absorb_sacrum_top,
                                         offset_below, renamed_note)

SHAPE = (200, 100)


def _body(level: str, top: float) -> VertebraFinding:
    """A 40 px deep, 30 px tall upright body from row ``top``, its mask filling the box."""
    lm = np.array([[10, top], [30, top], [50, top], [10, top + 30], [30, top + 30],
                   [50, top + 30]], float)
    full = np.zeros(SHAPE, bool)
    full[int(top):int(top) + 31, 10:51] = True
    return VertebraFinding(level=level, landmarks=lm, mask=BodyMask.from_full(full))


def _sacrum(centre_row: int) -> VertebraFinding:
    """A 10 × 10 px sacrum scrap on rows centre_row - 5 … centre_row + 4 (mean row centre_row - 0.5)."""
    full = np.zeros(SHAPE, bool)
    full[centre_row - 5:centre_row + 5, 25:35] = True
    return VertebraFinding(level="S1", landmarks=None, mask=BodyMask.from_full(full))


def test_the_sacrum_is_measured_below_the_body_centre_in_body_heights() -> None:
    body = _body("L5", 100.0)  # centre row 115, height 30
    # Sacrum pixels rows 140-149: centre 144.5; (144.5 - 115) / 30 = 0.9833.
    assert offset_below(body, _sacrum(145)) == pytest.approx(0.98333, abs=1e-4)
    # Rows 119-128: centre 123.5; 8.5 / 30 = 0.2833.
    assert offset_below(body, _sacrum(124)) == pytest.approx(0.28333, abs=1e-4)
    flat = VertebraFinding(level="L5", landmarks=np.zeros((6, 2)))  # collapsed: no frame
    assert offset_below(flat, _sacrum(124)) is None


def test_a_body_sitting_on_the_sacrum_joins_it_and_the_column_moves_one_down() -> None:
    column = [_body("L3", 20.0), _body("L4", 60.0), _body("L5", 100.0)]
    sacrum = _sacrum(124)  # 0.28 < 0.75
    bodies, joined, note = absorb_sacrum_top(column, sacrum, SHAPE)
    assert [b.level for b in bodies] == ["L4", "L5"]
    assert [b.finding_id for b in bodies] == [column[0].finding_id, column[1].finding_id]
    # Union: the 41 × 31 box of the old L5 (1271 px) already holds the 100 px scrap.
    assert joined.level == "S1" and joined.mask.area == 41 * 31
    assert note.startswith(f"{NOTE_START} the body numbered L5 sits on the sacrum (the sacrum's "
                           "centre 0.28 of its height below its centre")


def test_a_body_above_the_sacrum_is_left_alone() -> None:
    column = [_body("L4", 60.0), _body("L5", 100.0)]
    sacrum = _sacrum(145)  # 0.98: a disc between them
    assert 0.98 > TOP_OF_SACRUM_LIMIT
    assert absorb_sacrum_top(column, sacrum, SHAPE) == (column, sacrum, None)
    assert absorb_sacrum_top(column, None, SHAPE) == (column, None, None)
    # A scrap above the body's centre (rows 105-114: (109.5 - 115) / 30 = -0.18) is no sacrum
    # under the body: nothing is read from it.
    scrap = _sacrum(110)
    assert offset_below(column[1], scrap) == pytest.approx(-0.18333, abs=1e-4)
    assert absorb_sacrum_top(column, scrap, SHAPE) == (column, scrap, None)
    assert absorb_sacrum_top([], sacrum, SHAPE) == ([], sacrum, None)


def test_notes_move_their_level_names_one_down_in_one_pass() -> None:
    assert renamed_note("gap between L3 and L4 is 1.6x the spacing") == \
        "gap between L4 and L5 is 1.6x the spacing"
    assert renamed_note("T11, T12 cut at the image edge: not measured") == \
        "T12, L1 cut at the image edge: not measured"
    assert renamed_note("L5: outline uncertain") == "S1: outline uncertain"


@pytest.mark.slow
def test_a_flat_back_film_whose_sacral_top_looked_like_l5_is_numbered_right() -> None:
    """Simulated flat-back film 970030 (held-out flat-back set): the networks draw its first
    sacral segment as "L5"; the column must come out as the truth's, the note saying why."""
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.synth.options import SynthOptions
    from vcfviewer.synth.simulate import simulate

    study = simulate(970030, SynthOptions(flat_back_rate=1.0))
    proposal = Analyzer("vcf-lateral", device="cpu").analyze_sync(study.radiograph)
    assert [f.level for f in proposal.annotation.findings] == \
        [f.level for f in study.annotation.findings]
    assert any(n.startswith(NOTE_START) for n in proposal.annotation.flags)

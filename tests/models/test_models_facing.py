"""Which way the patient faces: the model's call, the reader's override, the flags."""

from __future__ import annotations

import pytest
import torch

from vcfviewer.models.facing import decide_facing, facing_flags, other_side
from vcfviewer.models.inference import Analyzer, build_networks

from models_boxfilm import box_study
from test_models_inference import SPEC, _card


def test_auto_follows_the_probe_and_a_confident_call_says_nothing() -> None:
    call = decide_facing(0.97)
    assert call.faces_right and call.side == "right" and not call.by_reader
    assert facing_flags(call) == []
    assert decide_facing(0.03).side == "left" and facing_flags(decide_facing(0.03)) == []


def test_an_unsure_probe_is_flagged_with_the_way_out() -> None:
    # web-lateral-2 (faces left) gives P(faces right) 0.23: analysed facing left, flagged.
    flags = facing_flags(decide_facing(0.23))
    assert len(flags) == 1
    assert flags[0].startswith("facing uncertain (P(faces right) 0.23): analysed facing left")
    assert "faces right" in flags[0]


def test_the_readers_side_wins_and_says_whether_the_model_agreed() -> None:
    call = decide_facing(0.0, "right")
    assert call.faces_right and call.by_reader and call.model_side == "left"
    assert facing_flags(call) == ["analysed facing right, as the reader asked (the model read "
                                  "facing left, P(faces right) 0.00)"]
    assert "the model agreed" in facing_flags(decide_facing(0.9, "right"))[0]
    assert other_side("left") == "right" and other_side("right") == "left"


def test_an_unknown_side_is_refused() -> None:
    with pytest.raises(ValueError, match="facing must be one of auto, left, right"):
        decide_facing(0.5, "up")


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_analyzer_reads_the_film_the_way_the_reader_says(side: str) -> None:
    torch.manual_seed(0)
    analyzer = Analyzer.from_networks(_card(), *build_networks(SPEC))
    rad, _, _ = box_study()
    reading = analyzer.read_film(rad.pixels / rad.pixels.max(), [], side)
    assert reading.transform.flipped == (side == "right") and reading.facing.by_reader
    proposal = analyzer.analyze_sync(rad, facing=side)
    assert proposal.facing == side
    assert any(f.startswith(f"analysed facing {side}, as the reader asked")
               for f in proposal.annotation.flags)


def test_auto_records_the_side_the_model_chose() -> None:
    torch.manual_seed(0)
    analyzer = Analyzer.from_networks(_card(), *build_networks(SPEC))
    rad, _, _ = box_study()
    proposal = analyzer.analyze_sync(rad)
    assert proposal.facing in ("left", "right")
    assert not any("as the reader asked" in f for f in proposal.annotation.flags)

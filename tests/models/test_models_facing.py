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


def _box_body(level: str, left: float, top: float, width: float = 10.0, height: float = 8.0):
    """A body read facing left: anterior landmarks on its left wall, posterior on its right."""
    import numpy as np

    from vcfviewer.core.annotation import VertebraFinding

    x = [left, left + width / 2, left + width]
    points = np.array([[x[0], top], [x[1], top], [x[2], top],
                       [x[0], top + height], [x[1], top + height], [x[2], top + height]])
    return VertebraFinding(level=level, landmarks=points)


def _sacrum(rows: slice, cols: slice):
    import numpy as np

    from vcfviewer.core.annotation import BodyMask, VertebraFinding

    full = np.zeros((100, 100), bool)
    full[rows, cols] = True
    return VertebraFinding(level="S1", landmarks=None, mask=BodyMask.from_full(full))


def test_the_sacrum_offset_is_measured_along_the_lowest_bodys_depth() -> None:
    from vcfviewer.models.facing import sacrum_offset

    # L5 spans x 20-30 (width 10, centre x 25); posterior is +x for a left-facing read. A sacrum
    # of columns 28-35 (centre x 31.5) lies 6.5 px = 0.65 widths behind it; L4 above is ignored.
    bodies = [_box_body("L4", 18, 20), _box_body("L5", 20, 32)]
    assert sacrum_offset(bodies + [_sacrum(slice(44, 54), slice(28, 36))]) == ("L5", 0.65)
    # Columns 12-19 (centre x 15.5): 9.5 px = 0.95 widths in front of it.
    assert sacrum_offset(bodies + [_sacrum(slice(44, 54), slice(12, 20))]) == ("L5", -0.95)
    assert sacrum_offset(bodies) is None  # no sacrum found


def test_a_sacrum_in_front_of_the_lowest_body_raises_a_facing_doubt() -> None:
    from vcfviewer.models.facing import SACRUM_IN_FRONT_LIMIT, anatomy_flags

    bodies = [_box_body("L4", 18, 20), _box_body("L5", 20, 32)]
    behind = bodies + [_sacrum(slice(44, 54), slice(28, 36))]  # +0.65
    in_front = bodies + [_sacrum(slice(44, 54), slice(12, 20))]  # -0.95
    slightly = bodies + [_sacrum(slice(44, 54), slice(19, 27))]  # centre 22.5: -0.25
    assert SACRUM_IN_FRONT_LIMIT < -0.25
    assert anatomy_flags(behind, "left") == [] and anatomy_flags(slightly, "left") == []
    assert anatomy_flags(in_front, "left") == [
        "facing uncertain: read facing left, the sacrum lies in front of L5 (0.95 of its width), "
        "not behind it; if the patient faces right, analyse the film the other way round"]


REAL = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "data" / \
    "real-lateral-unlabelled"


@pytest.mark.skipif(not REAL.is_dir(), reason="the real films (../shared) are not here")
def test_the_real_film_read_the_wrong_way_round_is_doubted() -> None:
    from vcfviewer.io.raster import load_raster_image

    analyzer = Analyzer("vcf-lateral", device="cpu")
    doubts = {name: [f for f in analyzer.analyze_sync(load_raster_image(REAL / name)).annotation.flags
                     if f.startswith("facing uncertain: read facing")]
              for name in ("web-lateral-1.png", "web-lateral-3.jpg")}
    # web-lateral-1's patient faces right; the probe reads left with P 0.00, the anatomy objects.
    assert len(doubts["web-lateral-1.png"]) == 1
    assert doubts["web-lateral-3.jpg"] == []

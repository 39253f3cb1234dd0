"""Bodies whose outline the model is unsure of: mask vs landmarks, diffuse landmarks, the note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcfviewer.core.annotation import BodyMask, VertebraFinding
from vcfviewer.models.confidence import outline_iou, outline_uncertain, uncertain_outline_note

# A 10 × 10 px body: corners (2, 2)–(11, 11), the middle landmarks on its endplates.
SQUARE = np.array([[2, 2], [6, 2], [11, 2], [2, 11], [6, 11], [11, 11]], float)
SHARP = np.full(6, 4.0)  # crop px: landmarks the network sees clearly


def _body(level: str, columns: slice) -> VertebraFinding:
    array = np.zeros((14, 14), bool)
    array[2:12, columns] = True
    return VertebraFinding(level=level, landmarks=SQUARE, mask=BodyMask(0, 0, array))


def test_outline_iou_of_a_mask_matching_its_landmarks_and_of_half_of_it() -> None:
    assert outline_iou(_body("L1", slice(2, 12))) == pytest.approx(1.0)
    # Mask on columns 2-6 (50 px) inside the 100 px quadrilateral: 50 / 100.
    assert outline_iou(_body("L1", slice(2, 7))) == pytest.approx(0.5)
    assert outline_iou(VertebraFinding(level="L1", landmarks=SQUARE)) is None


def test_a_body_is_uncertain_when_mask_and_landmarks_disagree_or_landmarks_are_diffuse() -> None:
    whole, half = _body("L1", slice(2, 12)), _body("L2", slice(2, 7))
    assert not outline_uncertain(whole, SHARP)
    assert outline_uncertain(half, SHARP)  # IoU 0.5 < 0.75
    assert outline_uncertain(whole, np.array([4.0, 4, 4, 4, 4, 47]))  # mean 11.17 > 11
    assert not outline_uncertain(whole, np.array([4.0, 4, 4, 4, 4, 46]))  # mean 11.0


def test_the_note_names_the_uncertain_levels_in_column_order() -> None:
    bodies = [_body("L1", slice(2, 7)), _body("L2", slice(2, 12)), _body("L3", slice(2, 12))]
    spreads = {bodies[0].finding_id: SHARP, bodies[1].finding_id: SHARP,
               bodies[2].finding_id: np.full(6, 12.0)}
    note, = uncertain_outline_note(bodies, spreads)
    assert note.startswith("L1, L3: outline uncertain")
    assert uncertain_outline_note(bodies[1:2], spreads) == []
    assert uncertain_outline_note(bodies, {}) == []  # bodies without the network's reading


def test_the_spread_reference_is_the_median_body_and_sets_the_scale() -> None:
    from vcfviewer.models.confidence import SPREAD_REFERENCE, spread_reference, spread_scale

    # Two films: bodies with mean spreads 6 and 8, and one of 10: the median body is 8.
    assert spread_reference([np.array([6.0, 8.0]), np.array([10.0])]) == 8.0
    assert spread_reference([]) == SPREAD_REFERENCE  # nothing read: the shipped scale
    assert spread_scale({}) == 1.0
    assert spread_scale({"landmark_spread_reference": 2 * SPREAD_REFERENCE}) == 0.5
    # A sharper network's spreads are read as they come, not scaled up.
    assert spread_scale({"landmark_spread_reference": SPREAD_REFERENCE / 2}) == 1.0


def test_the_edge_note_names_the_bodies_in_column_order_and_only_when_there_are_some() -> None:
    from vcfviewer.models.confidence import EDGE_MARK, edge_doubt_note

    note, = edge_doubt_note(["T11", "L5"])
    assert note.startswith(f"T11, L5: {EDGE_MARK}, where a body may be cut off: check that each")
    assert "check that it is whole" in edge_doubt_note(["L5"])[0]
    assert edge_doubt_note([]) == []


REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-lateral-unlabelled"


@pytest.mark.skipif(not REAL.is_dir(), reason="the real films (../shared) are not here")
def test_the_ragged_fragment_on_a_real_film_is_named_and_a_clean_film_has_no_note() -> None:
    from vcfviewer.io.raster import load_raster_image
    from vcfviewer.models.inference import Analyzer

    analyzer = Analyzer("vcf-lateral", device="cpu")
    notes = {name: [f for f in analyzer.analyze_sync(load_raster_image(REAL / name)).annotation.flags
                    if "outline uncertain" in f] for name in ("web-lateral-3.jpg",
                                                              "web-lateral-4.jpg")}
    assert notes["web-lateral-3.jpg"] == []
    assert len(notes["web-lateral-4.jpg"]) == 1 and notes["web-lateral-4.jpg"][0].startswith("T12:")


def test_evaluation_reads_the_named_levels_back_from_the_note() -> None:
    from vcfviewer.models.confidence import uncertain_levels

    bodies = [_body("T12", slice(2, 7)), _body("L1", slice(2, 12)), _body("L2", slice(2, 7))]
    note = uncertain_outline_note(bodies, {b.finding_id: SHARP for b in bodies})
    assert uncertain_levels(("lumbar count 4, expected 5",) + tuple(note)) == {"T12", "L2"}
    assert uncertain_levels(("T12 cut at the image edge: not measured",)) == frozenset()


def _box(level: str, top: float, heights: tuple[float, float, float],
         p: float = 0.0) -> VertebraFinding:
    """A body 40 px deep whose anterior, middle and posterior heights are ``heights`` (px)."""
    ha, hm, hp = heights
    lm = np.array([[0, top], [20, top], [40, top], [0, top + ha], [20, top + hm], [40, top + hp]],
                  float)
    return VertebraFinding(level=level, landmarks=lm, fracture_probability=p)


def _column(*heights: tuple[float, float, float], probs: tuple[float, ...] = ()) -> list:
    levels = ("T11", "T12", "L1", "L2", "L3", "L4", "L5")[-len(heights):]
    probs = probs or (0.0,) * len(heights)
    return [_box(lv, 50.0 * i, h, p) for i, (lv, h, p) in enumerate(zip(levels, heights, probs))]


def test_a_body_half_as_tall_again_as_its_normal_neighbours_is_named_with_its_ratio() -> None:
    from vcfviewer.models.confidence import tall_bodies, tall_body_note

    # L1-L5 tallest heights 30, 32, 48, 31, 30: L3 against the tallest of L1, L2, L4, L5 (32) is
    # 48 / 32 = 1.5 >= 1.4; L2 against 48 is 0.67. No other body reaches 1.4.
    column = _column((28, 29, 30), (32, 31, 30), (48, 45, 44), (31, 30, 30), (30, 29, 29))
    assert tall_bodies(column, threshold=0.5) == pytest.approx({"L3": 1.5})
    note, = tall_body_note(column, threshold=0.5)
    assert note.startswith("L3: 1.50x as tall as the tallest normal body within two levels")
    # 44.7 / 32 = 1.397: under the limit, no note.
    column[2] = _box("L3", 100.0, (44.7, 40, 40))
    assert tall_body_note(column, threshold=0.5) == []


def test_fractured_neighbours_are_no_reference_and_reach_is_two_levels() -> None:
    from vcfviewer.models.confidence import tall_bodies

    # L5 (30 px) under crushed L4 and L3 (15 px, called fractured): no normal body within two
    # places, so it is not judged; were L3 called normal, 30 / 15 = 2.0 would be named.
    heights = ((30, 30, 30), (30, 30, 30), (15, 15, 15), (15, 15, 15), (30, 30, 30))
    assert tall_bodies(_column(*heights, probs=(0.1, 0.1, 0.9, 0.9, 0.1)), 0.5) == {}
    assert tall_bodies(_column(*heights, probs=(0.1, 0.1, 0.1, 0.9, 0.1)), 0.5) == \
        pytest.approx({"L5": 2.0})
    # The sacrum and bodies without landmarks take no part.
    sacrum = VertebraFinding(level="S1", landmarks=None, mask=BodyMask(0, 0, np.ones((9, 9), bool)))
    assert tall_bodies([*_column((30, 30, 30), (30, 30, 30)), sacrum], 0.5) == {}


def test_heights_are_compared_in_millimetres_when_the_pixels_are_not_square() -> None:
    from vcfviewer.models.confidence import tall_bodies

    # L2's posterior side leans 40 px sideways over its 40 px rise: a height that mixes rows
    # and columns, so the pixel spacing changes its length relative to L1's.
    column = _column((40, 40, 40), (40, 40, 40))
    lm = column[1].landmarks.copy()
    lm[5] = lm[2] + [40.0, 40.0]  # posterior height sqrt(40² + 40²) = 56.6 px square
    column[1] = VertebraFinding(level="L2", landmarks=lm, fracture_probability=0.0)
    assert tall_bodies(column, 0.5) == pytest.approx({"L2": 56.5685 / 40}, rel=1e-4)
    # In mm: L1 40 px × 0.5 = 20 mm; L2 sqrt(40² + 20²) = 44.72 mm: 2.236.
    assert tall_bodies(column, 0.5, spacing=(0.5, 1.0)) == pytest.approx({"L2": 2.2361}, rel=1e-4)

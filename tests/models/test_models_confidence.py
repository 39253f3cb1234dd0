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

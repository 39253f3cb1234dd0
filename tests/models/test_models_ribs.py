"""The rib check (models.ribs): crop geometry, the L6 reading and the renaming it causes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from vcfviewer.core import levels as lv
from vcfviewer.core.annotation import (BodyMask, ImageRef, Provenance, StudyAnnotation,
                                       VertebraFinding)
from vcfviewer.models import ribs
from vcfviewer.models.inference import Analyzer, build_networks, build_rib_net

from models_boxfilm import box_study
from test_models_inference import _card

# A body 40 px deep (anterior wall x = 10, posterior wall x = 50) and 30 px tall (y 20-50),
# patient facing left.
BOX = np.array([[10, 20], [30, 20], [50, 20], [10, 50], [30, 50], [50, 50]], float)


def test_body_frame_of_a_box() -> None:
    centre, back, down, depth, height = ribs.body_frame(BOX)
    assert centre == pytest.approx([30, 35]) and back == pytest.approx([1, 0])
    assert down == pytest.approx([0, 1]) and (depth, height) == (40, 30)


def test_the_crop_sits_behind_the_body_at_its_scale() -> None:
    # Centre 0.6 depths behind (30 + 24 = 54) and 0.1 heights above (35 - 3 = 32) the body's
    # centre; scale 96 px over 3 depths (120 px) = 0.8.
    m = ribs.rib_crop_matrix(BOX, 96)
    to_crop = lambda xy: m[:, :2] @ np.asarray(xy, float) + m[:, 2]  # noqa: E731
    assert to_crop([54, 32]) == pytest.approx([47.5, 47.5])
    assert to_crop([64, 32]) == pytest.approx([55.5, 47.5])  # 10 px further back: 8 px right
    assert to_crop([54, 42]) == pytest.approx([47.5, 55.5])  # 10 px lower: 8 px down


def test_a_patient_facing_right_gives_the_mirror_crop() -> None:
    # Anterior wall on the right (x = 50): "behind" is now towards smaller x, still crop-right.
    mirrored = BOX.copy()
    mirrored[:, 0] = 60 - BOX[:, 0]
    m = ribs.rib_crop_matrix(mirrored, 96)
    to_crop = lambda xy: m[:, :2] @ np.asarray(xy, float) + m[:, 2]  # noqa: E731
    assert to_crop([6, 32]) == pytest.approx([47.5, 47.5])
    assert to_crop([-4, 32]) == pytest.approx([55.5, 47.5])


def test_degenerate_landmarks_are_refused() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        ribs.body_frame(np.zeros((6, 2)))


def test_crops_are_one_per_body_and_z_scored() -> None:
    rng = np.random.default_rng(0)
    unit = rng.random((200, 200)).astype(np.float32)
    crops = ribs.rib_crops(unit, [BOX + 40, BOX + 60], 32)
    assert crops.shape == (2, 32, 32)
    assert abs(float(crops[0].mean())) < 1e-4 and float(crops[0].std()) == pytest.approx(1, abs=1e-3)
    assert ribs.rib_crops(unit, [], 32).shape == (0, 32, 32)


COLUMN = ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]
RIBLESS = 1e-4  # logit -9.2: beyond the -3.5 limit (P 0.029)


def _probs(t11: float, t12: float, l1: float = 0.01) -> list[float]:
    return [t11, t12, l1, 0.01, 0.01, 0.01, 0.01]


def test_the_limit_is_a_logit_of_minus_three_and_a_half() -> None:
    # 1 / (1 + e^3.5) = 1 / 34.115 = 0.02931
    assert ribs.RIB_ABSENT == pytest.approx(1 / (1 + np.exp(3.5))) == pytest.approx(0.02931, rel=1e-3)


def test_a_ribless_t12_under_a_ribbed_body_reads_as_an_l6() -> None:
    assert ribs.read_ribs(COLUMN, _probs(0.97, RIBLESS)).l6
    assert ribs.read_ribs(COLUMN, _probs(0.6, RIBLESS)).l6


def test_a_ribless_t12_at_the_top_of_the_film_reads_as_an_l6_too() -> None:
    # Rightly numbered T12s stayed above logit -1.8 on the validation films (1.5.0).
    reading = ribs.read_ribs(COLUMN[1:], _probs(0.97, RIBLESS)[1:])
    assert reading.l6 and "the one above it" not in reading.note()
    tiny = ribs.read_ribs(COLUMN[1:], _probs(0.97, 2e-6)[1:])
    assert "(rib network P < 0.0001)" in tiny.note()


@pytest.mark.parametrize("probs", [
    _probs(0.97, 0.05),  # "T12" likely ribless, but not beyond doubt (logit -2.9)
    _probs(0.4, RIBLESS),  # the body above it looks lumbar too: something else is wrong
    _probs(0.97, RIBLESS, l1=0.06),  # "L1" may carry a rib: the column is confused
    _probs(0.97, 0.97),  # an ordinary column: T11 and T12 both carry ribs
])
def test_anything_short_of_the_whole_pattern_leaves_the_numbering(probs: list[float]) -> None:
    assert not ribs.read_ribs(COLUMN, probs).l6


def test_a_column_without_t12_or_already_with_an_l6_is_left_alone() -> None:
    assert not ribs.read_ribs(COLUMN[2:], [0.01] * 5).l6
    assert not ribs.read_ribs(["T12", "L1", "L2", "L3", "L4", "L6"], [RIBLESS] + [0.01] * 5).l6


def _column_annotation(flags: tuple[str, ...]) -> StudyAnnotation:
    findings = [VertebraFinding(level=name, landmarks=BOX + [0, 40 * i]) for i, name in
                enumerate(COLUMN)]
    sacrum = np.zeros((400, 100), bool)
    sacrum[300:330, 10:50] = True
    findings.append(VertebraFinding(level="S1", landmarks=None, mask=BodyMask.from_full(sacrum)))
    return StudyAnnotation(image=ImageRef(path="column.dcm", rows=400, columns=100,
                                          pixel_spacing=None),
                           findings=tuple(findings), flags=flags,
                           provenance=Provenance(software_version="t", model_id="tiny",
                                                 model_version="0", source="model"))


def test_renaming_moves_every_level_and_every_note_with_it() -> None:
    before = _column_annotation(("T10 cut at the image edge: not measured",
                                 "lumbar count 6, expected 5: check the numbering",
                                 "L1, L3, L5: outline uncertain (check)",
                                 "gap between T12 and L1 is 1.5x the spacing around it"))
    reading = ribs.read_ribs(COLUMN, _probs(0.97, RIBLESS))
    after = ribs.rename_l6(before, reading)
    assert after.levels == ["T12", "L1", "L2", "L3", "L4", "L5", "L6", "S1"]
    assert after.flags[:3] == ("T11 cut at the image edge: not measured",
                               "L2, L4, L6: outline uncertain (check)",
                               "gap between L1 and L2 is 1.5x the spacing around it")
    assert after.flags[3].startswith("L6 named: the body numbered T12 from the sacrum shows no "
                                     "rib (rib network P 0.0001, the one above it 0.97), so six "
                                     "lumbar-type bodies lie above the sacrum.")
    assert after.flags[3].endswith("renumbering the column up undoes the L6")
    assert not any(f.startswith("lumbar count") for f in after.flags)
    # The model proposed it; the reader has not edited anything yet.
    assert not any(f.reader_edited for f in after.findings)
    # "renumber by -1" (the note's way back) restores the sacrum-up numbering.
    assert lv.renumber(after.levels, -1) == before.levels


def _rib_card():
    card = _card()
    return replace(card, input={**card.input, "rib_size": 32, "rib_widths": [4, 8],
                                "rib_stem_stride": 2})


def test_a_model_without_a_rib_network_has_none() -> None:
    assert build_rib_net(_card().input) is None
    assert build_rib_net(_rib_card().input) is not None


def test_the_analyzer_renames_when_its_rib_network_sees_the_pattern(
        monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    card = _rib_card()
    analyzer = Analyzer.from_networks(card, *build_networks(card.input),
                                      rib=build_rib_net(card.input))
    annotation = _column_annotation(())
    monkeypatch.setattr(analyzer, "run_ribs", lambda crops: np.array(_probs(0.97, RIBLESS)))
    unit = np.random.default_rng(0).random((400, 100)).astype(np.float32)
    assert analyzer.check_ribs(unit, annotation).levels[-2:] == ["L6", "S1"]
    monkeypatch.setattr(analyzer, "run_ribs", lambda crops: np.array(_probs(0.97, 0.97)))
    assert analyzer.check_ribs(unit, annotation) is annotation
    # A body whose landmarks collapsed to a point has no frame: the check stands aside.
    collapsed = replace(annotation, findings=(annotation.findings[0].edited(
        landmarks=np.zeros((6, 2))),) + annotation.findings[1:])
    assert analyzer.check_ribs(unit, collapsed) is collapsed
    # Without the sacrum the numbering has no anchor and the check does not run.
    no_sacrum = replace(annotation, findings=annotation.vertebrae)
    assert analyzer.check_ribs(unit, no_sacrum) is no_sacrum


def test_a_real_rib_network_runs_inside_a_whole_analysis() -> None:
    torch.manual_seed(0)
    card = _rib_card()
    analyzer = Analyzer.from_networks(card, *build_networks(card.input),
                                      rib=build_rib_net(card.input))
    rad, _, _ = box_study()
    proposal = analyzer.analyze_sync(rad)
    assert proposal.annotation is not None
    probs = analyzer.run_ribs(ribs.rib_crops(np.zeros((64, 64), np.float32), [BOX], 32))
    assert probs.shape == (1,) and 0.0 <= float(probs[0]) <= 1.0


def test_an_ensemble_reads_the_mean_of_its_members_logits() -> None:
    torch.manual_seed(0)
    card = _rib_card()
    single = build_rib_net(card.input)
    pair = build_rib_net({**card.input, "rib_members": 2})
    assert len(pair.members) == 2 and type(pair.members[0]) is type(single)
    x = torch.randn(3, 1, 32, 32)
    with torch.inference_mode():
        a, b = (m.eval()(x) for m in pair.members)
        assert torch.allclose(pair.eval()(x), (a + b) / 2)
    # The analyser reads an ensemble as it reads one network: one probability per crop.
    analyzer = Analyzer.from_networks(card, *build_networks(card.input), rib=pair)
    assert analyzer.run_ribs(np.zeros((4, 32, 32), np.float32)).shape == (4,)

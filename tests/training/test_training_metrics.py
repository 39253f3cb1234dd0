"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vcfviewer.core.annotation import BodyMask
from vcfviewer.training.metrics import (Tally, auroc, column_problems, dice, high_ppv_threshold,
                                        match_bodies, weighted_kappa, youden_threshold)


def test_auroc_hand_computed_with_ties() -> None:
    # Pairs (pos, neg): (0.9 > 0.1, 0.9 > 0.5), (0.5 = 0.5 → ½, 0.5 > 0.1) → 3.5 / 4.
    assert auroc(np.array([0.9, 0.5, 0.5, 0.1]), np.array([1, 1, 0, 0])) == pytest.approx(0.875)
    assert auroc(np.array([0.2]), np.array([1])) is None


def test_thresholds() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert youden_threshold(scores, labels) == pytest.approx(0.5)
    assert high_ppv_threshold(scores, labels, min_spec=0.99) == pytest.approx(0.3, abs=1e-5)


def test_weighted_kappa() -> None:
    a = np.array([0, 1, 2, 3])
    assert weighted_kappa(a, a) == pytest.approx(1.0)
    # One rating off by one among four: observed weighted disagreement 1/4 x 1/9.
    b = np.array([0, 1, 2, 2])
    obs = (1 / 9) / 4
    row = np.array([1, 1, 1, 1]) / 4
    col = np.array([1, 1, 2, 0]) / 4
    w = (np.subtract.outer(range(4), range(4)) ** 2) / 9
    exp = (w * np.outer(row, col)).sum()
    assert weighted_kappa(a, b) == pytest.approx(1 - obs / exp)


def test_dice_of_offset_masks() -> None:
    a = BodyMask(0, 0, np.ones((4, 4), bool))
    b = BodyMask(2, 0, np.ones((4, 4), bool))
    assert dice(a, b) == pytest.approx(2 * 8 / 32)


def test_matching_and_tally_on_a_perfect_and_a_shifted_prediction() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study(fractured=("L2",))
    pairs, extra = match_bodies(truth, truth)
    assert extra == 0 and all(p.pred is p.truth for p in pairs)
    tally = Tally()
    tally.add(truth, truth, 1.0, 0.5)
    s = tally.summary(0.5)
    assert s["whole_column_correct"] == 1.0 and s["dice_mean"] == 1.0
    assert s["height_ratio_mae_points"] == 0.0 and s["genant_exact"] == 1.0
    # Shift every landmark 1 px (0.5 mm) down: still matched, the error is exactly 0.5 mm.
    moved = [replace(f, landmarks=f.landmarks + [0, 1.0]) for f in truth.vertebrae]
    tally = Tally()
    tally.add(truth, replace(truth, findings=tuple(moved)), 0.5, 0.5)
    s = tally.summary(0.5)
    assert s["landmark_error_mm_mean"] == pytest.approx(0.5)
    assert s["detection_recall"] == 1.0


def test_column_problems_name_each_wrong_body() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study()
    bodies = [f for f in truth.findings if f.level != "S1"]
    assert column_problems(truth, truth) == []
    # The top body missed, the next one named wrongly, and a copy of the lowest body (named T5)
    # moved far below the sacrum: one phrase each.
    top, second, low = bodies[0], bodies[1], bodies[-1]
    far = replace(low, landmarks=low.landmarks + [0, 10 * np.ptp(low.landmarks[:, 1])],
                  level="T5", finding_id="far")
    pred = [f for f in truth.findings if f is not top and f is not second]
    pred += [replace(second, level="T1"), far]
    problems = column_problems(truth, replace(truth, findings=tuple(pred)))
    assert problems == [f"missed {top.level}", f"{second.level} named T1",
                        "extra T5 (no body there)"]
    tally = Tally()
    tally.add(truth, replace(truth, findings=tuple(pred)), 1.0, 0.5, name="film-7")
    assert tally.column_failures == [("film-7", problems)]
    assert tally.summary(0.5)["whole_column_correct"] == 0.0


def test_whole_column_without_l6_leaves_the_l6_films_out() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study()
    # An L6 film read by the sacrum rule: its lowest lumbar body is proposed as L5 (wrong).
    lowest = truth.vertebrae[-1]
    l6_truth = replace(truth, findings=tuple(replace(f, level="L6") if f is lowest else f
                                             for f in truth.findings))
    tally = Tally()
    tally.add(truth, truth, 1.0, 0.5)  # standard film, right
    tally.add(l6_truth, truth, 1.0, 0.5)  # L6 film, wrong by design
    s = tally.summary(0.5)
    assert s["whole_column_correct"] == 0.5  # 1 of 2
    assert s["whole_column_correct_without_l6"] == 1.0  # 1 of 1


def test_facing_is_scored_against_the_truths_landmarks() -> None:
    import sys
    from pathlib import Path

    from vcfviewer.training.metrics import truth_facing

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study()
    side = truth_facing(truth)
    # Mirror every body about x = 0: anterior and posterior trade sides.
    mirrored = replace(truth, findings=tuple(
        replace(f, landmarks=f.landmarks * [-1.0, 1.0]) if f.landmarks is not None else f
        for f in truth.findings))
    other = "right" if side == "left" else "left"
    assert side in ("left", "right") and truth_facing(mirrored) == other
    doubted = replace(truth, flags=("facing uncertain (P(faces right) 0.30): analysed facing "
                                    "left; …",))
    tally = Tally()
    tally.add(truth, truth, 1.0, 0.5, facing=side)
    tally.add(truth, doubted, 1.0, 0.5, facing=other)
    tally.add(truth, truth, 1.0, 0.5)  # no facing (a CT plane): not scored
    s = tally.summary(0.5)
    assert s["facing_accuracy"] == 0.5 and s["facing_uncertain_share"] == 0.5
    assert "facing_accuracy" not in Tally().summary(0.5)


def test_bodies_named_outline_uncertain_are_split_by_landmark_error() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study()
    bodies = truth.vertebrae
    height = float(np.hypot(*(bodies[0].landmarks[2] - bodies[0].landmarks[5])))
    # The first body's landmarks 20 % of its height off (matched, not good); the rest exact.
    off = replace(bodies[0], landmarks=bodies[0].landmarks + [0.0, 0.2 * height])
    pred = replace(truth, findings=(off,) + tuple(f for f in truth.findings if f is not bodies[0]))
    tally = Tally()
    tally.add(truth, pred, 1.0, 0.5, doubted=frozenset({bodies[0].level, bodies[1].level}))
    s = tally.summary(0.5)
    n = len(bodies)
    assert s["outline_uncertain_good_bodies"] == f"1/{n - 1}"
    assert s["outline_uncertain_poor_bodies"] == "1/1"
    assert "outline_uncertain_good_bodies" not in Tally().summary(0.5)


def test_wilson_interval_hand_computed() -> None:
    from vcfviewer.training.metrics import wilson_interval

    # 184 of 200: p 0.92, z² / n = 0.019208, centre 0.929604 / 1.019208 = 0.912085,
    # half 1.96 · sqrt(0.000368 + 0.00002401) / 1.019208 = 0.038076.
    assert wilson_interval(184, 200) == [0.874, 0.9502]
    # All of 4 right: the interval runs from 1 / (1 + z² / n) = 1 / 1.960 to exactly 1.
    assert wilson_interval(4, 4) == [0.5101, 1.0]
    assert wilson_interval(0, 0) is None


def test_summary_gives_intervals_for_the_per_image_figures() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study()
    tally = Tally()
    for _ in range(4):
        tally.add(truth, truth, 1.0, 0.5)
    s = tally.summary(0.5)
    assert s["whole_column_correct"] == 1.0
    assert s["whole_column_correct_ci95"] == [0.5101, 1.0]
    assert s["whole_column_correct_without_l6_ci95"] == [0.5101, 1.0]
    has_fracture = any(f.is_fractured for f in truth.vertebrae)
    key = "fracture_image_sensitivity_ci95" if has_fracture else "fracture_image_specificity_ci95"
    assert s[key] == [0.5101, 1.0]


def test_cluster_interval_resamples_whole_films() -> None:
    from vcfviewer.training.metrics import cluster_interval

    # Two films, one body each, one hit: a resample draws 0, 1 or 2 copies of the hit film
    # (rate 0, 1/2, 1 with odds 1/4, 1/2, 1/4), so the 2.5 and 97.5 percentiles are 0 and 1.
    assert cluster_interval([1, 0], [1, 1]) == [0.0, 1.0]
    # Every film alike: every resample gives the same rate.
    assert cluster_interval([3, 3, 3], [4, 4, 4]) == [0.75, 0.75]
    assert cluster_interval([0, 0], [0, 0]) is None
    # Films, not bodies, are the unit: a 10-body film with 5 hits beside ten perfect 1-body
    # films gives a wider interval than 20 independent bodies with the same 15 / 20.
    films = cluster_interval([5] + [1] * 10, [10] + [1] * 10)
    bodies = cluster_interval([1] * 15 + [0] * 5, [1] * 20)
    assert films[1] - films[0] > bodies[1] - bodies[0]


def test_a_wrong_column_is_put_in_one_kind() -> None:
    from vcfviewer.training.metrics import failure_kind

    assert failure_kind(["T10 named T9", "L6 named L5"], has_l6=True) == "l6_film"
    assert failure_kind(["missed T11"], has_l6=False) == "missed_body"
    assert failure_kind(["extra T11 (no body there)"], has_l6=False) == "extra_body"
    assert failure_kind(["missed L2", "extra L2 (no body there)"], False) == "missed_and_extra"
    assert failure_kind(["L1 named T12", "L2 named L1"], has_l6=False) == "misnamed"
    assert failure_kind(["no body in truth"], has_l6=False) == "misnamed"


def test_the_summary_counts_wrong_columns_by_kind() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study()
    tally = Tally()
    tally.add(truth, truth, 1.0, 0.5)  # right: not counted
    tally.add(truth, replace(truth, findings=truth.findings[1:]), 1.0, 0.5)  # a body missed
    assert tally.summary(0.5)["wrong_columns_by_kind"] == {"missed_body": 1}
    assert "wrong_columns_by_kind" not in Tally().summary(0.5)


def test_tall_body_notes_are_counted_against_the_column() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study()
    # Three images: a right column noted (false alarm), a wrong one (a body dropped) noted, a
    # right one not noted: 2 of 3 noted, 1 of those with a wrong column.
    missing = replace(truth, findings=truth.findings[1:])
    tally = Tally()
    tally.add(truth, truth, 1.0, 0.5, column_notes={"tall_body_noted_images": True})
    tally.add(truth, missing, 1.0, 0.5, column_notes={"tall_body_noted_images": True})
    tally.add(truth, truth, 1.0, 0.5, column_notes={"tall_body_noted_images": False})
    assert tally.summary(0.5)["tall_body_noted_images"] == "2/3 (1 with a wrong column)"
    assert "tall_body_noted_images" not in Tally().summary(0.5)


def test_the_tall_read_apart_and_edge_notes_are_told_apart() -> None:
    from vcfviewer.training.evaluate import column_notes

    tall = ("L4: 1.56x as tall as the tallest normal body within two levels: it may be two "
            "vertebrae read as one …")
    apart = ("T11 and T12: two bodies read as one (the body numbered T12 was 1.54x as tall as "
             "the tallest normal body within two levels); the body network read them apart …")
    edge = ("L5: close to the edge of the exposed field, where a body may be cut off: check that "
            "it is whole on the film before trusting its measurements and grade")
    none = {"tall_body_noted_images": False, "read_apart_images": False,
            "edge_doubt_noted_images": False}
    assert column_notes((tall,)) == none | {"tall_body_noted_images": True}
    assert column_notes((apart,)) == none | {"read_apart_images": True}
    assert column_notes((edge,)) == none | {"edge_doubt_noted_images": True}
    assert column_notes(("L5 cut at the image edge: not measured",)) == none
    assert column_notes(()) == none


def test_body_sensitivity_counts_the_products_call_threshold_or_landmarks() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
    from models_boxfilm import box_study

    _, truth, _ = box_study(fractured=("L2",))
    low = [replace(f, fracture_probability=0.1) for f in truth.findings]
    # L2 keeps its grade: called by its landmarks though its probability is under 0.5.
    by_landmarks = replace(truth, findings=tuple(low))
    # L2 graded normal with the same probability: not called.
    by_nothing = replace(truth, findings=tuple(
        replace(f, grade=0, fracture_type="none") if f.level == "L2" else f for f in low))
    for pred, sensitivity in ((by_landmarks, 1.0), (by_nothing, 0.0)):
        tally = Tally()
        tally.add(truth, pred, 1.0, 0.5)
        s = tally.summary(0.5)
        assert s["fracture_body_sensitivity"] == sensitivity
        assert s["fracture_body_specificity"] == 1.0
        assert s["fracture_image_sensitivity"] == sensitivity
        assert s["fracture_bodies_called_by_landmarks"] == ("1 (1 fractured)" if sensitivity
                                                            else "0 (0 fractured)")

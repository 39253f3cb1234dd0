"""Morphometry rules of CLINICAL.md §2–3, each against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vcfviewer.core.annotation import (
    FractureType, Grade, ImageRef, Provenance, StudyAnnotation, VertebraFinding,
)
from vcfviewer.core.morphometry import (
    MorphometryError, body_heights, incident_fractures, landmark_problem, measure_study,
    measured_grade,
)

_TOPS = {"T10": 0, "T11": 40, "T12": 80, "L1": 120, "L2": 160, "L3": 200, "L4": 240, "L5": 280, "L6": 320}


def body(level: str, ha: float, hm: float, hp: float, grade: int = 0, ftype: str = "none",
         fid: str | None = None) -> VertebraFinding:
    """A body facing left: anterior x=10, middle x=25, posterior x=40; vertical height pairs."""
    top = _TOPS[level]
    pts = [[10, top], [25, top], [40, top], [10, top + ha], [25, top + hm], [40, top + hp]]
    kw = {"finding_id": fid} if fid else {}
    return VertebraFinding(level=level, landmarks=pts, grade=grade, fracture_type=ftype, **kw)


def study(*findings: VertebraFinding, spacing: tuple[float, float] | None = (1.0, 1.0)
          ) -> StudyAnnotation:
    image = ImageRef(path="x.dcm", rows=400, columns=100, pixel_spacing=spacing)
    return StudyAnnotation(image=image, findings=findings, provenance=Provenance("0.1.0"))


def by_level(s: StudyAnnotation, level: str):
    return measure_study(s).by_level[level]


# --- heights --------------------------------------------------------------------------------


def test_heights_use_anisotropic_spacing_dx_times_column_dy_times_row() -> None:
    pts = np.array([[10, 10], [20, 10], [30, 10], [13, 14], [20, 18], [30, 30]], float)
    # anterior: dx=3, dy=4; spacing (row 0.5, column 2.0) → hypot(3*2, 4*0.5) = sqrt(40)
    h = body_heights(pts, (0.5, 2.0))
    assert h["anterior"] == pytest.approx(math.sqrt(40.0))
    assert h["middle"] == pytest.approx(8 * 0.5)
    assert h["posterior"] == pytest.approx(20 * 0.5)
    assert body_heights(pts, None)["anterior"] == pytest.approx(5.0)


def test_units_are_mm_with_spacing_and_px_without() -> None:
    mm = by_level(study(body("L1", 24, 27, 30), spacing=(0.5, 0.5)), "L1")
    assert (mm.unit, mm.ha, mm.hm, mm.hp) == ("mm", 12.0, 13.5, 15.0)
    px = measure_study(study(body("L1", 24, 27, 30), spacing=None))
    m = px.by_level["L1"]
    assert (m.unit, m.ha, m.height_loss_mm) == ("px", 24.0, None)
    assert any("no pixel spacing" in w for w in px.warnings)


# --- ratios, reference, height loss, VC -----------------------------------------------------


def test_wedge_and_biconcave_ratios() -> None:
    m = by_level(study(body("L1", 24, 27, 30)), "L1")
    assert m.wedge_ratio == pytest.approx(0.8)
    assert m.biconcave_ratio == pytest.approx(0.9)


def test_reference_from_both_neighbours_when_larger_than_own_hp() -> None:
    s = study(body("T12", 30, 30, 30), body("L1", 18, 28, 30), body("L2", 32, 32, 32))
    m = by_level(s, "L1")
    # smallest is Ha=18; neighbours' mean Ha = 31 > own Hp 30
    assert m.reference_height == pytest.approx(31.0)
    assert m.reference_levels == ("T12", "L2")
    assert m.height_loss == pytest.approx(13 / 31)  # 0.419
    assert m.height_loss_mm == pytest.approx(13.0)
    assert (m.measured_grade, m.borderline) == (Grade.SEVERE, True)  # 41.9 % is within 3 of 40
    assert m.measured_type == FractureType.WEDGE
    assert m.vc == pytest.approx((31 - 18) / 31)
    assert m.vc_levels == ("T12", "L2")
    assert m.crush_ratio == pytest.approx(30 / 31)
    assert m.smallest_height == "anterior"


def test_fractured_neighbour_is_skipped_for_the_nearest_normal_one() -> None:
    s = study(body("T11", 30, 30, 30), body("T12", 20, 28, 30, grade=2, ftype="wedge"),
              body("L1", 24, 30, 30), body("L2", 34, 34, 34))
    m = by_level(s, "L1")
    assert m.reference_levels == ("T11", "L2")
    assert m.reference_height == pytest.approx(32.0)  # mean Ha (30 + 34) / 2
    assert m.height_loss == pytest.approx(0.25)
    assert (m.measured_grade, m.borderline) == (Grade.MODERATE, True)  # 25 % counts as moderate
    assert m.vc == pytest.approx(0.25) and m.vc_levels == ("T11", "L2")
    assert m.crush_ratio == pytest.approx(30 / 32)


def test_end_of_column_uses_the_single_neighbour_and_own_hp_when_larger() -> None:
    sacrum = VertebraFinding(level="S1", landmarks=None)
    s = study(body("L4", 30, 30, 30), body("L5", 27, 30, 33), sacrum)
    m = by_level(s, "L5")
    # neighbour mean Ha 30 < own Hp 33: own Hp is the reference; the sacrum never serves
    assert m.reference_height == pytest.approx(33.0) and m.reference_levels == ()
    assert m.height_loss == pytest.approx(1 - 27 / 33)  # 0.1818
    assert (m.measured_grade, m.borderline) == (Grade.NORMAL, True)
    assert m.measured_type == FractureType.NONE
    assert m.vc == pytest.approx(0.1) and m.vc_levels == ("L4",)
    assert m.crush_ratio == pytest.approx(1.1)


def test_all_neighbours_fractured_on_one_side_falls_back_to_the_other() -> None:
    s = study(body("T12", 20, 28, 30, grade=2, ftype="wedge"), body("L1", 25, 30, 30),
              body("L2", 28, 28, 28))
    m = by_level(s, "L1")
    assert m.vc_levels == ("L2",) and m.vc == pytest.approx((28 - 25) / 28)
    assert m.reference_levels == () and m.reference_height == pytest.approx(30.0)


def test_flattening_is_the_tallest_height_against_the_normal_neighbours_above_and_below() -> None:
    # L3's heights 20/19/21 against the means of L2 (30, 30, 32) and L4 (34, 30, 28):
    # Ha 20/32 = 0.625, Hm 19/30 = 0.633, Hp 21/30 = 0.7 → the tallest share, 0.7.
    s = study(body("L2", 30, 30, 32), body("L3", 20, 19, 21), body("L4", 34, 30, 28))
    assert by_level(s, "L3").flattening == pytest.approx(0.7)
    # A fractured L4 is skipped for L5 (36, 30, 30): Ha 20/33, Hm 19/30, Hp 21/31 → 21/31.
    s = study(body("L2", 30, 30, 32), body("L3", 20, 19, 21),
              body("L4", 10, 30, 28, grade=3, ftype="wedge"), body("L5", 36, 30, 30))
    assert by_level(s, "L3").flattening == pytest.approx(21 / 31)
    # With a normal neighbour on one side only there is nothing to compare the whole body with.
    assert by_level(s, "L2").flattening is None
    assert by_level(study(body("L2", 30, 30, 32), body("L3", 20, 19, 21)), "L3").flattening is None


def test_lone_body_has_no_neighbour_figures() -> None:
    m = by_level(study(body("L1", 30, 30, 30)), "L1")
    assert (m.crush_ratio, m.vc, m.vc_levels) == (None, None, ())
    assert m.reference_height == 30.0 and m.height_loss == 0.0


def test_types_biconcave_crush_and_whole_body() -> None:
    n_above, n_below = body("T12", 30, 30, 30), body("L2", 30, 30, 30)
    bic = by_level(study(n_above, body("L1", 30, 20, 30), n_below), "L1")
    assert bic.height_loss == pytest.approx(1 / 3)
    assert (bic.measured_grade, bic.measured_type) == (Grade.MODERATE, FractureType.BICONCAVE)
    post = by_level(study(n_above, body("L1", 30, 30, 22), n_below), "L1")
    assert post.height_loss == pytest.approx(1 - 22 / 30)  # reference = neighbours' mean Hp
    assert (post.measured_grade, post.measured_type) == (Grade.MODERATE, FractureType.CRUSH)
    # evenly flattened: 22/23.5 ≥ 0.85, so crush although Ha is the smallest
    whole = by_level(study(n_above, body("L1", 22, 23, 23.5), n_below), "L1")
    assert whole.height_loss == pytest.approx(1 - 22 / 30)
    assert whole.measured_type == FractureType.CRUSH


@pytest.mark.parametrize(
    "loss, grade, borderline",
    [(0.0, 0, False), (0.16, 0, False), (0.17, 0, True), (0.1999, 0, True), (0.20, 1, True),
     (1 - 0.8, 1, True), (0.2499, 1, True), (0.25, 2, True), (0.28, 2, True), (0.29, 2, False),
     (0.36, 2, False), (0.37, 2, True), (0.40, 2, True), (0.4001, 3, True), (0.43, 3, True),
     (0.44, 3, False), (0.9, 3, False)],
)
def test_grade_cut_offs_and_borderline(loss: float, grade: int, borderline: bool) -> None:
    assert measured_grade(loss) == (Grade(grade), borderline)


def test_measured_grade_refuses_nan() -> None:
    with pytest.raises(MorphometryError, match="finite"):
        measured_grade(float("nan"))


# --- study figures ------------------------------------------------------------------------


def test_sdi_sums_decided_grades_and_sdi_measured_the_measured_ones() -> None:
    s = study(body("T12", 20, 28, 30, grade=2, ftype="wedge"), body("L1", 24, 30, 30),
              body("L2", 30, 30, 30, grade=1, ftype="crush"), VertebraFinding("S1", None))
    ms = measure_study(s)
    assert ms.sdi == 3
    # measured: T12: neighbour L1 mean Ha 24 < own Hp 30 → 1 − 20/30 = 0.333 → 2;
    # L1: both neighbours fractured → own Hp 30, 1 − 24/30 = 0.2 → 1; L2: even 30s → 0
    assert [ms.by_level[lv].measured_grade for lv in ("T12", "L1", "L2")] == [2, 1, 0]
    assert ms.sdi_measured == 3
    assert ms.lumbar_count == 2
    assert "lumbar count 2 (expected 5)" in ms.warnings


def test_incident_fracture_needs_twenty_percent_and_four_mm() -> None:
    prior = study(body("L1", 30, 30, 30), body("L2", 30, 30, 30), body("L3", 15, 15, 15),
                  body("L4", 20, 20, 20))
    current = study(body("L1", 22, 30, 30), body("L2", 25, 30, 30), body("L3", 12, 15, 15),
                    body("L4", 16, 20, 20))
    hits = incident_fractures(prior, current)
    # L1: −8 mm, 26.7 % → yes; L2: −5 mm but 16.7 % → no; L3: 20 % but 3 mm → no;
    # L4: exactly 20 % and 4 mm → yes (both bounds inclusive)
    assert [h.level for h in hits] == ["L1", "L4"]
    assert hits[0].height == "anterior"
    assert hits[0].decrease_mm == pytest.approx(8.0)
    assert hits[0].decrease_fraction == pytest.approx(8 / 30)
    with pytest.raises(MorphometryError, match="pixel spacing"):
        incident_fractures(study(body("L1", 30, 30, 30), spacing=None), current)


# --- degenerate input ---------------------------------------------------------------------


def _pts(**moves: tuple[float, float]) -> np.ndarray:
    from vcfviewer.core.annotation import LANDMARK_NAMES

    pts = np.array([[10, 0], [25, 0], [40, 0], [10, 30], [25, 30], [40, 30]], float)
    for name, xy in moves.items():
        pts[LANDMARK_NAMES.index(name)] = xy
    return pts


@pytest.mark.parametrize(
    "points, reason",
    [(_pts(inferior_anterior=(10, 0)), "coincident points: superior_anterior and inferior_anterior"),
     (_pts(inferior_middle=(25, -5)), "inferior_middle is not below superior_middle"),
     (_pts(superior_middle=(45, 0)), "superior_middle is not between"),
     (_pts(inferior_anterior=(40, 30), inferior_posterior=(10, 30), inferior_middle=(25, 30)),
      "swapped"),
     (_pts(superior_anterior=(np.nan, 0)), "not a finite number")],
)
def test_degenerate_landmarks_have_a_reason(points: np.ndarray, reason: str) -> None:
    assert reason in landmark_problem(points)


def test_degenerate_body_is_not_measurable_and_never_a_neighbour() -> None:
    bad = VertebraFinding(level="L1", landmarks=_pts(inferior_anterior=(10, 0)) + [0, 120])
    s = study(body("T12", 30, 30, 30), bad, body("L2", 24, 30, 30), body("L3", 36, 36, 36))
    ms = measure_study(s)
    m = ms.by_level["L1"]
    assert not m.measurable and "coincident" in m.reason
    assert (m.ha, m.height_loss, m.vc) == (None, None, None)
    assert ms.by_level["L2"].vc_levels == ("T12", "L3")  # skips the unmeasurable L1
    assert any(w.startswith("L1 not measurable") for w in ms.warnings)
    assert ms.by_level["L2"].vc == pytest.approx((33 - 24) / 33)


def test_sacrum_is_reported_as_not_measured() -> None:
    ms = measure_study(study(body("L5", 30, 30, 30), VertebraFinding("S1", None)))
    s1 = ms.by_level["S1"]
    assert not s1.measurable and "sacrum" in s1.reason
    assert ms.by_level["L5"].vc_levels == ()


def test_every_number_is_finite_or_none() -> None:
    s = study(body("T12", 30, 30, 30), body("L1", 18, 28, 30), body("L2", 32, 32, 32))
    for m in measure_study(s).by_id.values():
        for name in ("ha", "hm", "hp", "wedge_ratio", "biconcave_ratio", "crush_ratio",
                     "reference_height", "height_loss", "vc"):
            value = getattr(m, name)
            assert value is None or math.isfinite(value)


def test_a_lumbar_count_is_doubted_only_where_the_film_lets_one_count() -> None:
    def warnings(*levels: str) -> list[str]:
        bodies = [body(lv, 30, 30, 30) for lv in levels if lv != "S1"]
        sacrum = [VertebraFinding("S1", None)] if "S1" in levels else []
        return [w for w in measure_study(study(*bodies, *sacrum)).warnings
                if w.startswith("lumbar count")]

    # Thoracic body above and the sacrum below: four lumbar bodies are one too few.
    assert warnings("T12", "L1", "L2", "L3", "L4", "S1") == ["lumbar count 4 (expected 5)"]
    # A film that starts at L2, or one whose sacrum is not shown, cannot be counted.
    assert warnings("L2", "L3", "L4", "L5", "S1") == []
    assert warnings("T12", "L1", "L2", "L3", "L4") == []
    # Six is too many wherever it is seen.
    assert warnings("L1", "L2", "L3", "L4", "L5", "L6") == ["lumbar count 6 (expected 5)"]

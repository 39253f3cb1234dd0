"""Levels: order, neighbours, numbering from the sacrum, whole-column renumbering."""

from __future__ import annotations

import pytest

from vcfviewer.core import levels


def test_order_runs_cranial_to_caudal_with_transitional_levels_in_place() -> None:
    assert levels.sort_levels(["L1", "S1", "T12", "T13", "L6", "L5"]) == [
        "T12", "T13", "L1", "L5", "L6", "S1"]


def test_validate_normalises_and_rejects_unknown_names() -> None:
    assert levels.validate(" l3 ") == "L3"
    with pytest.raises(levels.LevelError, match="L7"):
        levels.validate("L7")


def test_region() -> None:
    assert [levels.region(x) for x in ("C7", "T1", "L5", "S1")] == [
        "cervical", "thoracic", "lumbar", "sacrum"]


@pytest.mark.parametrize(
    ("level", "steps", "expected"),
    [("L1", -1, "T12"), ("T12", 1, "L1"), ("L5", 1, "S1"), ("T13", 1, "L1"), ("T13", -1, "T12"),
     ("L6", -1, "L5"), ("L6", 1, "S1"), ("L3", 0, "L3"), ("T13", 0, "T13"), ("T11", 3, "L2")],
)
def test_shift(level: str, steps: int, expected: str) -> None:
    assert levels.shift(level, steps) == expected


def test_shift_outside_the_column_raises() -> None:
    with pytest.raises(levels.LevelError):
        levels.shift("C1", -1)


def test_number_from_sacrum_names_the_body_above_s1_l5() -> None:
    assert levels.number_from_sacrum(7) == ["T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
    assert levels.number_from_sacrum(2, has_sacrum=False) == ["L4", "L5"]


def test_renumber_keeps_the_sacrum_and_moves_everything_else() -> None:
    assert levels.renumber(["T12", "L1", "L2", "S1"], -1) == ["T11", "T12", "L1", "S1"]
    assert levels.renumber(["L3", "L4", "S1"], 1) == ["L4", "L5", "S1"]


def test_renumber_refuses_to_land_on_the_sacrum() -> None:
    with pytest.raises(levels.LevelError, match="sacrum"):
        levels.renumber(["L4", "L5", "S1"], 1)


def test_neighbours_skip_missing_levels() -> None:
    present = ["T12", "L2", "L3", "S1"]
    assert levels.neighbours("L2", present) == ("T12", "L3")
    assert levels.neighbours("T12", present) == (None, "L2")


def test_with_l6_names_the_body_above_the_sacrum_l6_and_shifts_the_rest_down() -> None:
    # Six lumbar bodies numbered from the sacrum as T12-L5 (plus T11 above): really T12, L1-L6.
    column = ["T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
    assert levels.with_l6(column) == ["T12", "L1", "L2", "L3", "L4", "L5", "L6", "S1"]
    assert levels.with_l6(["L4", "L5"]) == ["L5", "L6"]  # no sacrum in the annotation: same rule
    # and back: renumbering up by one undoes it (L6 - 1 = L5)
    assert levels.renumber(levels.with_l6(column), -1) == column
    with pytest.raises(levels.LevelError, match="already has an L6"):
        levels.with_l6(["L5", "L6", "S1"])
    with pytest.raises(levels.LevelError, match="no body is named L5"):
        levels.with_l6(["T12", "L1", "L2"])


def test_level_names_in_a_note_are_renamed_in_one_pass() -> None:
    from vcfviewer.core.levels import rename_in_text, shift

    down = lambda name: shift(name, 1)  # noqa: E731
    # L4 → L5 and L5 → S1 in one pass: the L5 made from L4 is not moved again.
    assert rename_in_text("gap between L4 and L5: T12, T9 cut", down) == \
        "gap between L5 and S1: L1, T10 cut"
    # S1, L6 and words that merely contain a level (CL1, L10) stay.
    assert rename_in_text("S1 under L6; CL1 L10", down) == "S1 under L6; CL1 L10"
    assert levels.level_names_in("gap between L4 and L5: T12, T9 cut; S1 under L6; CL1") == \
        ["L4", "L5", "T12", "T9"]

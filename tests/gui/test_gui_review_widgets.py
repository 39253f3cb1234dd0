"""Findings table, detail panel and review geometry on a hand-built column with known numbers.

The column (0.5 mm pixels): T12 and L2 are 20 px (10 mm) boxes; L1 keeps Hp 20 px but its
anterior edge starts 7 px lower (Ha 13 px = 6.5 mm) and its middle 2 px lower (Hm 18 px = 9 mm).
Reference height = own Hp = 10 mm, so the loss is 1 - 6.5/10 = 35 % (grade 2, not borderline:
5 points from the 40 % cut-off), Ha/Hp = 0.65, Hm/Hp = 0.90, Hp / mean neighbour Hp = 1.00.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from vcfviewer.core.annotation import ImageRef, Provenance, StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import measure_study
from vcfviewer.gui.review import geometry
from vcfviewer.gui.widgets.detail_panel import DetailPanel, model_notes, summarise_flags
from vcfviewer.gui.widgets.findings_table import COLUMNS, FindingsTable


def _body(level: str, top_a: float, top_m: float, top_p: float, bottom: float, grade: int = 0,
          ftype: str = "none", p: float | None = None, edited: bool = False) -> VertebraFinding:
    points = [[10, top_a], [25, top_m], [40, top_p], [10, bottom], [25, bottom], [40, bottom]]
    return VertebraFinding(level=level, landmarks=points, grade=grade, fracture_type=ftype,
                           fracture_probability=p, reader_edited=edited, finding_id=level.lower())


@pytest.fixture
def column() -> StudyAnnotation:
    ref = ImageRef(path="col.dcm", rows=100, columns=60, pixel_spacing=(0.5, 0.5))
    findings = (_body("T12", 5, 5, 5, 25, p=0.1), _body("L1", 42, 37, 35, 55, 2, "wedge", 0.91),
                _body("L2", 65, 65, 65, 85, edited=True))
    return StudyAnnotation(image=ref, findings=findings, provenance=Provenance("test"))


def test_table_rows_show_the_measured_numbers(qtbot, column):
    table = FindingsTable()
    qtbot.addWidget(table)
    table.show_study(column, measure_study(column), None)
    assert table.rowCount() == 3 and table.finding_ids == ["t12", "l1", "l2"]
    assert table.isColumnHidden([key for key, _ in COLUMNS].index("plane"))  # CT only
    expected = {"level": "L1", "ha": "6.5", "hm": "9.0", "hp": "10.0", "wedge": "0.65",
                "biconcave": "0.90", "crush": "1.00", "loss": "35 %", "vc": "35 %",
                "grade": "2", "type": "wedge", "p": "0.91", "edited": ""}
    assert {key: table.cell_text("l1", key) for key in expected} == expected
    assert table.cell_text("l2", "edited") == "✎"
    assert table.cell_text("t12", "grade") == "0" and table.cell_text("t12", "type") == "—"
    fractured = table.item(1, 0).background().color()
    assert fractured.alpha() > 0  # the fractured row is tinted
    assert table.item(0, 0).background().style() == Qt.BrushStyle.NoBrush  # a normal row is not


def test_table_selection_is_announced_and_set_quietly(qtbot, column):
    table = FindingsTable()
    qtbot.addWidget(table)
    table.show_study(column, measure_study(column), "l2")
    assert table.currentRow() == 2
    with qtbot.waitSignal(table.finding_selected) as blocker:
        table.selectRow(0)
    assert blocker.args == ["t12"]
    with qtbot.assertNotEmitted(table.finding_selected):
        table.select_finding("l1")


def test_table_marks_decided_grade_that_differs_from_measured(qtbot, column):
    disagreeing = column.with_finding(_body("L1", 42, 37, 35, 55, 1, "wedge", 0.6))
    table = FindingsTable()
    qtbot.addWidget(table)
    table.show_study(disagreeing, measure_study(disagreeing), None)
    assert table.cell_text("l1", "grade") == "1 ≠"
    grade_column = [key for key, _ in COLUMNS].index("grade")
    assert "measured grade 2" in table.item(1, grade_column).toolTip()


def test_detail_panel_shows_the_selected_body_and_the_study(qtbot, column):
    panel = DetailPanel()
    qtbot.addWidget(panel)
    panel.show_study(column, measure_study(column), "l1", "model 1.0 · CPU")
    values = panel.values()
    assert values["Ha"] == "6.5 mm" and values["Hm"] == "9.0 mm" and values["Hp"] == "10.0 mm"
    assert values["Ha/Hp (wedge)"] == "0.65" and values["Hm/Hp (biconcave)"] == "0.90"
    assert values["Hp/neighbours (crush)"] == "1.00"
    assert values["Reference height"] == "10.0 mm (own Hp)"
    assert values["Height loss"] == "35 % (3.5 mm)"
    assert values["VC"] == "35 % (vs T12 + L2)"
    assert values["Measured"] == "2 moderate, wedge" and values["Decided"] == "2 moderate, wedge"
    assert values["Probability"] == "0.91" and values["Reader"] == "as proposed"
    assert values["Study SDI"] == "2 (measured 2)" and values["Study Fractures"] == "L1 (2)"
    # T12-L2 with no sacrum below: the film does not let one count the lumbar bodies.
    assert values["Study Flags"] == "none"
    panel.show_study(column, measure_study(column), None)
    assert "Ha" not in panel.values() and "Study SDI" in panel.values()


def test_the_model_notes_reach_the_reader(qtbot, column):
    from dataclasses import replace

    panel = DetailPanel()
    qtbot.addWidget(panel)
    panel.show_study(column, measure_study(column), None)
    assert panel.values()["Study Model notes"] == "none"
    noted = replace(column, flags=("T11 cut at the image edge: not measured",
                                   "sacrum not found: levels numbered from the thoracolumbar "
                                   "junction; check them"))
    panel.show_study(noted, measure_study(noted), None)
    assert panel.values()["Study Model notes"] == "\n".join(noted.flags)


def test_flags_fold_unmeasurable_bodies_into_one_line():
    flags = ("lumbar count 4 (expected 5)", "T4 not measurable: landmarks out of order",
             "T5 not measurable: coincident points")
    assert summarise_flags(flags) == "lumbar count 4 (expected 5)\nnot measurable: T4, T5"
    assert summarise_flags(()) == "none"


def test_click_picks_the_body_under_it_or_nearby(column):
    assert geometry.finding_at(column, 25, 45) == "l1"  # inside L1's landmark polygon
    # 1 px right of L1's posterior edge: centre (25, 44.7) is 16 px away, body size 30 px
    # -> 0.53 of its size, inside the 0.75 slack
    assert geometry.finding_at(column, 41, 45) == "l1"
    assert geometry.finding_at(column, 59, 95) is None  # 35+ px from every centre


def test_labels_go_on_the_anterior_side(column):
    assert geometry.anterior_is_left(column)  # anterior landmarks at x 10, posterior at 40
    x, y = geometry.label_anchor(column.by_level("T12"), left=True)
    assert x == pytest.approx(10 - 0.08 * 30) and y == pytest.approx(15.0)


def test_a_placed_body_is_named_from_its_neighbours(column):
    without_l1 = column.without_finding("l1")
    assert geometry.suggest_level(without_l1, 45.0) == "L1"  # between T12 and L2
    assert geometry.suggest_level(column, 95.0) == "L3"  # below the lowest body
    assert geometry.suggest_level(column, 45.0) is None  # T12 +1 and L2 -1 are both taken


def test_label_rows_are_spread_without_changing_their_order():
    assert geometry.declutter([10.0, 10.0, 50.0], 15.0) == [10.0, 25.0, 50.0]
    assert geometry.declutter([20.0, 12.0, 10.0], 15.0) == [40.0, 25.0, 10.0]
    assert geometry.declutter([0.0, 100.0], 15.0) == [0.0, 100.0]


def test_labels_say_grade_borderline_and_disagreement(column):
    from vcfviewer.gui.review.overlays import label_html

    ms = measure_study(column)
    fractured = label_html(column.by_level("L1"), ms.by_id["l1"], "level")
    assert ">L1<" in fractured and "&nbsp;2&nbsp;" in fractured and "≠" not in fractured
    called_normal = column.with_finding(_body("L1", 42, 37, 35, 55))  # measured 2, decided 0
    text = label_html(called_normal.by_level("L1"), measure_study(called_normal).by_id["l1"],
                      "grade")
    assert "≠" in text and "&nbsp;0" not in text  # no badge for a normal call, but flagged
    assert "✎" in label_html(column.by_level("L2"), ms.by_id["l2"], "level")


def test_model_notes_name_the_action_that_settles_a_numbering_note() -> None:
    notes = ("lumbar count 6, expected 5: check the numbering (transitional anatomy?)",
             "lumbar count 4, expected 5: check the numbering (transitional anatomy?)",
             "T11 cut at the image edge: not measured",
             "gap between L2 and L3 is 1.5x the spacing around it: check",
             "facing uncertain (P(faces right) 0.23): analysed facing left; if the patient "
             "faces right, analyse the film the other way round",
             "L6 named: the body numbered T12 from the sacrum shows no rib and the one above it "
             "does (rib network 0.02 and 0.97), so …; check the ribs (renumbering the column up "
             "undoes it)",
             "L4: 1.56x as tall as the tallest normal body within two levels: it may be two "
             "vertebrae read as one …; check its outline, its grade and the levels",
             "L4: landmarks measure 30% height loss but the model calls it normal",
             "sacrum top: the body numbered L5 sits on the sacrum (…); if it is a vertebra, add "
             "it back and renumber the column up",
             "L5: one body read twice; the less certain reading was dropped and the levels "
             "above renumbered; check the levels",
             "T11 and T12: two bodies read as one (the body numbered T12 was 1.54x as tall as "
             "the tallest normal body within two levels); the body network read them apart and "
             "the levels above moved up; check both and the levels",
             "T11, L5: close to the edge of the exposed field, where a body may be cut off: "
             "check that it is whole on the film before trusting its measurements and grade")
    assert model_notes(notes).split("\n") == [
        notes[0] + " [Ctrl+6 names an L6]",
        notes[1] + " [Ctrl+Up / Ctrl+Down renumber the column]",
        notes[2],
        notes[3] + " [B adds a missed body]",
        notes[4] + " [Shift+A analyses it the other way round]",
        notes[5] + " [Ctrl+Up undoes it]",
        notes[6] + " [B adds a missed body]",
        notes[7],
        notes[8] + " [B adds a body, Ctrl+Up renumbers up]",
        notes[9] + " [B adds a body, Ctrl+Up renumbers up]",
        notes[10] + " [Del deletes one, Ctrl+Down renumbers down]",
        notes[11] + " [Del deletes a body that is cut off]"]
    assert model_notes(()) == "none"

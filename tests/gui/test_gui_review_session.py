"""The review controller without a model: a sample film reviewed from its exact truth annotation.

Clicks go through the real graphics view; landmark drags through the handle items' drag signals
(what pyqtgraph's drag events call); keys through the window's actions.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from vcfviewer.core.morphometry import measure_study
from vcfviewer.gui.review import formatting as fmt
from vcfviewer.gui.review.prefs import KEY_SCHEME, load_prefs

from review_support import load_film, review_truth, review_window, show_film


@pytest.fixture
def reviewing(qtbot, tmp_path, monkeypatch):
    window, controller = review_window(qtbot, tmp_path, monkeypatch)
    annotation = review_truth(window, controller, "film2_wedge")
    return window, controller, annotation


def click_image(qtbot, window, x: float, y: float) -> None:
    """A real left click on image pixel (x, y)."""
    view = window.image_view
    scene_point = view.view_box.mapViewToScene(QPointF(x, y))
    widget_point = view.graphics.mapFromScene(scene_point)
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)


def drag(controller, finding_id: str, index: int, path: list[tuple[float, float]]) -> None:
    """What one pyqtgraph drag of a handle emits: start, a move per point, finish."""
    handles = controller.handles
    handles.position(finding_id, index)  # the handle exists on screen
    handles.drag_started.emit(finding_id, index)
    for x, y in path:
        handles.drag_moved.emit(finding_id, index, float(x), float(y))
    handles.drag_finished.emit(finding_id, index)


def test_clicking_a_body_selects_it_everywhere(qtbot, reviewing):
    window, controller, annotation = reviewing
    l4 = annotation.by_level("L4")
    x, y = l4.centre()
    click_image(qtbot, window, x, y)
    assert controller.selected == l4.finding_id
    assert window.findings_table.currentRow() == annotation.levels.index("L4")
    m = measure_study(annotation).by_id[l4.finding_id]
    values = window.detail_panel.values()
    assert values["Ha"] == f"{fmt.height(m.ha)} mm" and values["Hp"] == f"{fmt.height(m.hp)} mm"
    assert values["Decided"] == "2 moderate, wedge"
    assert len(controller.handles) == 6 * len(annotation.vertebrae)
    assert controller.painter.label_items[l4.finding_id].toHtml().count("L4") == 1
    click_image(qtbot, window, 2, 2)  # empty film corner
    assert controller.selected is None and "Ha" not in window.detail_panel.values()


def test_a_row_click_selects_the_body(qtbot, reviewing):
    window, controller, annotation = reviewing
    window.findings_table.selectRow(0)
    assert controller.selected == annotation.findings[0].finding_id
    assert window.detail_panel.values()["Level"] == "L1"


def test_one_landmark_drag_is_one_undo_step_with_live_numbers(qtbot, reviewing):
    window, controller, annotation = reviewing
    l3 = annotation.by_level("L3")
    start = l3.landmarks[0]
    before = window.detail_panel.values()
    seen: list[str] = []
    controller.session_changed.connect(
        lambda _a: seen.append(window.detail_panel.values().get("Ha", "")))
    drag(controller, l3.finding_id, 0, [start + (0, 5), start + (0, 10), start + (0, 20)])
    assert controller.selected == l3.finding_id and before != window.detail_panel.values()
    assert len(set(seen)) == 3  # Ha changed on every move of the drag
    moved = controller.annotation.finding(l3.finding_id)
    assert np.allclose(moved.landmarks[0], start + (0, 20)) and moved.reader_edited
    ha = measure_study(controller.annotation).by_id[l3.finding_id].ha
    assert window.detail_panel.values()["Ha"] == f"{fmt.height(ha)} mm"
    assert window.findings_table.cell_text(l3.finding_id, "edited") == "✎"
    assert controller.handles.position(l3.finding_id, 0) == pytest.approx(tuple(start + (0, 20)))
    assert window.actions["undo"].text() == "&Undo move superior anterior of L3"
    window.actions["undo"].trigger()  # the whole drag at once
    assert np.array_equal(controller.annotation.finding(l3.finding_id).landmarks, l3.landmarks)
    assert controller.handles.position(l3.finding_id, 0) == pytest.approx(tuple(start))
    assert not controller.session.can_undo and not controller.is_dirty
    window.actions["redo"].trigger()
    assert np.allclose(controller.annotation.finding(l3.finding_id).landmarks[0], start + (0, 20))


def test_grade_keys_type_cycle_and_edit_marks(qtbot, reviewing):
    window, controller, annotation = reviewing
    l2 = annotation.by_level("L2")
    controller.select(l2.finding_id)
    window.actions["grade_3"].trigger()
    assert controller.annotation.finding(l2.finding_id).grade == 3
    window.actions["cycle_type"].trigger()
    finding = controller.annotation.finding(l2.finding_id)
    assert finding.fracture_type.value in ("wedge", "biconcave", "crush")
    assert finding.fracture_probability is None and finding.reader_edited
    assert window.findings_table.cell_text(l2.finding_id, "grade").startswith("3")
    window.actions["grade_0"].trigger()
    assert not controller.annotation.finding(l2.finding_id).is_fractured
    assert window.detail_panel.values()["Study SDI"].startswith("2 ")  # only L4 (grade 2) left
    for _ in range(3):
        window.actions["undo"].trigger()
    assert controller.annotation == annotation


def test_renumbering_and_relabelling(qtbot, reviewing):
    window, controller, annotation = reviewing
    window.actions["renumber_up"].trigger()
    assert controller.annotation.levels == ["T12", "L1", "L2", "L3", "L4", "S1"]
    assert window.findings_table.cell_text(annotation.findings[0].finding_id, "level") == "T12"
    window.actions["renumber_down"].trigger()
    assert controller.annotation.levels == annotation.levels
    window.actions["renumber_down"].trigger()  # L5 would land on the sacrum: refused, said
    assert controller.annotation.levels == annotation.levels
    assert "sacrum" in window.banner.text()
    controller.select(annotation.by_level("L1").finding_id)
    controller.relabel("L2")  # taken by another body
    assert "already taken" in window.banner.text()
    controller.relabel("T12")
    assert controller.annotation.levels[0] == "T12"


def test_a_transitional_l6_is_named_in_one_action(qtbot, reviewing):
    window, controller, annotation = reviewing
    assert annotation.levels == ["L1", "L2", "L3", "L4", "L5", "S1"]
    window.actions["name_l6"].trigger()
    assert controller.annotation.levels == ["L2", "L3", "L4", "L5", "L6", "S1"]
    assert window.findings_table.cell_text(annotation.findings[4].finding_id, "level") == "L6"
    window.actions["name_l6"].trigger()  # already has an L6: refused, said
    assert "already has an L6" in window.banner.text()
    window.actions["undo"].trigger()
    assert controller.annotation == annotation


def test_the_patient_faces_the_other_way_in_one_action(qtbot, reviewing):
    window, controller, annotation = reviewing
    l4 = annotation.by_level("L4")
    before = measure_study(annotation).by_id[l4.finding_id]
    controller.select(l4.finding_id)
    window.actions["swap_facing"].trigger()
    swapped = controller.annotation.finding(l4.finding_id)
    assert swapped.fracture_type.value == "crush" and swapped.grade == 2  # was a wedge
    values = window.detail_panel.values()
    assert values["Ha"] == f"{fmt.height(before.hp)} mm" and values["Hp"] == f"{fmt.height(before.ha)} mm"
    assert np.allclose(controller.handles.position(l4.finding_id, 0), l4.landmarks[2])
    assert "swapped" in window.statusBar().currentMessage()
    window.actions["undo"].trigger()
    assert controller.annotation == annotation


def test_adding_a_missed_body_with_six_clicks_and_deleting_one(qtbot, reviewing):
    window, controller, annotation = reviewing
    controller.ask_level = lambda _title, choices: choices[0]  # take the suggestion
    without = annotation.by_level("L3")
    controller.select(without.finding_id)
    window.actions["delete_body"].trigger()
    assert "L3" not in controller.annotation.levels
    window.actions["add_body"].trigger()
    assert controller.placing.active and controller.placing.guide.isVisible()
    points = without.landmarks
    for x, y in points[:3]:
        click_image(qtbot, window, x, y)
    assert "point 4 of 6" in controller.placing.guide.text()
    window.actions["undo"].trigger()  # takes back the third point only
    assert len(controller.placing.points) == 2
    for x, y in points[2:]:
        click_image(qtbot, window, x, y)
    assert not controller.placing.active
    added = controller.annotation.by_level("L3")  # suggested between L2 and L4
    assert added is not None and added.added_by_reader
    # a click lands on a whole screen pixel: within one screen pixel (in image pixels) of the aim
    screen_px = max(window.image_view.view_box.viewPixelSize())
    assert np.allclose(added.landmarks, points, atol=1.5 * screen_px)
    assert controller.selected == added.finding_id
    assert window.findings_table.cell_text(added.finding_id, "edited") == "+✎"


def test_accept_all_needs_a_reader(qtbot, reviewing):
    from dataclasses import replace

    window, controller, _annotation = reviewing
    window.actions["accept_all"].trigger()
    assert "Preferences" in window.banner.text() and not controller.session.is_accepted
    controller.set_prefs(replace(controller.prefs, reader="Dr Test"))
    window.actions["accept_all"].trigger()
    assert controller.session.is_accepted
    assert controller.annotation.provenance.reader == "Dr Test"
    assert window.detail_panel.values()["Study Status"] == "accepted by Dr Test"


def test_overlay_toggles_colour_scheme_and_opacity_are_kept(qtbot, reviewing):
    window, controller, _annotation = reviewing
    overlay = window.image_view.overlay
    window.actions["toggle_masks"].trigger()
    assert not overlay.is_visible("masks") and overlay.is_visible("labels")
    window.actions["toggle_marks"].trigger()
    assert not overlay.is_visible("handles") and not overlay.is_visible("heights")
    window.actions["toggle_labels"].trigger()
    assert not overlay.is_visible("labels") and not controller.legend.label.isVisible()
    window.actions["colour_by_grade"].trigger()
    assert window.overlay_controls.scheme == "grade"
    assert window.settings.value(KEY_SCHEME) == "grade"
    start = overlay.opacity("masks")
    window.actions["opacity_up"].trigger()
    assert overlay.opacity("masks") == pytest.approx(start + 0.1)
    assert load_prefs(window.settings).mask_opacity == pytest.approx(start + 0.1)
    window.overlay_controls.scheme_box.setCurrentIndex(0)
    assert controller.prefs.colour_scheme == "level"
    assert not window.actions["colour_by_grade"].isChecked()


def test_another_image_ends_the_session(qtbot, reviewing):
    window, controller, _annotation = reviewing
    show_film(window, load_film("film1_normal"), "film1")
    assert controller.session is None and window.findings_table.rowCount() == 0
    assert window.image_view.overlay.items("labels") == []
    assert not window.actions["export"].isEnabled()


def test_help_lists_the_review_shortcuts_and_none_collide(qtbot, reviewing):
    from PySide6.QtGui import QKeySequence

    window, _controller, _annotation = reviewing
    window.actions["shortcuts"].trigger()
    dialog = window._shortcuts_dialog
    rows = [tuple(dialog.table.item(r, c).text() for c in range(3)) for r in range(dialog.row_count())]
    listed = {action: keys for _menu, action, keys in rows}
    assert listed["Renumber column up (L2 → L1)"] and listed["Grade 2: moderate (25–40 %)"] == "2"
    assert listed["Undo"] and listed["Add missed body…"] == "B"
    keys = [k.toString() for a in window.actions.values() for k in a.shortcuts()]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    assert QKeySequence("Ctrl+1").toString() in keys  # 1:1 moved off "1", which grades now
    dialog.close()

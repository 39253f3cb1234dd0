"""End to end with the real model: open the sample study, let the shipped model analyse it, click
a vertebra, check the numbers, drag a landmark, undo, renumber, export, reopen. And cancelling an
analysis midway (and by switching images) leaves no thread and no stale result behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from vcfviewer.core.levels import renumber
from vcfviewer.core.morphometry import measure_study
from vcfviewer.gui.review import formatting as fmt
from vcfviewer.gui.workers import running_threads
from vcfviewer.paths import sample_study_dir

from review_support import (
    ANALYSIS_TIMEOUT_MS,
    load_film,
    model_for_tests,
    review_window,
    shipped_model_card,
    show_film,
)


def to_widget(view, x: float, y: float) -> QPoint:
    return view.graphics.mapFromScene(view.view_box.mapViewToScene(QPointF(x, y)))


def mouse_drag(qtbot, view, start_xy, end_xy, steps: int = 6) -> None:
    """A real left-button drag on the image, from image point to image point."""
    viewport = view.graphics.viewport()
    start, end = to_widget(view, *start_xy), to_widget(view, *end_xy)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for k in range(1, steps + 1):
        QTest.mouseMove(viewport, start + (end - start) * (k / steps))
        qtbot.wait(5)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def detail_numbers(window) -> dict[str, str]:
    values = window.detail_panel.values()
    return {k: values[k] for k in ("Ha", "Hm", "Hp", "Ha/Hp (wedge)", "Height loss", "VC")}


def expected_numbers(m) -> dict[str, str]:
    return {"Ha": f"{fmt.height(m.ha)} {m.unit}", "Hm": f"{fmt.height(m.hm)} {m.unit}",
            "Hp": f"{fmt.height(m.hp)} {m.unit}", "Ha/Hp (wedge)": fmt.ratio(m.wedge_ratio),
            "Height loss": fmt.percent(m.height_loss) + (
                f" ({fmt.height(m.height_loss_mm)} mm)" if m.height_loss_mm is not None else ""),
            "VC": f"{fmt.percent(m.vc)} (vs {fmt.neighbours(m.vc_levels, 'no neighbour')})"}


def test_sample_study_review_with_the_shipped_model(qtbot, tmp_path, monkeypatch):
    card = shipped_model_card()
    window, controller = review_window(qtbot, tmp_path, monkeypatch)
    window.resize(1400, 1000)
    window.auto_analyse = True
    exports = tmp_path / "exports"
    exports.mkdir()
    from dataclasses import replace

    controller.set_prefs(replace(controller.prefs, export_dir=str(exports), reader="Smith^Jane"))
    results = []
    controller.analysis_done.connect(results.append)
    window.open_path(str(sample_study_dir()))
    qtbot.waitUntil(lambda: bool(results) or "failed" in window.banner.text(),
                    timeout=ANALYSIS_TIMEOUT_MS)
    assert results, window.banner.text()  # an analysis error fails here, with its message
    result = results[0]
    assert result.model_id == card.id and result.model_version == card.version
    assert card.version in window.device_label.text()
    session = controller.session
    measurable = [f for f in session.annotation.vertebrae
                  if session.measurements.by_id[f.finding_id].measurable]
    assert measurable, "the shipped model found no measurable vertebra on the sample film"
    body = measurable[len(measurable) // 2]
    view = window.image_view

    # click the body: the detail panel shows exactly measure_study's numbers
    cx, cy = body.centre()
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=to_widget(view, cx, cy))
    assert controller.selected == body.finding_id
    before = measure_study(controller.annotation).by_id[body.finding_id]
    assert detail_numbers(window) == expected_numbers(before)

    # drag its superior anterior landmark down: Ha shrinks, live, in one undo step
    span = body.landmarks[:, 1].max() - body.landmarks[:, 1].min()
    view.view_box.setRange(xRange=(cx - 2 * span, cx + 2 * span),
                           yRange=(cy - 2 * span, cy + 2 * span), padding=0)
    qtbot.wait(20)
    start = body.landmarks[0]
    mouse_drag(qtbot, view, start, start + (0.0, 0.25 * span))
    after = measure_study(controller.annotation).by_id[body.finding_id]
    assert after.ha < before.ha and detail_numbers(window) == expected_numbers(after)
    assert controller.session.undo_label.startswith("move superior anterior")
    window.actions["undo"].trigger()
    assert detail_numbers(window) == expected_numbers(before) and not controller.session.can_undo

    # drag again, renumber the whole column, export
    mouse_drag(qtbot, view, start, start + (0.0, 0.2 * span))
    levels = controller.annotation.levels
    window.actions["renumber_up"].trigger()
    renumbered = controller.annotation
    assert renumbered.levels == renumber(levels, -1) != levels  # every level one higher, S1 stays
    assert controller.session.undo_label == "renumber column by -1"
    with qtbot.waitSignal(controller.saving.exported, timeout=30_000) as exported:
        window.actions["export"].trigger()
    report = exported.args[0]
    assert "json" in report.written and not controller.is_dirty

    # reopen: the corrected annotation comes back, the model does not run again
    with qtbot.assertNotEmitted(controller.analysis_done, wait=200):
        with qtbot.waitSignal(window.image_loaded, timeout=30_000):
            window.open_path(str(sample_study_dir()))
    assert not controller.analysing
    reopened = controller.annotation
    assert reopened.levels == renumbered.levels
    for old, new in zip(renumbered.findings, reopened.findings, strict=True):
        assert old.finding_id == new.finding_id and old.reader_edited == new.reader_edited
        if old.landmarks is not None:
            assert np.allclose(old.landmarks, new.landmarks)
    assert (exports / Path(report.written["json"]).name).is_file()


def test_cancelling_an_analysis_midway_leaves_nothing_running(qtbot, tmp_path, monkeypatch):
    window, controller = review_window(qtbot, tmp_path, monkeypatch, model=model_for_tests())
    show_film(window, load_film("film1_normal"))
    results = []
    controller.analysis_done.connect(results.append)
    controller.analyse()
    task = controller.runner.current
    assert task is not None and window.progress_panel.isVisible()
    with qtbot.waitSignal(task.progress, timeout=ANALYSIS_TIMEOUT_MS):
        pass
    with qtbot.waitSignal(task.cancelled, timeout=5000):
        window.actions["cancel_job"].trigger()  # Esc, like the progress panel's Cancel
    qtbot.waitUntil(lambda: task.is_finished, timeout=ANALYSIS_TIMEOUT_MS)
    assert not [t for t in running_threads() if t.objectName() == "vcfviewer-analysing"]
    qtbot.wait(50)
    assert results == [] and controller.session is None
    assert not window.progress_panel.isVisible()
    # the model stays loaded for the next image, and switching images cancels a running analysis
    assert controller.model.loaded is not None
    controller.analyse()
    second = controller.runner.current
    show_film(window, load_film("film2_wedge"))
    assert second.is_cancelled
    qtbot.waitUntil(lambda: second.is_finished, timeout=ANALYSIS_TIMEOUT_MS)
    qtbot.wait(50)
    assert results == [] and controller.session is None


def test_a_model_that_cannot_load_becomes_a_message(qtbot, tmp_path, monkeypatch):
    from vcfviewer.gui.review.analysis import ModelHolder
    from vcfviewer.models.weights import WeightsError

    def broken(_model_id, _preset):
        raise WeightsError("models/vcf-lateral.safetensors: sha256 does not match the model card")

    window, controller = review_window(qtbot, tmp_path, monkeypatch, model=ModelHolder(broken))
    show_film(window, load_film("film1_normal"))
    with qtbot.waitCallback(timeout=ANALYSIS_TIMEOUT_MS) as done:
        controller.analyse()
        controller.runner.current.finished.connect(done)
    assert window.banner.level == "error"
    assert window.banner.text() == ("Analysis failed: models/vcf-lateral.safetensors: sha256 does "
                                    "not match the model card")
    assert controller.session is None and controller.model.loaded is None


def test_reanalysing_with_the_patient_facing_the_other_way(qtbot, tmp_path, monkeypatch):
    window, controller = review_window(qtbot, tmp_path, monkeypatch, model=model_for_tests())
    show_film(window, load_film("film2_wedge"))
    results = []
    controller.analysis_done.connect(results.append)
    assert not window.actions["analyse_other_way"].isEnabled()  # nothing analysed yet
    controller.analyse()
    qtbot.waitUntil(lambda: bool(results), timeout=ANALYSIS_TIMEOUT_MS)
    first = results[0].proposal.facing
    assert first in ("left", "right")
    assert f"read facing {first}" in window.statusBar().currentMessage()
    assert window.actions["analyse_other_way"].isEnabled()
    window.actions["analyse_other_way"].trigger()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=ANALYSIS_TIMEOUT_MS)
    other = "left" if first == "right" else "right"
    assert results[1].proposal.facing == other
    assert any(f.startswith(f"analysed facing {other}, as the reader asked")
               for f in controller.annotation.flags)

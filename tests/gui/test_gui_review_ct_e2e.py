"""End to end with the real CT pipeline: a simulated CT series written with pydicom is opened,
analysed whole by the shipped model (``models.ct.analyze_volume``), reviewed on its planes,
corrected, exported in every format and restored on reopening."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vcfviewer.core.morphometry import measure_study
from vcfviewer.gui.review import formatting as fmt

from review_support import ANALYSIS_TIMEOUT_MS, review_window, shipped_model_card

EXPORT_TIMEOUT_MS = 60_000


@pytest.fixture
def simulated_ct(tmp_path):
    """A small simulated axial CT series (16 sagittal planes of 1.5 mm) written with pydicom."""
    from vcfviewer.synth.ct import simulate_ct_volume
    from vcfviewer.synth.ct_writer import write_ct_series

    ct = simulate_ct_volume(5, pixel_mm=1.5, slice_mm=3.0, lateral_mm=24.0)
    return write_ct_series(ct, tmp_path / "sim", "ct")["series"]


def test_a_simulated_ct_is_analysed_reviewed_exported_and_restored(qtbot, tmp_path, monkeypatch,
                                                                   simulated_ct):
    shipped_model_card()
    window, controller = review_window(qtbot, tmp_path, monkeypatch)
    export_dir = tmp_path / "exports"
    export_dir.mkdir()
    controller.set_prefs(replace(controller.prefs, export_dir=str(export_dir), reader="Test^Ct"))
    window.auto_analyse = True
    with qtbot.waitSignal(controller.analysis_done, timeout=ANALYSIS_TIMEOUT_MS) as blocker:
        window.open_path(str(simulated_ct))
    view = window.image_view
    annotation = blocker.args[0].proposal.annotation
    assert annotation.image.plane_count == view.plane_count and annotation.image.plane_index is None
    bodies = [f for f in annotation.vertebrae if f.landmarks is not None]
    assert bodies and all(0 <= f.plane_index < view.plane_count for f in annotation.findings)
    # select a body through the table: the view goes to its plane, numbers are measure_study's
    body = bodies[len(bodies) // 2]
    table = window.findings_table
    table.selectRow(table.finding_ids.index(body.finding_id))
    assert view.plane_index == body.plane_index
    m = measure_study(controller.annotation).by_id[body.finding_id]
    values = window.detail_panel.values()
    if m.measurable:
        assert values["Ha"] == f"{fmt.height(m.ha)} mm"
    assert values["Plane"] == f"measured on plane {body.plane_index + 1} of {view.plane_count}"
    # drag its upper anterior corner down by 2 pixels on the plane on screen
    target = body.landmarks[0] + (0.0, 2.0)
    handles = controller.handles
    handles.drag_started.emit(body.finding_id, 0)
    handles.drag_moved.emit(body.finding_id, 0, float(target[0]), float(target[1]))
    handles.drag_finished.emit(body.finding_id, 0)
    edited = controller.annotation
    assert np.allclose(edited.finding(body.finding_id).landmarks[0], target)
    with qtbot.waitSignal(controller.saving.exported, timeout=EXPORT_TIMEOUT_MS) as done:
        assert controller.saving.export()
    report = done.args[0]
    assert report.ok and {"json", "csv", "sr", "seg", "key_image"} <= set(report.written), \
        report.summary()
    with qtbot.waitSignal(window.image_loaded, timeout=ANALYSIS_TIMEOUT_MS):
        window.open_path(str(simulated_ct))
    assert controller.runner.current is None  # restored from the export, no new analysis
    restored = controller.annotation
    assert restored.image.plane_count == view.plane_count
    assert np.allclose(restored.finding(body.finding_id).landmarks,
                       edited.finding(body.finding_id).landmarks)
    assert restored.finding(body.finding_id).plane_index == body.plane_index

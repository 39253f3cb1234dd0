"""CT review: a whole-volume analysis whose bodies lie on different sagittal planes.

The CT series is written with pydicom; the "analysis" is a fake returning a hand-made proposal
(L1 on plane 9, L2 on plane 13, the sacrum on plane 11), so these tests are about the viewer:
full drawing on a body's own plane, ghosts elsewhere, plane jumps on selection, edits on the
plane on screen, autosave and restore keyed by the volume.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from vcfviewer.core.annotation import image_ref_for
from vcfviewer.core.reformat import sagittal_plane
from vcfviewer.gui.autosave import image_key, same_image, same_volume
from vcfviewer.gui.review import planes
from vcfviewer.gui.widgets.findings_table import COLUMNS

from ct_support import L1_PLANE, L2_PLANE, SACRUM_PLANE, ct_proposal, fake_ct_holder
from review_support import review_window

LOAD_MS = 30_000


def click_image(qtbot, window, x: float, y: float) -> None:
    """A real left click on image pixel (x, y) of the plane on screen."""
    view = window.image_view
    scene_point = view.view_box.mapViewToScene(QPointF(x, y))
    widget_point = view.graphics.mapFromScene(scene_point)
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)


def open_ct(qtbot, window, folder) -> None:
    with qtbot.waitSignal(window.image_loaded, timeout=LOAD_MS):
        window.open_path(str(folder))


@pytest.fixture
def ct_review(qtbot, tmp_path, monkeypatch, ct_review_folder):
    """A window that opened the CT series and analysed it (automatically, as on open)."""
    calls: list = []
    window, controller = review_window(qtbot, tmp_path, monkeypatch, model=fake_ct_holder(calls))
    controller.saving.autosaver._timer.setInterval(50)  # the 2 s debounce, shortened
    window.auto_analyse = True
    with qtbot.waitSignal(controller.analysis_done, timeout=LOAD_MS):
        open_ct(qtbot, window, ct_review_folder)
    assert calls == [window.image_view.volume]  # the whole volume went to the analysis
    qtbot.waitUntil(lambda: not controller._overlays_pending)
    return window, controller


def label_kinds(controller) -> dict[str, bool]:
    """Finding id -> True when its label is drawn as a ghost."""
    return {fid: spec[4] for fid, spec in controller.painter._label_specs.items()}


def test_each_plane_draws_its_own_bodies_and_ghosts_the_others(qtbot, ct_review):
    from vcfviewer.core.reformat import BONE_WINDOW, mid_sagittal_index

    window, controller = ct_review
    view = window.image_view
    annotation = controller.annotation
    # opened at the mid-sagittal plane in the bone window; the reader did not scroll during the
    # analysis, so the view then moved to the median of the bodies' planes (9 and 13 -> the upper)
    assert mid_sagittal_index(view.volume) not in (L1_PLANE, L2_PLANE)
    assert view.plane_index == L2_PLANE and view.window == BONE_WINDOW
    assert annotation.image.plane_count == view.plane_count == 24
    assert annotation.image.plane_index is None
    view.set_plane(L1_PLANE)
    assert {fid for fid, _ in controller.handles.item.keys} == {"l1"}
    assert len(controller.handles) == 6
    assert label_kinds(controller) == {"l1": False, "l2": True, "s1": True}
    assert "plane 14" in controller.painter.label_items["l2"].toHtml()  # L2 lives on plane 14
    ghost_x, _ = controller.painter._curves["ghosts"][0].getData()
    assert np.isnan(ghost_x).sum() == 2  # two ghost outlines (L2's polygon, the sacrum's contour)
    corner = view.corners.text("top_right")
    assert corner.startswith(f"Sagittal {L1_PLANE + 1} / 24")
    assert "1 body measured here, 1 on other planes" in corner
    view.set_plane(L2_PLANE)
    assert {fid for fid, _ in controller.handles.item.keys} == {"l2"}
    assert label_kinds(controller) == {"l1": True, "l2": False, "s1": True}
    view.set_plane(SACRUM_PLANE)
    assert len(controller.handles) == 0 and label_kinds(controller)["s1"] is False
    assert "No body measured here (2 on other planes)" in view.corners.text("top_right")
    table = window.findings_table
    assert table.cell_text("l1", "plane") == str(L1_PLANE + 1)
    assert table.cell_text("s1", "plane") == f"▸ {SACRUM_PLANE + 1}"
    assert not table.isColumnHidden([k for k, _ in COLUMNS].index("plane"))


def test_selecting_a_body_goes_to_its_plane(qtbot, ct_review):
    window, controller = ct_review
    view, table = window.image_view, window.findings_table
    view.set_plane(0)
    table.selectRow(table.finding_ids.index("l2"))  # a table click
    assert controller.selected == "l2" and view.plane_index == L2_PLANE
    assert window.detail_panel.values()["Plane"] == f"measured on plane {L2_PLANE + 1} of 24"
    assert view.plane_slider.value() == L2_PLANE
    window.actions["previous_body"].trigger()  # Shift+N: the body above
    assert controller.selected == "l1" and view.plane_index == L1_PLANE
    click_image(qtbot, window, 20.0, 43.0)  # inside L2's ghost outline
    assert controller.selected == "l2" and view.plane_index == L2_PLANE
    click_image(qtbot, window, 20.0, 22.0)  # L1 is a ghost here too
    assert controller.selected == "l1" and view.plane_index == L1_PLANE
    click_image(qtbot, window, 44.0, 4.0)  # nothing there
    assert controller.selected is None and view.plane_index == L1_PLANE


def test_a_drag_moves_only_the_body_on_the_plane_on_screen(qtbot, ct_review):
    window, controller = ct_review
    view = window.image_view
    before = controller.annotation
    view.set_plane(L1_PLANE)
    handles = controller.handles
    handles.drag_started.emit("l1", 0)
    for y in (15.0, 16.0, 17.0):
        handles.drag_moved.emit("l1", 0, 10.0, y)
    handles.drag_finished.emit("l1", 0)
    after = controller.annotation
    assert after.finding("l1").landmarks[0].tolist() == [10.0, 17.0]
    assert after.finding("l1").plane_index == L1_PLANE and after.finding("l1").reader_edited
    assert after.finding("l2") == before.finding("l2")
    assert handles.position("l1", 0) == (10.0, 17.0)
    view.set_plane(L2_PLANE)  # changing planes keeps the edit
    view.set_plane(L1_PLANE)
    assert controller.annotation.finding("l1").landmarks[0].tolist() == [10.0, 17.0]
    window.actions["undo"].trigger()  # one drag = one undo step
    assert controller.annotation.finding("l1") == before.finding("l1")


def test_adding_a_body_on_a_ct_puts_it_on_the_plane_on_screen(qtbot, ct_review):
    window, controller = ct_review
    view = window.image_view
    view.set_plane(5)
    controller.begin_add_body("T12")
    for x, y in [(10, 2), (20, 2), (30, 2), (10, 10), (20, 10), (30, 10)]:
        click_image(qtbot, window, x, y)
    added = controller.annotation.by_level("T12")
    assert added is not None and added.plane_index == 5 and added.added_by_reader
    assert controller.selected == added.finding_id and view.plane_index == 5
    assert {fid for fid, _ in controller.handles.item.keys} == {added.finding_id}
    # relabel, grade and delete work as on radiographs
    controller.relabel("T11")
    controller.set_grade(1)
    assert controller.annotation.by_level("T11").grade == 1
    window.actions["delete_body"].trigger()
    assert controller.annotation.levels == ["L1", "L2", "S1"]
    window.actions["renumber_up"].trigger()
    assert controller.annotation.levels == ["T12", "L1", "S1"]
    assert controller.annotation.by_level("L1").plane_index == L2_PLANE  # planes stay with bodies


def test_autosave_and_reopen_restore_the_whole_volume_annotation(qtbot, ct_review,
                                                                 ct_review_folder):
    window, controller = ct_review
    saver = controller.saving.autosaver
    with qtbot.waitSignal(saver.saved, timeout=10_000) as blocker:
        controller.session.move_landmark("l2", 3, (10.0, 49.0), drag_id="t")
    path = blocker.args[0]
    ref = controller.annotation.image
    assert path.endswith(f"series-{ref.series_instance_uid}_n24.annotation.json")
    edited = controller.annotation
    window.image_view.set_plane(3)  # the plane on screen does not matter
    open_ct(qtbot, window, ct_review_folder)  # reopening: no new analysis, the autosave returns
    assert controller.runner.current is None
    restored = controller.annotation
    assert restored is not None and restored.image.plane_count == 24
    assert restored.finding("l2").landmarks.tolist() == edited.finding("l2").landmarks.tolist()
    assert restored.finding("l2").plane_index == L2_PLANE and controller.is_dirty
    controller.select("l2")
    assert window.image_view.plane_index == L2_PLANE


def test_export_passes_the_volume_and_reopening_restores_the_export(qtbot, ct_review, tmp_path,
                                                                    monkeypatch,
                                                                    ct_review_folder):
    import vcfviewer.io.export as export

    window, controller = ct_review
    seen = {}
    real = export.export_study

    def spy(image, annotation, out_dir, **kwargs):
        seen.update(kwargs, image=image)
        formats = ("json", "csv")  # the viewer's part; CT exports are tested in tests/io
        return real(image, annotation, out_dir, formats=formats,
                    **{k: v for k, v in kwargs.items() if k in ("measurements",)})

    def spy_with_volume(image, annotation, out_dir, source_dicom_path=None, measurements=None,
                        volume=None):
        return spy(image, annotation, out_dir, source_dicom_path=source_dicom_path,
                   measurements=measurements, volume=volume)

    monkeypatch.setattr(export, "export_study", spy_with_volume)
    controller.set_prefs(replace(controller.prefs, export_dir=str(tmp_path / "out")))
    (tmp_path / "out").mkdir()
    controller.session.set_grade("l1", 1, "wedge")
    with qtbot.waitSignal(controller.saving.exported, timeout=LOAD_MS) as blocker:
        assert controller.saving.export()
    assert blocker.args[0].ok, blocker.args[0].summary()
    assert seen["volume"] is window.image_view.volume and seen["source_dicom_path"] is None
    assert seen["image"] is window.image_view.radiograph
    assert not controller.is_dirty
    open_ct(qtbot, window, ct_review_folder)
    assert controller.runner.current is None  # restored from the export, not re-analysed
    assert controller.annotation.finding("l1").grade == 1 and not controller.is_dirty


def one_plane(annotation, plane: int):
    """The same bodies as an annotation of one plane (what earlier versions wrote)."""
    image = replace(annotation.image, plane_index=plane, plane_count=None)
    findings = tuple(replace(f, plane_index=None) for f in annotation.findings)
    return replace(annotation, image=image, findings=findings)


@pytest.mark.parametrize("kept_in", ["autosave", "export"])
def test_an_older_one_plane_ct_annotation_still_opens(qtbot, tmp_path, monkeypatch,
                                                      ct_review_folder, kept_in):
    from vcfviewer.gui.review.storage import exported_json_path
    from vcfviewer.io.annotation_json import write_annotation

    window, controller = review_window(qtbot, tmp_path, monkeypatch, model=fake_ct_holder())
    window.auto_analyse = True
    saver = controller.saving.autosaver
    export_dir = tmp_path / "exports"
    export_dir.mkdir()
    controller.set_prefs(replace(controller.prefs, export_dir=str(export_dir)))
    # what a first opening would analyse, saved the old way: every body on plane 7
    open_ct(qtbot, window, ct_review_folder)
    controller.runner.cancel()
    qtbot.waitUntil(lambda: controller.runner.current is None, timeout=LOAD_MS)
    old = one_plane(ct_proposal(window.image_view.volume).annotation, 7)
    target = (saver.folder / f"{image_key(old.image)}.annotation.json" if kept_in == "autosave"
              else exported_json_path(old.image, export_dir))
    assert target.name.endswith("_p7.annotation.json") or kept_in == "export"
    saver.folder.mkdir(parents=True, exist_ok=True)
    write_annotation(old, target)
    open_ct(qtbot, window, ct_review_folder)
    assert controller.runner.current is None  # restored, not re-analysed
    assert controller.annotation.image.plane_index == 7
    assert window.image_view.plane_index == 7  # the view goes to the annotation's plane
    assert {fid for fid, _ in controller.handles.item.keys} == {"l1", "l2"}
    window.image_view.set_plane(8)
    assert len(controller.handles) == 0 and set(label_kinds(controller).values()) == {True}
    controller.select("l2")
    assert window.image_view.plane_index == 7
    assert window.detail_panel.values()["Plane"] == "measured on plane 8"


def small_volume():
    """A Volume shaped like ``ct_review_folder``'s: 24 sagittal planes of 79 × 48."""
    from vcfviewer.core.image import SourceRef, Volume, Window

    return Volume(voxels=np.zeros((40, 48, 24), np.float32), spacing_mm=(1.6, 0.8, 0.8),
                  origin=(0.0, 0.0, 0.0), direction=np.eye(3), window=Window(40.0, 400.0),
                  source=SourceRef(path="/data/ct", series_instance_uid="1.2.3"))


def test_plane_split_and_notes_without_a_gui():
    annotation = ct_proposal(small_volume()).annotation
    split = planes.split(annotation, L1_PLANE)
    assert split.on_plane.levels == ["L1"]
    assert [(f.level, p) for f, p in split.ghosts] == [("L2", L2_PLANE), ("S1", SACRUM_PLANE)]
    assert planes.split(annotation, None).on_plane is annotation  # a radiograph: everything
    assert planes.plane_note(annotation, L2_PLANE) == "1 body measured here, 1 on other planes"
    assert planes.plane_note(annotation, 0) == "No body measured here (2 on other planes)"
    assert planes.plane_note(None, 0) == ""
    assert planes.planes_text(annotation, annotation.finding("l2")) == \
        f"measured on plane {L2_PLANE + 1} of 24"


def test_ct_references_are_keyed_by_series_and_plane_count():
    annotation = ct_proposal(small_volume()).annotation
    ref = annotation.image
    assert image_key(ref) == "series-1.2.3_n24"
    assert same_image(ref, replace(ref, path="/moved/ct"))  # the series UID decides
    assert not same_image(ref, replace(ref, series_instance_uid="1.2.4"))
    assert not same_image(ref, replace(ref, plane_count=25))
    old = replace(ref, plane_count=None, plane_index=4)
    assert not same_image(ref, old) and same_volume(ref, old)
    nifti = replace(ref, series_instance_uid=None, path="/data/ct.nii.gz")
    assert image_key(nifti).startswith("path-") and image_key(nifti).endswith("_n24")
    assert same_image(nifti, replace(nifti, path="/data/../data/ct.nii.gz"))
    assert not same_volume(nifti, replace(nifti, path="/data/other.nii.gz"))
    plane_ref = image_ref_for(sagittal_plane(small_volume(), 3), plane_count=24)
    assert same_image(plane_ref, ref)  # any plane of the volume names the same annotation


def test_a_ct_analysis_can_be_cancelled_midway(qtbot, tmp_path, monkeypatch, ct_review_folder):
    import threading

    from vcfviewer.core.progress import Progress
    from vcfviewer.gui.review.analysis import ModelHolder
    from vcfviewer.gui.workers import running_threads

    from ct_support import FakeAnalyzer

    release = threading.Event()
    steps: list[int] = []

    def slow(_analyzer, volume):
        for i in range(200):
            steps.append(i)
            yield Progress("ct", i / 200, f"plane {i}")
            release.wait(0.02)
        return ct_proposal(volume)

    holder = ModelHolder(factory=lambda *_: FakeAnalyzer(), volume_analysis=slow)
    window, controller = review_window(qtbot, tmp_path, monkeypatch, model=holder)
    open_ct(qtbot, window, ct_review_folder)
    window.actions["analyse"].trigger()
    task = controller.runner.current
    assert task is not None and "CT volume" in task.label
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=LOAD_MS)
    window.actions["cancel_job"].trigger()  # Esc
    qtbot.waitUntil(lambda: task.is_finished, timeout=LOAD_MS)
    assert len(steps) < 200 and controller.session is None
    assert not [t for t in running_threads() if t.objectName().startswith("vcfviewer-analysing")]


@pytest.mark.parametrize("ct_model", ["vcf-ct", "vcf-lateral"])
def test_the_model_holder_keeps_a_ct_model_beside_the_radiograph_one(monkeypatch, ct_model):
    import vcfviewer.models.registry as registry
    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.gui.review.analysis import ModelHolder

    from ct_support import FakeAnalyzer, fake_volume_analysis

    monkeypatch.setattr(registry, "model_id_for",
                        lambda kind: ct_model if kind == "ct" else "vcf-lateral")
    built: list[str] = []

    def factory(model_id, _preset):
        built.append(model_id)
        return FakeAnalyzer(model_id=model_id)

    holder = ModelHolder(factory=factory, volume_analysis=fake_volume_analysis())
    first = run_to_completion(holder.warm_job("balanced"))
    assert first.model_id == "vcf-lateral"
    expected = ["vcf-lateral", "vcf-ct"] if ct_model == "vcf-ct" else ["vcf-lateral"]
    assert built == expected  # one shared model when CT has none of its own
    result = run_to_completion(holder.volume_job(small_volume(), "balanced"))
    assert result.model_id == ct_model and result.proposal.annotation.image.plane_count == 24
    assert holder.loaded.model_id == "vcf-lateral" and built == expected  # nothing loaded twice


def test_a_volume_that_is_not_ct_is_not_analysed(qtbot, tmp_path, monkeypatch):
    calls: list = []
    window, controller = review_window(qtbot, tmp_path, monkeypatch, model=fake_ct_holder(calls))
    mr = replace(small_volume(), units="")
    window.image_view.show_volume(mr, "MR")
    window.image_loaded.emit(mr)
    controller.analyse()
    assert controller.runner.current is None and calls == []
    assert "Only CT volumes" in window.statusBar().currentMessage()

"""Export, restore on reopen, autosave and recovery, the close prompt, and the preferences."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from vcfviewer.gui.autosave import find_autosave, image_key, list_autosaves, same_image
from vcfviewer.gui.review.prefs import (
    KEY_EXPORT_DIR,
    KEY_OPACITY,
    PreferencesDialog,
    ReviewPrefs,
    load_prefs,
    save_prefs,
)
from vcfviewer.gui.review.saving import CANCEL, DISCARD
from vcfviewer.io.annotation_json import read_annotation

from review_support import load_film, review_truth, review_window, show_film

EXPORT_TIMEOUT_MS = 30_000


@pytest.fixture
def reviewing(qtbot, tmp_path, monkeypatch):
    window, controller = review_window(qtbot, tmp_path, monkeypatch)
    controller.saving.autosaver._timer.setInterval(50)  # the 2 s debounce, shortened
    annotation = review_truth(window, controller, "film2_wedge")
    controller.set_prefs(replace(controller.prefs, export_dir=str(tmp_path / "exports"),
                                 reader="Smith^Jane"))
    (tmp_path / "exports").mkdir()
    return window, controller, annotation


def nudge(controller, annotation, level: str = "L3", dy: float = 12.0) -> np.ndarray:
    """One landmark drag (one undo step); returns the new point."""
    finding = annotation.by_level(level)
    target = finding.landmarks[0] + (0.0, dy)
    controller.session.move_landmark(finding.finding_id, 0, target, drag_id="t")
    controller.session.end_drag()
    return target


def export_and_wait(qtbot, controller):
    with qtbot.waitSignal(controller.saving.exported, timeout=EXPORT_TIMEOUT_MS) as blocker:
        assert controller.saving.export()
    return blocker.args[0]


def test_export_writes_every_format_and_reopening_restores_it(qtbot, reviewing, tmp_path):
    window, controller, annotation = reviewing
    target = nudge(controller, annotation)
    assert controller.is_dirty and window.windowTitle().startswith("•")
    report = export_and_wait(qtbot, controller)
    assert report.ok, report.summary()
    assert set(report.written) == {"json", "csv", "sr", "seg", "key_image", "training_set"}
    assert not controller.is_dirty and not window.windowTitle().startswith("•")
    saved = read_annotation(report.written["json"])
    assert saved.provenance.reader == "Smith^Jane"
    assert not (controller.saving.autosaver.path_for(saved.image)).exists()
    show_film(window, load_film("film1_normal"))  # another image, then back
    assert controller.session is None
    show_film(window, load_film("film2_wedge"))
    restored = controller.annotation
    assert restored is not None and not controller.is_dirty
    l3 = restored.by_level("L3")
    assert np.allclose(l3.landmarks[0], target) and l3.reader_edited
    assert [f.finding_id for f in restored.findings] == [f.finding_id for f in annotation.findings]
    assert "exported annotation" in window.statusBar().currentMessage()


def test_rerunning_the_model_over_corrections_asks_first(qtbot, reviewing):
    window, controller, annotation = reviewing
    nudge(controller, annotation)
    asked = []
    controller.confirm_replace = lambda: asked.append(True) or False
    window.actions["analyse"].trigger()
    assert asked and not controller.analysing and controller.is_dirty


def test_autosave_follows_edits_and_an_unexported_review_comes_back(qtbot, reviewing):
    window, controller, annotation = reviewing
    saver = controller.saving.autosaver
    with qtbot.waitSignal(saver.saved, timeout=10_000) as blocker:
        target = nudge(controller, annotation)
    path = Path(blocker.args[0])
    assert path == saver.path_for(annotation.image) and path.name.startswith(image_key(annotation.image))
    assert np.allclose(read_annotation(path).by_level("L3").landmarks[0], target)
    entries = list_autosaves(saver.folder)
    assert [e.path for e in entries] == [path] and entries[0].image_name == "film2_wedge.dcm"
    show_film(window, load_film("film1_normal"))  # leaving keeps the corrections on disk
    assert path.exists() and controller.session is None
    show_film(window, load_film("film2_wedge"))
    assert controller.is_dirty  # restored from the autosave: still not exported
    assert np.allclose(controller.annotation.by_level("L3").landmarks[0], target)
    assert "autosave" in window.statusBar().currentMessage()
    controller.undo()  # the restored state is where undo starts: nothing to undo
    assert controller.is_dirty


def test_undoing_back_to_the_saved_state_drops_the_autosave(qtbot, reviewing):
    window, controller, annotation = reviewing
    saver = controller.saving.autosaver
    with qtbot.waitSignal(saver.saved, timeout=10_000):
        nudge(controller, annotation)
    controller.undo()
    assert not controller.is_dirty and not saver.path_for(annotation.image).exists()
    assert find_autosave(annotation.image, saver.folder) is None


def test_closing_with_unsaved_corrections_asks(qtbot, reviewing):
    window, controller, annotation = reviewing
    nudge(controller, annotation)
    controller.saving.ask_unsaved = lambda: CANCEL
    window.close()
    assert window.isVisible()
    controller.saving.autosaver.flush()
    path = controller.saving.autosaver.path_for(annotation.image)
    assert path.exists()
    controller.saving.ask_unsaved = lambda: DISCARD
    window.close()
    assert not window.isVisible() and not path.exists()


def test_close_prompt_export_closes_after_the_export(qtbot, reviewing):
    from vcfviewer.gui.review.saving import EXPORT

    window, controller, annotation = reviewing
    nudge(controller, annotation)
    controller.saving.ask_unsaved = lambda: EXPORT
    with qtbot.waitSignal(controller.saving.exported, timeout=EXPORT_TIMEOUT_MS):
        window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert not controller.is_dirty


def test_recovery_is_offered_at_start_and_reopens_the_image(qtbot, reviewing):
    window, controller, annotation = reviewing
    saver = controller.saving.autosaver
    with qtbot.waitSignal(saver.saved, timeout=10_000):
        nudge(controller, annotation)
    controller.saving.offer_recovery()
    box = controller.saving.recovery_box
    assert box.isVisible() and "film2_wedge.dcm" in box.text()
    opened = []
    window.open_path = lambda path: opened.append(path)  # the scan itself is tested elsewhere
    box.buttons()[0].click()  # Recover
    assert opened == [annotation.image.path]


def test_same_image_matches_by_uid_then_path(tmp_path):
    film = load_film("film2_wedge")
    from vcfviewer.core.annotation import image_ref_for

    ref = image_ref_for(film)
    assert same_image(ref, replace(ref, path="elsewhere.dcm"))
    assert not same_image(ref, replace(ref, sop_instance_uid="1.2.3"))
    assert not same_image(ref, replace(ref, plane_index=3))
    png = replace(ref, sop_instance_uid=None, path=str(tmp_path / "a.png"))
    assert same_image(png, replace(png, path=str(tmp_path / "." / "a.png")))
    assert not same_image(png, replace(png, path=str(tmp_path / "b.png")))
    assert image_key(png) != image_key(replace(png, path=str(tmp_path / "b.png")))


def test_preferences_round_trip_and_damaged_values_fall_back(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    assert load_prefs(settings) == ReviewPrefs()
    chosen = ReviewPrefs(auto_analyse=False, threshold_preset="high_ppv", colour_scheme="grade",
                         export_dir=str(tmp_path), reader="Dr A", mask_opacity=0.6)
    save_prefs(settings, chosen)
    assert load_prefs(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)) == chosen
    settings.setValue(KEY_OPACITY, "lots")
    settings.setValue(KEY_EXPORT_DIR, None)
    damaged = load_prefs(settings)
    assert damaged.mask_opacity == ReviewPrefs().mask_opacity and damaged.export_dir == ""
    dialog = PreferencesDialog(chosen, ["balanced", "high_ppv"])
    qtbot.addWidget(dialog)
    assert dialog.prefs() == chosen
    dialog.reader.setText("  Dr B ")
    dialog.auto_analyse.setChecked(True)
    assert dialog.prefs() == replace(chosen, reader="Dr B", auto_analyse=True)

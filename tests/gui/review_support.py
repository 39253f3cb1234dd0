"""Helpers for the review tests: the sample study's films and truth, a window with the review
installed (isolated settings and user folder), the shipped model, a tiny untrained model."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import pytest

from vcfviewer.core.annotation import Proposal, StudyAnnotation
from vcfviewer.core.image import Radiograph
from vcfviewer.paths import sample_study_dir

ANALYSIS_TIMEOUT_MS = 60_000
LOAD_TIMEOUT_MS = 30_000


def sample_file(name: str) -> Path:
    """A film of the bundled sample study, e.g. ``sample_file("film2_wedge")``."""
    return sample_study_dir() / f"{name}.dcm"


@functools.lru_cache(maxsize=4)
def load_film(name: str) -> Radiograph:
    """A sample film, decoded once per test session (Radiograph is immutable)."""
    from vcfviewer.io.loader import load_path_sync

    return load_path_sync(sample_file(name))


def truth(name: str) -> StudyAnnotation:
    """The simulator's exact annotation of a sample film, pointing at the film's real path."""
    from vcfviewer.io.annotation_json import read_annotation

    annotation = read_annotation(sample_study_dir() / "truth" / f"{name}.json")
    return replace(annotation, image=replace(annotation.image, path=str(sample_file(name))))


def review_window(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model=None):
    """A shown MainWindow with the review installed; nothing touches the reader's own files."""
    from vcfviewer.gui.main_window import MainWindow
    from vcfviewer.gui.review import install_review
    from vcfviewer.gui.review.saving import DISCARD

    monkeypatch.setenv("VCFVIEWER_HOME", str(tmp_path / "home"))
    window = MainWindow(auto_analyse=False)
    controller = install_review(window, model=model, offer_recovery=False, warm_up=False)
    controller.saving.ask_unsaved = lambda: DISCARD  # never a modal box in a test
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window, controller


def show_film(window, image: Radiograph, caption: str = "film") -> None:
    """Put ``image`` on screen as if it had been loaded (without scanning a folder)."""
    window.image_view.show_radiograph(image, caption)
    window.image_loaded.emit(image)


def review_truth(window, controller, name: str = "film2_wedge") -> StudyAnnotation:
    """Show a sample film and review its truth annotation as if the model had proposed it."""
    show_film(window, load_film(name), name)
    annotation = truth(name)
    controller.start_session(Proposal(annotation=annotation))
    return annotation


def shipped_model_card():
    """The default shipped model's card, or skip (the model is trained separately)."""
    from vcfviewer.models.registry import ModelCardError, load_card

    try:
        return load_card()
    except ModelCardError as exc:
        pytest.skip(f"no shipped model: {exc}")


def model_for_tests():
    """A ModelHolder: the shipped model when there is one, else tiny untrained networks run by
    the same ``Analyzer`` code (for tests about threads and cancelling, not about findings)."""
    from vcfviewer.gui.review.analysis import ModelHolder
    from vcfviewer.models.registry import list_models

    if list_models():
        return ModelHolder()

    def tiny(_model_id, preset):
        from vcfviewer.models.inference import Analyzer, build_networks
        from vcfviewer.models.registry import ModelCard

        spec = {"film_size": 64, "film_widths": [4, 8, 16], "body_size": 32,
                "body_widths": [4, 8, 16], "crop_side_factor": 2.0, "fusion_weight": 0.5}
        card = ModelCard(id="tiny", version="0", task="test", weights_file="tiny.safetensors",
                         sha256="0" * 64, input=spec, classes={},
                         thresholds={"balanced": 0.5, "high_ppv": 0.8})
        return Analyzer.from_networks(card, *build_networks(spec), threshold_preset=preset)

    return ModelHolder(factory=tiny)

"""``vcfviewer evaluate``: run a model over a folder of simulated studies and score it.

A study is a ground-truth annotation JSON (as ``vcfviewer synth`` writes it) plus its image; the
image is found from the JSON's image path (absolute, or relative to the JSON's folder) or, failing
that, a DICOM/PNG/JPEG with the same stem beside the JSON.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from vcfviewer.core.annotation import StudyAnnotation
from vcfviewer.training.metrics import Tally

IMAGE_SUFFIXES = (".dcm", ".dicom", ".png", ".jpg", ".jpeg", "")


class EvaluationError(RuntimeError):
    """A test folder that holds no usable studies."""


def _image_for(json_path: Path, truth: StudyAnnotation) -> Path | None:
    named = Path(truth.image.path) if truth.image.path else None
    candidates = []
    if named is not None:
        candidates += [named, json_path.parent / named, json_path.parent / named.name,
                       json_path.parent.parent / named.name]
    stem = json_path.name.split(".")[0]
    for folder in (json_path.parent, json_path.parent.parent):
        candidates += [folder / f"{stem}{s}" for s in IMAGE_SUFFIXES]
    return next((c for c in candidates if c.is_file() and c.suffix != ".json"), None)


def iter_studies(folder: Path) -> Iterator[tuple[Path, Path, StudyAnnotation]]:
    """(json path, image path, truth) for every readable ground-truth JSON under ``folder``."""
    from vcfviewer.io.annotation_json import AnnotationFileError, read_annotation

    for json_path in sorted(folder.rglob("*.json")):
        try:
            truth = read_annotation(json_path)
        except (AnnotationFileError, OSError, ValueError):
            continue
        image = _image_for(json_path, truth)
        if image is not None:
            yield json_path, image, truth


def evaluate_folder(folder: Path, model_id: str | None = None, device: str | None = None,
                    preset: str = "balanced", limit: int | None = None,
                    say: Callable[[str], None] | None = None) -> dict:
    """Metrics of the model on every study in ``folder`` (see issue 5 for the list)."""
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.models.inference import Analyzer

    analyzer = Analyzer(model_id, device=device, threshold_preset=preset)
    tally = Tally()
    seconds = 0.0
    studies = list(iter_studies(Path(folder)))[:limit]
    if not studies:
        raise EvaluationError(f"{folder}: no ground-truth annotation JSON with its image found")
    for i, (_, image_path, truth) in enumerate(studies, 1):
        image = load_path_sync(image_path)
        start = time.perf_counter()
        proposal = analyzer.analyze_sync(image)
        seconds += time.perf_counter() - start
        spacing = image.spacing_mm[0] if image.spacing_mm else None
        tally.add(truth, proposal.annotation, spacing, analyzer.threshold)
        if say:
            say(f"\revaluating {i}/{len(studies)}")
    if say:
        say("\n")
    summary = tally.summary(analyzer.threshold)
    summary.update({"model_id": analyzer.model_id, "model_version": analyzer.model_version,
                    "threshold_preset": preset, "device": analyzer.device_name,
                    "seconds_per_image": round(seconds / len(studies), 3),
                    "data": str(folder)})
    return summary

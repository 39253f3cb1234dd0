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
from vcfviewer.core.progress import run_to_completion
from vcfviewer.training.metrics import Tally

IMAGE_SUFFIXES = (".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".nii.gz", ".nii", "")


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
    # a CT series is a folder of slices
    return next((c for c in candidates if (c.is_file() and c.suffix != ".json")
                 or (c.is_dir() and c != json_path.parent and truth.image.is_reformat)), None)


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


def column_notes(flags: tuple[str, ...]) -> dict[str, bool]:
    """Which column notes a proposal carries, by the summary key that counts them."""
    from vcfviewer.models.confidence import APART_MARK, EDGE_MARK, is_tall_note

    return {"tall_body_noted_images": any(is_tall_note(n) for n in flags),
            "read_apart_images": any(APART_MARK in n for n in flags),
            "edge_doubt_noted_images": any(EDGE_MARK in n for n in flags)}


def evaluate_folder(folder: Path, model_id: str | None = None, device: str | None = None,
                    preset: str = "balanced", limit: int | None = None,
                    say: Callable[[str], None] | None = None) -> dict:
    """Metrics of the model on every study in ``folder`` (see issue 5 for the list), plus
    ``column_failures``: each image whose column is not entirely right, and why."""
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.models.confidence import uncertain_levels
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.models.registry import model_id_for

    tally = Tally()
    seconds = 0.0
    studies = list(iter_studies(Path(folder)))[:limit]
    if not studies:
        raise EvaluationError(f"{folder}: no ground-truth annotation JSON with its image found")
    # A folder of CT truths is scored with the CT model unless one is named.
    kind = "ct" if all(t.image.is_reformat for _, _, t in studies) else "radiograph"
    analyzer = Analyzer(model_id or model_id_for(kind), device=device, threshold_preset=preset)
    for i, (json_path, image_path, truth) in enumerate(studies, 1):
        image = load_path_sync(image_path)
        start = time.perf_counter()
        proposal = predict(analyzer, image)
        seconds += time.perf_counter() - start
        tally.add(truth, proposal.annotation, scored_spacing(proposal), analyzer.threshold,
                  name=json_path.stem, facing=proposal.facing,
                  doubted=uncertain_levels(proposal.annotation.flags),
                  column_notes=column_notes(proposal.annotation.flags))
        if say:
            say(f"\revaluating {i}/{len(studies)}")
    if say:
        say("\n")
    summary = tally.summary(analyzer.threshold)
    summary.update({"model_id": analyzer.model_id, "model_version": analyzer.model_version,
                    "threshold_preset": preset, "device": analyzer.device_name,
                    "seconds_per_image": round(seconds / len(studies), 3),
                    "data": str(folder),
                    "column_failures": [{"image": name, "problems": problems}
                                        for name, problems in tally.column_failures]})
    return summary


def predict(analyzer, image):
    """The analyzer's proposal for a film, or for a whole CT volume."""
    from vcfviewer.core.image import Volume

    if isinstance(image, Volume):
        return run_to_completion(analyzer.analyze_volume(image))
    return analyzer.analyze_sync(image)


def scored_spacing(proposal) -> float | None:
    """mm per pixel of the analysed image (a CT's reformat plane), None without spacing."""
    spacing = proposal.annotation.image.pixel_spacing
    return float(spacing[0]) if spacing else None


def load_studies(folders) -> list[tuple]:
    """(image, truth) for every study under ``folders`` (as ``vcfviewer synth`` writes them)."""
    from vcfviewer.io.loader import load_path_sync

    studies = [s for folder in folders for s in iter_studies(Path(folder))]
    if not studies:
        raise EvaluationError(f"{', '.join(map(str, folders))}: no ground-truth annotation JSON "
                              "with its image found")
    return [(load_path_sync(image), truth) for _, image, truth in studies]

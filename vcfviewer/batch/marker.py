"""The per-study ``done.json`` marker that makes a batch resumable.

It is written last, atomically, after every export of the study succeeded, and records what
produced the outputs (model id + version, preset, formats, de-identification) plus the summary
row. A later run skips the study only when the marker is readable, was made the same way, and
every output it lists still exists; otherwise the study is analysed again.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcfviewer import __version__

if TYPE_CHECKING:  # pragma: no cover
    from vcfviewer.batch.task import StudyResult, StudyTask

MARKER = "done.json"
FORMAT = "vcfviewer.batch.done"
VERSION = 1


def _recipe(task: "StudyTask", model_version: str | None) -> dict[str, Any]:
    """What must match for earlier outputs to stand in for a new run."""
    recipe = {"model_id": task.model_id, "model_version": model_version,
              "threshold_preset": task.threshold_preset, "formats": sorted(task.formats),
              "deidentify": task.deidentify}
    if task.facing != "auto":  # absent when automatic, so markers of earlier versions still hold
        recipe["facing"] = task.facing
    return recipe


def write(folder: Path, task: "StudyTask", result: "StudyResult") -> Path:
    """Write the marker for a study whose exports all succeeded."""
    from vcfviewer.core.annotation import now_iso
    from vcfviewer.io import atomic

    doc = {"format": FORMAT, "version": VERSION, "key": task.key, "finished": now_iso(),
           "software_version": __version__,
           "recipe": _recipe(task, result.model_version),
           "result": result.to_dict()}
    # never keep the source path in the marker: it may name the patient (the summary has it)
    doc["result"]["source"] = ""
    return atomic.write_text(folder / MARKER, json.dumps(doc, indent=2) + "\n")


def clear(folder: Path) -> None:
    """Remove a marker before a study's outputs are rewritten."""
    with contextlib.suppress(OSError):
        (folder / MARKER).unlink()


def completed(folder: Path, task: "StudyTask", model_version: str | None) -> "StudyResult | None":
    """The recorded result when ``folder`` holds complete outputs made the way ``task`` asks."""
    from vcfviewer.batch.task import OK, StudyResult

    try:
        doc = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("key") != task.key:
            return None
        if doc.get("recipe") != _recipe(task, model_version):
            return None
        result = StudyResult.from_dict(doc["result"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable or foreign: analyse again
    if result.status != OK or not all((folder / name).exists() for name in result.outputs):
        return None
    return result

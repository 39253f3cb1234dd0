"""Model cards as data (no torch): what a shipped model is, how to feed it, how well it did.

A card is ``models/<id>.json`` beside ``models/<id>.safetensors``. The GUI lists cards, shows the
metrics and the operating-point presets, and the inference code reads the input spec from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcfviewer import paths

DEFAULT_MODEL_ID = "vcf-lateral"
CT_MODEL_ID = "vcf-ct"  # sagittal CT planes in HU; falls back to the lateral model when absent
CARD_SCHEMA = 1


class ModelCardError(ValueError):
    """A missing or malformed model card; the message names the file and the field."""


@dataclass(frozen=True)
class ModelCard:
    """One model's card (see module docstring); ``thresholds`` maps preset → probability."""

    id: str
    version: str
    task: str
    weights_file: str
    sha256: str
    input: dict[str, Any]
    classes: dict[str, list[str]]
    thresholds: dict[str, float]
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    design: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        for preset in ("balanced", "high_ppv"):
            value = self.thresholds.get(preset)
            if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
                raise ModelCardError(f"{self.path or self.id}: thresholds.{preset} must be a "
                                     f"probability in [0, 1], got {value!r}")
        if len(self.sha256) != 64:
            raise ModelCardError(f"{self.path or self.id}: sha256 must be 64 hex digits")

    def threshold(self, preset: str) -> float:
        """The fracture probability threshold of a named preset."""
        if preset not in self.thresholds:
            raise ModelCardError(f"model {self.id} has no threshold preset {preset!r}; "
                                 f"known: {', '.join(sorted(self.thresholds))}")
        return float(self.thresholds[preset])

    def to_json(self) -> dict[str, Any]:
        """The card as the JSON object written to ``models/<id>.json``."""
        return {"schema": CARD_SCHEMA, "id": self.id, "version": self.version, "task": self.task,
                "weights_file": self.weights_file, "sha256": self.sha256, "input": self.input,
                "classes": self.classes, "thresholds": self.thresholds, "metrics": self.metrics,
                "training": self.training, "design": self.design,
                "description": self.description}


_REQUIRED = ("id", "version", "task", "weights_file", "sha256", "input", "classes", "thresholds")


def card_from_json(data: dict[str, Any], path: Path | None = None) -> ModelCard:
    """Build a card from its JSON object, naming the missing field on error."""
    where = str(path) if path else "model card"
    if not isinstance(data, dict):
        raise ModelCardError(f"{where}: expected a JSON object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ModelCardError(f"{where}: missing field(s) {', '.join(missing)}")
    keys = _REQUIRED + ("metrics", "training", "design", "description")
    return ModelCard(**{k: data[k] for k in keys if k in data}, path=path)


def write_card(data: dict[str, Any], path: Path) -> Path:
    """Write a card's JSON object to ``path`` atomically (a crash never leaves half a card)."""
    from vcfviewer.io.atomic import write_text

    return write_text(path, json.dumps(data, indent=2) + "\n")


def load_card(model_id: str | None = None, folder: Path | None = None) -> ModelCard:
    """Read ``<models dir>/<model_id>.json`` (default model when None)."""
    model_id = model_id or DEFAULT_MODEL_ID
    path = (folder or paths.models_dir()) / f"{model_id}.json"
    if not path.is_file():
        raise ModelCardError(f"no model card {path} (models folder: {path.parent}; "
                             "set VCFVIEWER_MODELS to use another)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelCardError(f"{path}: cannot read the model card ({exc})") from None
    return card_from_json(data, path)


def list_models(folder: Path | None = None) -> list[ModelCard]:
    """Every readable model card in the models folder (unreadable ones are skipped)."""
    root = folder or paths.models_dir()
    cards = []
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            cards.append(load_card(path.stem, root))
        except ModelCardError:
            continue
    return cards


def model_id_for(kind: str, folder: Path | None = None) -> str:
    """The model that reads ``kind`` ("radiograph" or "ct"): the CT model when it is shipped."""
    if kind not in ("radiograph", "ct"):
        raise ValueError(f"unknown image kind {kind!r} (expected 'radiograph' or 'ct')")
    if kind == "ct" and ((folder or paths.models_dir()) / f"{CT_MODEL_ID}.json").is_file():
        return CT_MODEL_ID
    return DEFAULT_MODEL_ID

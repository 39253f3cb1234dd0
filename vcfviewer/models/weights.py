"""Locate and verify model weights: safetensors only (never pickle), sha256 checked against the card.

Folder order: ``VCFVIEWER_MODELS`` (a site's own or a freshly trained model), then the bundled
``models/`` — both through ``vcfviewer.paths.models_dir()``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from vcfviewer.models.registry import ModelCard, ModelCardError, load_card


class WeightsError(RuntimeError):
    """Weights that are missing, corrupted or do not match their model card."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(card: ModelCard) -> Path:
    """The weights file named by ``card`` (beside the card), which must exist."""
    if card.path is None:
        raise WeightsError(f"model {card.id}: the card was not read from a file")
    path = card.path.parent / card.weights_file
    if path.suffix != ".safetensors":
        raise WeightsError(f"{path}: only .safetensors weights are accepted (no pickle)")
    if not path.is_file():
        raise WeightsError(f"{path}: weights file missing for model {card.id}")
    return path


def verified_weights(model_id: str | None = None) -> tuple[ModelCard, Path]:
    """Card + weights path after checking the file's sha256 against the card."""
    try:
        card = load_card(model_id)
    except ModelCardError as exc:
        raise WeightsError(str(exc)) from None
    path = locate(card)
    actual = sha256_file(path)
    if actual != card.sha256:
        raise WeightsError(f"{path}: sha256 {actual[:12]}… does not match the model card "
                           f"({card.sha256[:12]}…); the file is corrupted or from another model")
    return card, path


def load_state(path: Path) -> dict:
    """Tensors from a safetensors file (imports torch lazily)."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own types; give the reader one message
        raise WeightsError(f"{path}: cannot read the weights ({exc})") from None

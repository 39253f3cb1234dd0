"""Fixtures for the batch tests: one tiny untrained model per session, pointed at by env var."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch_support import make_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding an untrained toy-size ``vcf-lateral`` model (weights + card)."""
    folder = tmp_path_factory.mktemp("models")
    make_tiny_model(folder)
    return folder


@pytest.fixture
def models_env(tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """VCFVIEWER_MODELS set to the tiny model for this test (and processes it spawns)."""
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tiny_model))
    return tiny_model

"""The one place that knows where bundled resources and shipped models live.

In a source checkout (editable install) they sit at the repository root; in an installed wheel
they are force-included as ``vcfviewer/_resources`` and ``vcfviewer/_models``.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[-1]


def resources_dir() -> Path:
    """Folder with icons, colour tables and the bundled sample study."""
    return _first_existing(_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent / "resources")


def models_dir() -> Path:
    """Folder with the shipped model weights and their model cards.

    ``VCFVIEWER_MODELS`` overrides it (a site's own models, or a freshly trained one).
    """
    override = os.environ.get("VCFVIEWER_MODELS")
    if override:
        return Path(override)
    return _first_existing(_PACKAGE_DIR / "_models", _PACKAGE_DIR.parent / "models")


def sample_study_dir() -> Path:
    """The bundled synthetic sample study that ``vcfviewer --sample`` opens."""
    return resources_dir() / "sample_study"


def user_data_dir() -> Path:
    """Per-user folder for autosaves and settings that are not Qt settings."""
    base = os.environ.get("VCFVIEWER_HOME") or os.environ.get("XDG_DATA_HOME")
    root = Path(base) if base else Path.home() / ".local" / "share"
    return root / "vcfviewer" if not os.environ.get("VCFVIEWER_HOME") else root

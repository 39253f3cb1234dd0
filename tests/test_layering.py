"""House rule 1: the layers are enforced by a test (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vcfviewer"

QT = {"PySide6", "pyqtgraph", "shiboken6"}
TORCH = {"torch", "safetensors.torch"}
HEAVY_IO = {"pydicom", "highdicom", "nibabel", "cv2", "PIL", "scipy", "pylibjpeg"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(subpackage: str | None = None) -> list[Path]:
    root = PACKAGE / subpackage if subpackage else PACKAGE
    return sorted(root.rglob("*.py"))


def _hits(names: set[str], banned: set[str]) -> set[str]:
    return {n for n in names if any(n == b or n.startswith(b + ".") for b in banned)}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_qt_only_in_gui(path: Path) -> None:
    if "gui" in path.relative_to(PACKAGE).parts[:1]:
        return
    assert not _hits(_imports(path), QT), f"{path} imports Qt outside vcfviewer.gui"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_torch_only_in_models_and_training(path: Path) -> None:
    if path.relative_to(PACKAGE).parts[0] in {"models", "training"}:
        return
    assert not _hits(_imports(path), TORCH), f"{path} imports torch outside models/training"


@pytest.mark.parametrize("path", _modules("core"), ids=lambda p: p.name)
def test_core_is_pure(path: Path) -> None:
    banned = QT | TORCH | HEAVY_IO
    assert not _hits(_imports(path), banned), f"{path}: core must stay numpy-only"


def test_importing_core_and_io_pulls_no_qt_or_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, vcfviewer.core.annotation, vcfviewer.core.levels, vcfviewer.core.image;"
        "import vcfviewer.paths;"
        "bad=[m for m in ('torch','PySide6','pyqtgraph') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

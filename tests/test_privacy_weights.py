"""Safety: model weights are never unpickled (source scan) and only safetensors are accepted."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vcfviewer"
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "cloudpickle"}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _keyword_is(call: ast.Call, name: str, value: object) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
               for k in call.keywords)


def problems_in(source: str, where: str) -> list[str]:
    """Pickle-based loading in one module's source."""
    tree = ast.parse(source, filename=where)
    found = []
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        found += [f"{where}: imports {n}" for n in names if n.split(".")[0] in PICKLE_MODULES]
    for call in _calls(tree):
        name = _dotted(call.func)
        if name.endswith("torch.load") and not _keyword_is(call, "weights_only", True):
            found.append(f"{where}:{call.lineno}: torch.load without weights_only=True")
        if name in ("torch.jit.load", "pd.read_pickle", "pandas.read_pickle"):
            found.append(f"{where}:{call.lineno}: {name} unpickles")
        if name.endswith(("np.load", "numpy.load")) and _keyword_is(call, "allow_pickle", True):
            found.append(f"{where}:{call.lineno}: np.load(allow_pickle=True)")
    return found


def test_the_scanner_catches_unsafe_loading() -> None:
    bad = ("import pickle\nimport torch\nfrom joblib import load\n"
           "torch.load('w.pt')\ntorch.load('w.pt', weights_only=False)\n"
           "np.load('x.npy', allow_pickle=True)\n")
    assert len(problems_in(bad, "bad.py")) == 5
    good = "import torch\ntorch.load('w.pt', weights_only=True, map_location='cpu')\n"
    assert problems_in(good, "good.py") == []


def test_no_module_unpickles_anything() -> None:
    found = [p for path in sorted(PACKAGE.rglob("*.py"))
             for p in problems_in(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))]
    assert found == []


def test_only_safetensors_weights_are_accepted(tmp_path: Path) -> None:
    from vcfviewer.models.registry import ModelCard
    from vcfviewer.models.weights import WeightsError, locate

    (tmp_path / "m.pt").write_bytes(b"\x80\x04pickle")
    card = ModelCard(id="m", version="1", task="t", weights_file="m.pt", sha256="0" * 64,
                     input={}, classes={}, thresholds={"balanced": 0.5, "high_ppv": 0.8},
                     path=tmp_path / "m.json")
    with pytest.raises(WeightsError, match="only .safetensors"):
        locate(card)

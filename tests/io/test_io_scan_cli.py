"""``vcfviewer scan``: table or JSON on stdout, progress on stderr, exit 0 despite problems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_io_factory import write_ct_series, write_dicom

from vcfviewer.__main__ import main


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    write_ct_series(tmp_path / "ct", [0.0, 1.0, 2.0])
    write_dicom(tmp_path / "cr.dcm", np.zeros((4, 5), np.uint16), PixelSpacing=[0.1, 0.1],
                SeriesDescription="Lateral")
    (tmp_path / "junk.bin").write_bytes(b"\x00junk")
    return tmp_path


def test_table_lists_series_and_problems(folder: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["scan", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "volume     CT        3 img  6x8" in captured.out
    assert "radiograph CR        1 img  5x4" in captured.out and "Lateral" in captured.out
    assert f"! {folder / 'junk.bin'}: not a DICOM file" in captured.out
    assert "1 file(s) could not be used" in captured.out
    assert "scan:" in captured.err  # progress went to stderr, not into the listing


def test_json_output(folder: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["scan", "--json", "--quiet", str(folder)]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["files_seen"] == 5 and data["series_count"] == 2
    kinds = sorted(s["kind"] for p in data["patients"] for st in p["studies"]
                   for s in st["series"])
    assert kinds == ["radiograph", "volume"]
    assert data["problems"] == [{"path": str(folder / "junk.bin"), "reason": "not a DICOM file"}]
    assert captured.err == ""


def test_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["scan", str(tmp_path / "absent")]) == 2
    assert "no such file or folder" in capsys.readouterr().err

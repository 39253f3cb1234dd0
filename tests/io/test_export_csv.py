"""CSV table: one row per vertebra with the engine's numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from export_support import make_annotation

from vcfviewer.core.morphometry import measure_study
from vcfviewer.io.csv_export import COLUMNS, write_csv


def test_one_row_per_finding_with_engine_numbers(tmp_path: Path) -> None:
    annotation = make_annotation()
    ms = measure_study(annotation)
    path = write_csv(annotation, ms, tmp_path / "t.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["level"] for r in rows] == ["T12", "L1", "L2", "L3", "S1"]
    assert tuple(rows[0]) == COLUMNS
    l1 = rows[1]
    m = ms.by_level["L1"]
    # L1 Ha: (16 rows × 0.5 mm) = 8 mm; Hp 12.5 mm
    assert float(l1["ha"]) == pytest.approx(8.0) and float(l1["hp"]) == pytest.approx(12.5)
    assert float(l1["height_loss"]) == pytest.approx(m.height_loss, abs=1e-4)
    assert l1["reference_levels"] == ";".join(m.reference_levels)
    assert (l1["grade"], l1["fracture_type"], l1["fracture_probability"]) == ("2", "wedge", "0.8750")
    assert (l1["unit"], l1["lookalikes"], l1["reader_edited"]) == ("mm", "osteophyte", "no")
    s1 = rows[4]
    assert s1["measurable"] == "no" and "sacrum" in s1["not_measurable_reason"]
    assert s1["ha"] == "" and s1["measured_grade"] == ""
    assert rows[3]["added_by_reader"] == "yes"


def test_measurements_are_computed_when_not_given(tmp_path: Path) -> None:
    annotation = make_annotation(spacing=None)
    path = write_csv(annotation, None, tmp_path / "t.csv")
    rows = list(csv.DictReader(path.open()))
    assert rows[1]["unit"] == "px" and float(rows[1]["ha"]) == pytest.approx(16.0)
    assert rows[1]["height_loss_mm"] == ""

"""The findings table as CSV, one row per vertebra, for spreadsheets.

Numbers come from ``core.morphometry`` only. Lengths are in the study's unit (column ``unit``),
ratios and height loss as fractions (0.25 = 25 %), empty cells where a value does not exist.
``plane`` is the CT sagittal plane the body was measured on, numbered from 1 as the viewer shows
it (empty on radiographs).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement, measure_study
from vcfviewer.io import atomic

COLUMNS: tuple[str, ...] = (
    "level", "plane", "finding_id", "measurable", "not_measurable_reason", "unit", "ha", "hm", "hp",
    "wedge_ratio", "biconcave_ratio", "crush_ratio", "reference_height", "reference_levels",
    "height_loss", "height_loss_mm", "vc", "vc_levels", "flattening", "measured_grade",
    "measured_type", "borderline", "grade", "fracture_type", "fracture_probability",
    "reader_edited", "added_by_reader", "lookalikes",
)
_DIGITS = 4


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{_DIGITS}f}"
    if isinstance(value, tuple):
        return ";".join(str(v) for v in value)
    return str(value)


def row_for(finding: VertebraFinding, m: VertebraMeasurement,
            plane: int | None = None) -> dict[str, str]:
    """One CSV row (all strings) for a finding and its measurement; ``plane`` is the CT
    sagittal plane index (0-based; written 1-based, as the viewer shows it) or None."""
    values: dict[str, object] = {
        "level": finding.level, "plane": None if plane is None else int(plane) + 1,
        "finding_id": finding.finding_id, "measurable": m.measurable,
        "not_measurable_reason": m.reason, "unit": m.unit, "ha": m.ha, "hm": m.hm, "hp": m.hp,
        "wedge_ratio": m.wedge_ratio, "biconcave_ratio": m.biconcave_ratio,
        "crush_ratio": m.crush_ratio, "reference_height": m.reference_height,
        "reference_levels": m.reference_levels, "height_loss": m.height_loss,
        "height_loss_mm": m.height_loss_mm, "vc": m.vc, "vc_levels": m.vc_levels,
        "flattening": m.flattening,
        "measured_grade": int(m.measured_grade) if m.measurable else None,
        "measured_type": m.measured_type.value if m.measurable else None,
        "borderline": m.borderline if m.measurable else None,
        "grade": int(finding.grade), "fracture_type": finding.fracture_type.value,
        "fracture_probability": finding.fracture_probability,
        "reader_edited": finding.reader_edited, "added_by_reader": finding.added_by_reader,
        "lookalikes": tuple(sorted(x.value for x in finding.lookalikes)),
    }
    return {name: _fmt(values[name]) for name in COLUMNS}


def csv_text(annotation: StudyAnnotation, measurements: StudyMeasurements | None = None) -> str:
    """The CSV document (header + one row per finding, cranial → caudal)."""
    ms = measurements if measurements is not None else measure_study(annotation)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for finding in annotation.findings:
        writer.writerow(row_for(finding, ms.by_id[finding.finding_id],
                                annotation.plane_of(finding)))
    return buffer.getvalue()


def write_csv(annotation: StudyAnnotation, measurements: StudyMeasurements | None,
              path: str | os.PathLike[str]) -> Path:
    """Write the findings table atomically; returns the path."""
    return atomic.write_text(path, csv_text(annotation, measurements))

"""How the review widgets write numbers: one place, so the table, the detail panel and the tests
agree to the digit. Values always come from ``core.morphometry``; nothing is recomputed here.
"""

from __future__ import annotations

from vcfviewer.core.annotation import FractureType, VertebraFinding
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement

DASH = "—"
GRADE_WORDS = {0: "normal", 1: "mild", 2: "moderate", 3: "severe"}


def height(value: float | None) -> str:
    """A height in the study's unit: one decimal."""
    return DASH if value is None else f"{value:.1f}"


def ratio(value: float | None) -> str:
    """A ratio (Ha/Hp, Hm/Hp, crush): two decimals."""
    return DASH if value is None else f"{value:.2f}"


def percent(value: float | None) -> str:
    """A fraction as a whole percentage ("23 %")."""
    return DASH if value is None else f"{value * 100:.0f} %"


def probability(value: float | None) -> str:
    """The model's fracture probability, or a dash once the reader decided by hand."""
    return DASH if value is None else f"{value:.2f}"


def grade(finding: VertebraFinding, m: VertebraMeasurement | None) -> str:
    """The decided grade, "?" when the measured loss is borderline: "2", "2?"."""
    borderline = m is not None and m.measurable and m.borderline
    return f"{int(finding.grade)}{'?' if borderline else ''}"


def fracture_type(value: FractureType) -> str:
    """ "wedge", "biconcave", "crush", or a dash for none."""
    return DASH if value == FractureType.NONE else value.value


def level_text(finding: VertebraFinding) -> str:
    """The level with the reader's marks: ✎ changed, + added by hand."""
    marks = ("+" if finding.added_by_reader else "") + ("✎" if finding.reader_edited else "")
    return f"{finding.level} {marks}".strip()


def neighbours(levels: tuple[str, ...], empty: str = "own Hp") -> str:
    """Which bodies served as reference: "T12 + L2", or ``empty``."""
    return " + ".join(levels) if levels else empty


def disagrees(finding: VertebraFinding, m: VertebraMeasurement | None) -> bool:
    """The decided grade differs from the measured one (shown so the reader can check)."""
    return m is not None and m.measurable and int(m.measured_grade) != int(finding.grade)


def fractured_levels(findings: tuple[VertebraFinding, ...], ms: StudyMeasurements) -> str:
    """ "L1 (2), L3 (1?)" for the decided fractures, or "none"."""
    parts = [f"{f.level} ({grade(f, ms.by_id.get(f.finding_id))})"
             for f in findings if f.is_fractured]
    return ", ".join(parts) if parts else "none"

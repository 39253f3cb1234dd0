"""The grade decision: whether a body is fractured, how much, and what type.

The network's fracture probability decides WHETHER a body is fractured (threshold preset), the
landmark morphometry (``measure_study``) decides HOW MUCH (Genant grade from height loss) and the
type. A body called fractured whose measured loss is under 20 % is proposed as grade 1 with the
type of its smallest height ratio.

A body the network calls normal stays grade 0 even when its landmarks measure ≥ 25 % height
loss (short bodies and physiological wedges can); the study gets a note naming it so the reader
looks. One exception: a body flattened as a whole, every height at most ``FLATTENED`` of the
same height in its normal neighbours above AND below, is called fractured by its landmarks,
with a note saying so, unless the model doubts its outline (then the landmarks that would call
it are in doubt too). On the simulated evaluation films the network already calls every such
body but one (a normal body on a film whose column is wrong); the rule is there because the
network, trained on simulated films only, called a real flat L4 normal (model card, Ablations).
"""

from __future__ import annotations

from dataclasses import replace

from vcfviewer.core.annotation import FractureType, Grade, StudyAnnotation
from vcfviewer.core.morphometry import (BORDERLINE_MARGIN, GRADE_CUTOFFS, VertebraMeasurement,
                                        measure_study)
from vcfviewer.models.confidence import uncertain_levels

# Every height ≥ 28 % below the neighbours': moderate (25 %) beyond its ±3-point borderline band.
FLATTENED = 1.0 - (GRADE_CUTOFFS[1] + BORDERLINE_MARGIN)


def decide_grades(annotation: StudyAnnotation, threshold: float) -> StudyAnnotation:
    """Set each body's grade/type from probability (whether) and morphometry (how much)."""
    called = {f.finding_id for f in annotation.vertebrae
              if (f.fracture_probability or 0.0) >= threshold}
    graded, measures = _graded(annotation, called)
    # One round, against the neighbours the network calls normal; the note quotes that measure.
    # Landmarks the model itself doubts (the "outline uncertain" note) call nothing.
    doubted = uncertain_levels(annotation.flags)
    flattened = {fid: m for fid, m in measures.items()
                 if fid not in called and m.level not in doubted and _is_flattened(m)}
    if flattened:
        graded, measures = _graded(annotation, called | set(flattened))
    notes = [_note(f, flattened.get(f.finding_id) or measures[f.finding_id],
                   f.finding_id in flattened)
             for f in graded.vertebrae if f.finding_id not in called and f.finding_id in measures]
    return replace(graded, flags=graded.flags + tuple(n for n in notes if n))


def _graded(annotation: StudyAnnotation, fractured: set[str]
            ) -> tuple[StudyAnnotation, dict[str, VertebraMeasurement]]:
    """``annotation`` with ``fractured`` graded by their landmarks and the rest grade 0, and the
    measurements that graded it."""
    current = annotation
    # Two passes: the neighbour reference excludes fractured neighbours, which the first pass sets.
    for _ in range(2):
        measures = measure_study(current).by_id
        findings = [replace(f, **_decision(f, measures.get(f.finding_id), f.finding_id in fractured))
                    for f in current.findings]
        current = replace(current, findings=tuple(findings))
    return current, measure_study(current).by_id


def _decision(finding, m, fractured: bool) -> dict:
    if not fractured:
        return {"grade": Grade.NORMAL, "fracture_type": FractureType.NONE}
    if finding.is_sacrum or m is None or not m.measurable:
        return {"grade": Grade.MILD, "fracture_type": FractureType.CRUSH}
    ftype = m.measured_type if m.measured_type != FractureType.NONE else _fallback_type(m)
    return {"grade": max(Grade.MILD, m.measured_grade), "fracture_type": ftype}


def _is_flattened(m) -> bool:
    return m.measurable and m.flattening is not None and m.flattening <= FLATTENED


def _note(finding, m, flattened: bool) -> str | None:
    """The reader's note on a body the network calls normal, if its landmarks disagree."""
    prob = finding.fracture_probability or 0.0
    if flattened:
        return (f"{finding.level}: called fractured by its landmarks (every height at most "
                f"{m.flattening:.0%} of the same height in {' and '.join(m.vc_levels)}), though "
                f"the model's fracture probability is {prob:.3f}")
    if m.measurable and m.measured_grade >= Grade.MODERATE:
        return (f"{finding.level}: landmarks measure {m.height_loss:.0%} height loss "
                "but the model calls it normal")
    return None


def _fallback_type(m) -> FractureType:
    ratios = {FractureType.WEDGE: m.wedge_ratio, FractureType.BICONCAVE: m.biconcave_ratio}
    ratios = {k: v for k, v in ratios.items() if v is not None}
    if not ratios or min(ratios.values()) > 0.97:
        return FractureType.CRUSH
    return min(ratios, key=ratios.get)

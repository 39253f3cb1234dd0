"""The annotation model's invariants: validation, ordering, immutability, masks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vcfviewer.core.annotation import (
    AnnotationError, BodyMask, FractureType, Grade, ImageRef, Provenance, StudyAnnotation,
    VertebraFinding,
)

BOX = [[10, 0], [20, 0], [30, 0], [10, 25], [20, 25], [30, 25]]


def _finding(level: str, dy: float = 0.0, **kw) -> VertebraFinding:
    pts = np.array(BOX, dtype=float) + [0, dy]
    return VertebraFinding(level=level, landmarks=pts, **kw)


def _study(*findings: VertebraFinding) -> StudyAnnotation:
    image = ImageRef(path="x.dcm", rows=200, columns=100, pixel_spacing=(0.2, 0.2))
    return StudyAnnotation(image=image, findings=findings, provenance=Provenance("0.1.0"))


def test_findings_are_kept_cranial_to_caudal() -> None:
    study = _study(_finding("L2", 80), _finding("L1", 40), _finding("T12"))
    assert study.levels == ["T12", "L1", "L2"]


def test_duplicate_levels_are_refused_with_the_level_named() -> None:
    with pytest.raises(AnnotationError, match="L1"):
        _study(_finding("L1"), _finding("L1", 40))


def test_landmarks_are_read_only_and_shaped_six_by_two() -> None:
    f = _finding("L1")
    assert f.landmarks.shape == (6, 2)
    with pytest.raises(ValueError):
        f.landmarks[0, 0] = 5
    with pytest.raises(AnnotationError, match="six landmarks"):
        VertebraFinding(level="L1", landmarks=[[0, 0]] * 5)
    with pytest.raises(AnnotationError, match="finite"):
        VertebraFinding(level="L1", landmarks=[[np.nan, 0]] * 6)


def test_only_the_sacrum_may_lack_landmarks() -> None:
    assert VertebraFinding(level="S1", landmarks=None).is_sacrum
    with pytest.raises(AnnotationError):
        VertebraFinding(level="L5", landmarks=None)


def test_grade_and_type_must_agree_and_probability_is_bounded() -> None:
    with pytest.raises(AnnotationError, match="disagree"):
        _finding("L1", grade=Grade.MILD)
    with pytest.raises(AnnotationError, match="probability"):
        _finding("L1", fracture_probability=1.5)
    ok = _finding("L1", grade=2, fracture_type="wedge")
    assert ok.grade is Grade.MODERATE and ok.fracture_type is FractureType.WEDGE and ok.is_fractured


def test_edited_copies_and_marks_without_touching_the_original() -> None:
    original = _finding("L1")
    changed = original.edited(grade=Grade.SEVERE, fracture_type=FractureType.CRUSH)
    assert changed.reader_edited and not original.reader_edited
    assert changed.finding_id == original.finding_id
    with pytest.raises(dataclasses.FrozenInstanceError):
        original.level = "L2"  # type: ignore[misc]


def test_with_finding_replaces_by_id() -> None:
    a, b = _finding("L1"), _finding("L2", 40)
    study = _study(a, b)
    moved = study.with_finding(b.edited(level="L3"))
    assert moved.levels == ["L1", "L3"] and study.levels == ["L1", "L2"]
    assert moved.without_finding(a.finding_id).levels == ["L3"]


def test_body_mask_round_trips_through_its_bounding_box() -> None:
    full = np.zeros((50, 40), dtype=bool)
    full[10:20, 5:9] = True
    full[12, 30] = True
    mask = BodyMask.from_full(full)
    assert (mask.top, mask.left, mask.array.shape) == (10, 5, (10, 26))
    assert np.array_equal(mask.to_full((50, 40)), full)
    assert mask.area == 41
    with pytest.raises(AnnotationError):
        BodyMask.from_full(np.zeros((4, 4), dtype=bool))


def test_centre_falls_back_to_the_mask_for_the_sacrum() -> None:
    full = np.zeros((10, 10), dtype=bool)
    full[2:4, 6:8] = True
    s1 = VertebraFinding(level="S1", landmarks=None, mask=BodyMask.from_full(full))
    assert np.allclose(s1.centre(), [6.5, 2.5])

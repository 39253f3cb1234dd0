"""Helpers for the CT review tests: a hand-made whole-volume CT proposal and a model holder whose
"analysis" returns it (the real CT pipeline has its own e2e test)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcfviewer.core.annotation import (
    BodyMask,
    FractureType,
    Grade,
    Proposal,
    Provenance,
    StudyAnnotation,
    VertebraFinding,
    image_ref_for,
)
from vcfviewer.core.image import Volume
from vcfviewer.core.progress import Progress

# Planes (0-based) the fake analysis puts its bodies on; the reformat of ``ct_review_folder``
# has 24 planes of 79 rows × 48 columns, patient facing left.
L1_PLANE, L2_PLANE, SACRUM_PLANE = 9, 13, 11


def body_points(top: float, bottom: float, front: float = 10.0, back: float = 30.0) -> np.ndarray:
    """Six landmarks of a box-shaped body: upper endplate at ``top``, lower at ``bottom``."""
    middle = (front + back) / 2.0
    return np.array([[front, top], [middle, top], [back, top],
                     [front, bottom], [middle, bottom], [back, bottom]], dtype=float)


def _box_mask(shape: tuple[int, int], top: int, bottom: int, left: int, right: int) -> BodyMask:
    full = np.zeros(shape, dtype=bool)
    full[top:bottom, left:right] = True
    return BodyMask.from_full(full)


def ct_proposal(volume: Volume) -> Proposal:
    """L1 on plane 9, L2 (wedge, grade 2) on plane 13 and the sacrum on plane 11."""
    from vcfviewer.core.reformat import sagittal_count, sagittal_plane

    plane = sagittal_plane(volume, 0)
    ref = image_ref_for(plane, plane_count=sagittal_count(volume))
    shape = (plane.rows, plane.columns)
    l2 = body_points(36.0, 50.0)
    l2[0, 1] += 6.0  # anterior upper corner lower: a wedge
    findings = (
        VertebraFinding("L1", body_points(14.0, 30.0), fracture_probability=0.1,
                        mask=_box_mask(shape, 14, 31, 10, 31), finding_id="l1",
                        plane_index=L1_PLANE),
        VertebraFinding("L2", l2, Grade.MODERATE, FractureType.WEDGE, fracture_probability=0.9,
                        mask=_box_mask(shape, 36, 51, 10, 31), finding_id="l2",
                        plane_index=L2_PLANE),
        VertebraFinding("S1", None, mask=_box_mask(shape, 58, 75, 8, 34), finding_id="s1",
                        plane_index=SACRUM_PLANE),
    )
    provenance = Provenance("test", model_id="fake-ct", model_version="0")
    return Proposal(StudyAnnotation(ref, findings, provenance), device="cpu")


@dataclass
class FakeAnalyzer:
    model_id: str = "fake-ct"
    model_version: str = "0"
    device_name: str = "CPU (fake)"
    card: object = None


def fake_volume_analysis(calls: list | None = None):
    """A ``ModelHolder`` volume analysis returning ``ct_proposal`` (records the volumes seen)."""

    def job(_analyzer, volume: Volume):
        if calls is not None:
            calls.append(volume)
        yield Progress("ct", 0.5, "scanning planes")
        return ct_proposal(volume)

    return job


def fake_ct_holder(calls: list | None = None):
    """A ModelHolder with a fake analyzer and the fake whole-volume analysis."""
    from vcfviewer.gui.review.analysis import ModelHolder

    return ModelHolder(factory=lambda _model_id, _preset: FakeAnalyzer(),
                       volume_analysis=fake_volume_analysis(calls))

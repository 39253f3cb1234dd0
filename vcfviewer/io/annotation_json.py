"""The annotation JSON file: versioned, validated on read, migrated, written atomically.

Schema: ``docs/annotation-schema.md``. What a file restores is the annotation itself (image
reference, findings with landmarks, masks, decisions and flags, provenance); the measurement
blocks are derived from ``core.morphometry`` for readers of the file and ignored on read, because
measurements are recomputed from landmarks and never stored in two places (ARCHITECTURE rule 5).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vcfviewer import __version__
from vcfviewer.core.annotation import (
    LANDMARK_NAMES, AnnotationError, BodyMask, ImageRef, Provenance, StudyAnnotation,
    VertebraFinding,
)
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement, measure_study
from vcfviewer.io import atomic
from vcfviewer.io._fields import FieldError, Fields

SCHEMA_NAME = "vcfviewer.annotation"
SCHEMA_VERSION = 2
# version → function that turns a document of that version into one of version + 1.
def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added optional CT fields (findings[].plane_index, image.plane_count): absent = null."""
    return doc


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


class AnnotationFileError(ValueError):
    """An annotation file that cannot be read; names the file, the JSON field and the reason."""

    def __init__(self, path: str | os.PathLike[str], field: str, reason: str) -> None:
        self.path, self.field, self.reason = str(path), field, reason
        where = f"{field}: " if field else ""
        super().__init__(f"{self.path}: {where}{reason}")


# --- masks ---------------------------------------------------------------------------------


def mask_to_dict(mask: BodyMask) -> dict[str, Any]:
    """A BodyMask as its bounding box plus run lengths (row-major, first run is background)."""
    flat = mask.array.ravel()
    if flat.size == 0:
        counts: list[int] = []
    else:
        edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        runs = np.diff(np.concatenate([[0], edges, [flat.size]]))
        counts = ([0] if flat[0] else []) + [int(r) for r in runs]
    h, w = mask.array.shape
    return {"top": mask.top, "left": mask.left, "height": int(h), "width": int(w), "rle": counts}


def mask_from_dict(f: Fields) -> BodyMask:
    """Inverse of ``mask_to_dict``; raises FieldError naming the bad field."""
    top, left = f.int("top", minimum=0), f.int("left", minimum=0)
    h, w = f.int("height", minimum=0), f.int("width", minimum=0)
    counts = f.list("rle")
    bad = next((i for i, c in enumerate(counts)
                if isinstance(c, bool) or not isinstance(c, int) or c < 0), None)
    if bad is not None:
        raise FieldError(f"{f.path}.rle[{bad}]", f"expected a run length ≥ 0, got {counts[bad]!r}")
    if sum(counts) != h * w:
        raise FieldError(f"{f.path}.rle", f"run lengths add up to {sum(counts)}, "
                                         f"expected height × width = {h * w}")
    values = np.arange(len(counts)) % 2 == 1
    flat = np.repeat(values, counts)
    return BodyMask(top, left, flat.reshape(h, w))


# --- write ---------------------------------------------------------------------------------


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def measurement_to_dict(m: VertebraMeasurement) -> dict[str, Any]:
    """The derived numbers of one body, as written in JSON (and used by the CSV)."""
    return {
        "measurable": m.measurable, "reason": m.reason, "unit": m.unit,
        "ha": _number(m.ha), "hm": _number(m.hm), "hp": _number(m.hp),
        "wedge_ratio": _number(m.wedge_ratio), "biconcave_ratio": _number(m.biconcave_ratio),
        "crush_ratio": _number(m.crush_ratio), "reference_height": _number(m.reference_height),
        "reference_levels": list(m.reference_levels), "height_loss": _number(m.height_loss),
        "height_loss_mm": _number(m.height_loss_mm), "measured_grade": int(m.measured_grade),
        "measured_type": m.measured_type.value, "borderline": m.borderline,
        "vc": _number(m.vc), "vc_levels": list(m.vc_levels),
        "flattening": _number(m.flattening),
    }


def _finding_to_dict(f: VertebraFinding, m: VertebraMeasurement | None) -> dict[str, Any]:
    landmarks = None
    if f.landmarks is not None:
        landmarks = {name: [float(x), float(y)]
                     for name, (x, y) in zip(LANDMARK_NAMES, f.landmarks, strict=True)}
    out: dict[str, Any] = {
        "id": f.finding_id, "level": f.level, "landmarks": landmarks, "grade": int(f.grade),
        "fracture_type": f.fracture_type.value,
        "fracture_probability": _number(f.fracture_probability),
        "reader_edited": f.reader_edited, "added_by_reader": f.added_by_reader,
        "lookalikes": sorted(x.value for x in f.lookalikes),
        "mask": mask_to_dict(f.mask) if f.mask is not None else None,
        "plane_index": f.plane_index,
    }
    if m is not None:
        out["measurement"] = measurement_to_dict(m)
    return out


def _image_to_dict(image: ImageRef) -> dict[str, Any]:
    spacing = image.pixel_spacing
    return {
        "path": image.path, "rows": image.rows, "columns": image.columns,
        "pixel_spacing": [float(spacing[0]), float(spacing[1])] if spacing is not None else None,
        "spacing_source": image.spacing_source, "sop_instance_uid": image.sop_instance_uid,
        "sop_class_uid": image.sop_class_uid, "series_instance_uid": image.series_instance_uid,
        "study_instance_uid": image.study_instance_uid, "frame_number": image.frame_number,
        "modality": image.modality, "plane_index": image.plane_index,
        "plane_count": image.plane_count,
    }


def _provenance_to_dict(p: Provenance) -> dict[str, Any]:
    return {"software_version": p.software_version, "model_id": p.model_id,
            "model_version": p.model_version, "reader": p.reader, "created": p.created,
            "modified": p.modified, "source": p.source}


def annotation_to_dict(annotation: StudyAnnotation,
                       measurements: StudyMeasurements | None = None) -> dict[str, Any]:
    """The JSON document for ``annotation`` (measurements computed when not given)."""
    ms = measurements if measurements is not None else measure_study(annotation)
    return {
        "schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION, "written_by": __version__,
        "image": _image_to_dict(annotation.image),
        "provenance": _provenance_to_dict(annotation.provenance),
        "flags": list(annotation.flags),
        "findings": [_finding_to_dict(f, ms.by_id.get(f.finding_id)) for f in annotation.findings],
        "measurements": {"unit": ms.unit, "sdi": ms.sdi, "sdi_measured": ms.sdi_measured,
                         "lumbar_count": ms.lumbar_count, "warnings": list(ms.warnings)},
    }


def annotation_to_json(annotation: StudyAnnotation,
                       measurements: StudyMeasurements | None = None) -> str:
    """The annotation file's text (UTF-8 JSON, two-space indent, no NaN)."""
    doc = annotation_to_dict(annotation, measurements)
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_annotation(annotation: StudyAnnotation, path: str | os.PathLike[str],
                     measurements: StudyMeasurements | None = None) -> Path:
    """Write the annotation file atomically (the previous file survives any error)."""
    return atomic.write_text(path, annotation_to_json(annotation, measurements))


# --- read ----------------------------------------------------------------------------------


def _landmarks_from(f: Fields) -> np.ndarray | None:
    if f.is_null():
        return None
    if isinstance(f.value, list):  # tolerated: six [x, y] pairs in LANDMARK_NAMES order
        if len(f.value) != 6:
            raise FieldError(f.path, f"expected 6 points, got {len(f.value)}")
        return np.array([f.item(i).point() for i in range(6)])
    named = f.dict()
    missing = [n for n in LANDMARK_NAMES if n not in named]
    if missing:
        raise FieldError(f.path, f"expected 6 points; missing {', '.join(missing)}")
    return np.array([f.at(name).point() for name in LANDMARK_NAMES])


def _finding_from(f: Fields) -> VertebraFinding:
    mask = f.at("mask")
    kwargs = dict(
        level=f.str("level"), landmarks=_landmarks_from(f.at("landmarks")),
        grade=f.int("grade", minimum=0, maximum=3), fracture_type=f.str("fracture_type"),
        fracture_probability=f.float("fracture_probability", optional=True),
        reader_edited=f.bool("reader_edited"),
        added_by_reader=f.bool("added_by_reader", default=False),
        lookalikes=frozenset(f.str_list("lookalikes")),
        mask=None if mask.is_null() else mask_from_dict(mask), finding_id=f.str("id"),
        plane_index=f.int("plane_index", optional=True, minimum=0),
    )
    try:
        return VertebraFinding(**kwargs)
    except (AnnotationError, ValueError) as exc:
        raise FieldError(f.path, str(exc)) from None


def _image_from(f: Fields) -> ImageRef:
    spacing = f.at("pixel_spacing")
    pair = None if spacing.is_null() else spacing.positive_pair()
    return ImageRef(
        path=f.str("path"), rows=f.int("rows", minimum=1), columns=f.int("columns", minimum=1),
        pixel_spacing=pair, spacing_source=f.str("spacing_source", default="none"),
        sop_instance_uid=f.str("sop_instance_uid", optional=True),
        sop_class_uid=f.str("sop_class_uid", optional=True),
        series_instance_uid=f.str("series_instance_uid", optional=True),
        study_instance_uid=f.str("study_instance_uid", optional=True),
        frame_number=f.int("frame_number", optional=True, minimum=1),
        modality=f.str("modality", default=""),
        plane_index=f.int("plane_index", optional=True, minimum=0),
        plane_count=f.int("plane_count", optional=True, minimum=1),
    )


def _provenance_from(f: Fields) -> Provenance:
    return Provenance(
        software_version=f.str("software_version"), model_id=f.str("model_id", optional=True),
        model_version=f.str("model_version", optional=True),
        reader=f.str("reader", optional=True), created=f.str("created"),
        modified=f.str("modified", optional=True), source=f.str("source", default="model"),
    )


def _migrate(doc: dict[str, Any]) -> dict[str, Any]:
    f = Fields(doc)
    if f.str("schema", default="") != SCHEMA_NAME:
        raise FieldError("schema", f"not a vcfviewer annotation file (expected {SCHEMA_NAME!r})")
    version = f.int("schema_version", minimum=0)
    if version > SCHEMA_VERSION:
        raise FieldError("schema_version", f"version {version} was written by a newer vcfviewer;"
                                           f" this one reads up to {SCHEMA_VERSION}")
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise FieldError("schema_version", f"no migration from version {version}")
        doc = MIGRATIONS[version](doc)
        version += 1
        doc["schema_version"] = version
    return doc


def annotation_from_dict(doc: Any) -> StudyAnnotation:
    """Validate (and migrate) a parsed document; raises FieldError naming the bad field."""
    if not isinstance(doc, dict):
        raise FieldError("", "the file's top level must be a JSON object")
    f = Fields(_migrate(doc))
    findings = f.at("findings")
    items = [_finding_from(findings.item(i)) for i in range(len(findings.list()))]
    try:
        return StudyAnnotation(image=_image_from(f.at("image")), findings=tuple(items),
                               provenance=_provenance_from(f.at("provenance")),
                               flags=tuple(f.str_list("flags", default=[])))
    except AnnotationError as exc:
        raise FieldError("findings", str(exc)) from None


def read_annotation(path: str | os.PathLike[str]) -> StudyAnnotation:
    """Read and validate an annotation file; AnnotationFileError names the field that is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = atomic.describe_os_error(exc) if isinstance(exc, OSError) else "not UTF-8 text"
        raise AnnotationFileError(path, "", f"cannot read the file: {reason}") from None
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError) as exc:
        raise AnnotationFileError(path, "", f"not valid JSON ({exc})") from None
    try:
        return annotation_from_dict(doc)
    except FieldError as exc:
        raise AnnotationFileError(path, exc.field, exc.reason) from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")

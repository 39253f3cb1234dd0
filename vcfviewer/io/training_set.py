"""Training-set folder: corrected studies written so that ``vcfviewer train`` can read them back.

Layout (format ``vcfviewer.training_set`` version 1)::

    manifest.json                 entries with provenance and split, label table
    images/<id>.png | <id>.npy    16-bit PNG when the pixels are whole numbers in 0..65535,
                                  else float32 .npy; either way read back bit-identical
    labels/<id>.png               16-bit instance label map: 0 background, k = index of the
                                  finding in the entry's annotation findings + 1 (sacrum
                                  included), the simulator's convention
    annotations/<id>.json         the annotation JSON (landmarks, grades, provenance)

The entry id is the image's SOP Instance UID (plus frame/plane), else a hash of the pixels, so
exporting the same study again replaces its entry instead of adding a second one.

A CT annotation (``export_ct_entries``) becomes one entry per sagittal plane a body lies on, id
``<series UID>_p<plane>``: that plane's pixels (HU, .npy) and the bodies measured on it, with
``modality`` "CT", ``spacing_source`` "Volume", ``plane_index``, ``plane_count`` and
``ct_group`` (the series UID) in its manifest record. Radiograph records are as before. The split is
kept from an earlier export, else drawn from a hash of the study UID (80/10/10 train/val/test),
so every image of one study lands in the same split.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vcfviewer.core.annotation import StudyAnnotation, now_iso
from vcfviewer.core.image import SpacingSource, Volume
from vcfviewer.io import annotation_json, atomic, body_masks
from vcfviewer.io._fields import FieldError, Fields

FORMAT = "vcfviewer.training_set"
VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")


class TrainingSetError(ValueError):
    """A training-set folder or entry that cannot be read; names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True, eq=False)
class TrainingEntry:
    """One exported study as the training code sees it."""

    entry_id: str
    pixels: np.ndarray  # float32 (rows, cols), as exported
    spacing: tuple[float, float] | None  # (row, col) mm
    label_map: np.ndarray  # int16 (rows, cols); k = annotation.findings[k - 1], 0 background
    annotation: StudyAnnotation
    split: str
    modality: str = ""  # "CT" for a CT sagittal plane (pixels in HU: window as CT)
    spacing_source: str = ""  # "Volume" for a CT plane
    plane_index: int | None = None  # CT: the sagittal plane the pixels are


LABEL_CONVENTION = ("0 background; k = index of the finding in the entry's annotation "
                    "findings (cranial to caudal, sacrum included) + 1")


def entry_id_for(pixels: np.ndarray, annotation: StudyAnnotation) -> str:
    """SOP Instance UID (+ frame/plane) when known, else a hash of the pixels."""
    image = annotation.image
    if image.sop_instance_uid:
        suffix = "".join([f"_f{image.frame_number}" if image.frame_number else "",
                          f"_p{image.plane_index}" if image.plane_index is not None else ""])
        return f"{image.sop_instance_uid}{suffix}"
    digest = hashlib.sha256(np.ascontiguousarray(pixels, np.float32).tobytes())
    digest.update(repr(pixels.shape).encode())
    return f"sha256-{digest.hexdigest()[:24]}"


def default_split(annotation: StudyAnnotation, entry_id: str) -> str:
    """Split from a hash of the study UID (else the entry id): 80/10/10 train/val/test."""
    key = annotation.image.study_instance_uid or entry_id
    bucket = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def _is_png16(pixels: np.ndarray) -> bool:
    finite = np.isfinite(pixels).all()
    return bool(finite and pixels.min() >= 0 and pixels.max() <= 65535
                and np.array_equal(pixels, np.round(pixels)))


def _png_bytes(array: np.ndarray, what: str, path: Path) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise atomic.ExportError(path, f"the PNG encoder failed on the {what}")
    return encoded.tobytes()


def _write_pixels(pixels: np.ndarray, folder: Path, entry_id: str) -> str:
    if _is_png16(pixels):
        rel = f"images/{entry_id}.png"
        data = _png_bytes(pixels.astype(np.uint16), "image", folder / rel)
        atomic.write_bytes(folder / rel, data)
    else:
        rel = f"images/{entry_id}.npy"
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(pixels, np.float32), allow_pickle=False)
        atomic.write_bytes(folder / rel, buffer.getvalue())
    return rel


def _entry_record(entry_id: str, files: dict[str, str], split: str, pixels: np.ndarray,
                  spacing: tuple[float, float] | None,
                  annotation: StudyAnnotation) -> dict[str, Any]:
    prov = annotation.provenance
    return {
        "id": entry_id, **files, "split": split, "rows": int(pixels.shape[0]),
        "columns": int(pixels.shape[1]),
        "spacing_mm": [float(spacing[0]), float(spacing[1])] if spacing is not None else None,
        "levels": annotation.levels,
        "fractured_levels": [f.level for f in annotation.findings if f.is_fractured],
        "provenance": {"model_id": prov.model_id, "model_version": prov.model_version,
                       "reader": prov.reader, "source": prov.source,
                       "software_version": prov.software_version,
                       "reader_edited_levels": [f.level for f in annotation.findings
                                                if f.reader_edited]},
        "exported": now_iso(),
    }


def _load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "version": VERSION, "entries": []}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        f = Fields(doc)
        if f.str("format", default="") != FORMAT:
            raise FieldError("format", f"not a vcfviewer training set (expected {FORMAT!r})")
        if f.int("version", minimum=1) > VERSION:
            raise FieldError("version", "written by a newer vcfviewer")
        f.list("entries")
    except (OSError, ValueError) as exc:
        raise TrainingSetError(path, f"cannot read the manifest: {exc}") from None
    return doc


def _add_entry(root: Path, manifest: dict[str, Any], pixels: np.ndarray,
               spacing: tuple[float, float] | None, annotation: StudyAnnotation, entry_id: str,
               split: str | None, extra: dict[str, Any] | None = None) -> None:
    """Write one entry's files and put its record into ``manifest`` (not yet written)."""
    if pixels.shape != (annotation.image.rows, annotation.image.columns):
        raise atomic.ExportError(root, f"pixels {pixels.shape} do not match the annotated image "
                                       f"({annotation.image.rows}, {annotation.image.columns})")
    old = next((e for e in manifest["entries"] if e.get("id") == entry_id), None)
    chosen = split or (old or {}).get("split") or default_split(annotation, entry_id)
    for sub in ("images", "labels", "annotations"):
        atomic.ensure_folder(root / sub)
    files = {"image": _write_pixels(pixels, root, entry_id),
             "label_map": f"labels/{entry_id}.png", "annotation": f"annotations/{entry_id}.json"}
    labels = body_masks.label_map(annotation)
    atomic.write_bytes(root / files["label_map"],
                       _png_bytes(labels.astype(np.uint16), "label map", root))
    annotation_json.write_annotation(annotation, root / files["annotation"])
    record = _entry_record(entry_id, files, chosen, pixels, spacing, annotation) | (extra or {})
    manifest["entries"] = [e for e in manifest["entries"] if e.get("id") != entry_id] + [record]
    if old and old.get("image") not in (None, files["image"]):
        # the pixels changed storage format: the old image file is no longer referenced
        (root / old["image"]).unlink(missing_ok=True)


def _write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    manifest["entries"] = sorted(manifest["entries"], key=lambda e: e["id"])
    manifest["label_convention"] = LABEL_CONVENTION
    atomic.write_text(root / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def _check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def export_entry(pixels: np.ndarray, spacing: tuple[float, float] | None,
                 annotation: StudyAnnotation, folder: str | os.PathLike[str],
                 split: str | None = None) -> str:
    """Add (or replace) one study in the training set at ``folder``; returns its entry id."""
    root = atomic.ensure_folder(folder)
    pixels = np.asarray(pixels)
    _check_split(split)
    manifest = _load_manifest(root)
    entry_id = entry_id_for(pixels, annotation)
    _add_entry(root, manifest, pixels, spacing, annotation, entry_id, split)
    _write_manifest(root, manifest)
    return entry_id


def volume_group(volume: Volume, annotation: StudyAnnotation) -> str:
    """The id shared by every plane entry of one CT volume: its Series Instance UID, else a
    hash of its geometry and a subsample of its voxels (NIfTI)."""
    uid = annotation.image.series_instance_uid or volume.source.series_instance_uid
    if uid:
        return uid
    digest = hashlib.sha256(repr((volume.shape, volume.spacing_mm, volume.origin)).encode())
    step = max(1, volume.shape[0] // 16)
    digest.update(np.ascontiguousarray(volume.voxels[::step, ::4, ::4], np.float32).tobytes())
    return f"sha256-{digest.hexdigest()[:24]}"


def _plane_annotation(annotation: StudyAnnotation, plane: int,
                      findings: list[Any]) -> StudyAnnotation:
    """The bodies measured on ``plane`` as a one-plane annotation of that plane."""
    image = replace(annotation.image, plane_index=plane)
    return replace(annotation, image=image, findings=tuple(findings))


def _drop_stale(root: Path, manifest: dict[str, Any], group: str, keep: set[str]) -> None:
    """Forget this volume's plane entries that no body lies on any more (files too)."""
    stale = [e for e in manifest["entries"]
             if e.get("ct_group") == group and e.get("id") not in keep]
    for entry in stale:
        for key in ("image", "label_map", "annotation"):
            if isinstance(entry.get(key), str):
                (root / entry[key]).unlink(missing_ok=True)
    manifest["entries"] = [e for e in manifest["entries"] if e not in stale]


def export_ct_entries(volume: Volume, annotation: StudyAnnotation,
                      folder: str | os.PathLike[str], split: str | None = None) -> list[str]:
    """Add (or replace) a CT annotation as one entry per plane a body lies on; returns the ids.

    Each entry holds that sagittal plane's pixels (HU, float32 .npy) and the bodies measured on
    it; the manifest record says ``modality`` "CT" and ``spacing_source`` "Volume" so training
    can window it as CT. Entries of planes no body lies on any more are removed, so exporting a
    study again never leaves a stale plane behind.
    """
    from vcfviewer.core import reformat
    from vcfviewer.io import ct_export

    root = atomic.ensure_folder(folder)
    _check_split(split)
    groups = ct_export.plane_findings(annotation)
    if not groups:
        raise atomic.ExportError(root, "no body of the CT annotation lies on a sagittal plane")
    manifest = _load_manifest(root)
    group = volume_group(volume, annotation)
    count = reformat.sagittal_count(volume)
    ids = []
    for plane, findings in groups.items():
        image = reformat.sagittal_plane(volume, plane)
        entry_id = f"{group}_p{plane}"
        extra = {"modality": "CT", "spacing_source": SpacingSource.VOLUME.value,
                 "plane_index": plane, "plane_count": count, "ct_group": group}
        _add_entry(root, manifest, image.pixels, image.spacing_mm,
                   _plane_annotation(annotation, plane, findings), entry_id, split, extra)
        ids.append(entry_id)
    _drop_stale(root, manifest, group, set(ids))
    _write_manifest(root, manifest)
    return ids


def _read_pixels(path: Path) -> np.ndarray:
    import cv2

    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float32)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise TrainingSetError(path, "not a readable PNG")
    return image.astype(np.float32)


def _read_entry(root: Path, f: Fields) -> TrainingEntry:
    import cv2

    files = {k: root / f.str(k) for k in ("image", "label_map", "annotation")}
    for key, path in files.items():
        if not path.is_file():
            raise TrainingSetError(path, f"entry {f.str('id')}: the {key} file is missing")
    labels = cv2.imread(str(files["label_map"]), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise TrainingSetError(files["label_map"], "not a readable PNG")
    spacing = f.at("spacing_mm")
    annotation = annotation_json.read_annotation(files["annotation"])
    return TrainingEntry(
        entry_id=f.str("id"), pixels=_read_pixels(files["image"]),
        spacing=None if spacing.is_null() else spacing.positive_pair(),
        label_map=labels.astype(np.int16), annotation=annotation, split=f.str("split"),
        modality=f.str("modality", default=annotation.image.modality),
        spacing_source=f.str("spacing_source", default=annotation.image.spacing_source),
        plane_index=f.int("plane_index", optional=True, minimum=0))


def read_training_set(folder: str | os.PathLike[str]) -> list[TrainingEntry]:
    """Every entry of the training set at ``folder``, sorted by id."""
    root = Path(folder)
    if not (root / MANIFEST).is_file():
        raise TrainingSetError(root, f"no {MANIFEST}: not a vcfviewer training set")
    entries = Fields(_load_manifest(root)).at("entries")
    try:
        return [_read_entry(root, entries.item(i)) for i in range(len(entries.list()))]
    except FieldError as exc:
        raise TrainingSetError(root / MANIFEST, str(exc)) from None

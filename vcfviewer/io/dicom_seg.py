"""DICOM Segmentation of the vertebral bodies (highdicom), for a radiograph or a CT series.

One BINARY segment per body: category SNOMED "Anatomical Structure", type the level's SNOMED code
(private 99VCFV code for T13/L6), label "<level> vertebral body". Algorithm type per segment:
AUTOMATIC for untouched model output, SEMIAUTOMATIC once the reader changed the body, MANUAL for a
body the reader added (``VertebraFinding.added_by_reader``). Masks: the finding's own mask, else
its landmark polygon (``io.body_masks``). A CT annotation (``write_seg_ct``) maps each body's
mask on its own sagittal plane to the voxels it covers (``io.ct_export.body_voxels``) and
references every slice of the series.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vcfviewer import __version__
from vcfviewer.core.annotation import Provenance, StudyAnnotation, VertebraFinding
from vcfviewer.io import atomic, body_masks, dicom_codes
from vcfviewer.io.atomic import ExportError


@dataclass(frozen=True)
class SegSegment:
    """One segment read back: its level, algorithm type and full-size mask."""

    number: int
    level: str | None
    label: str
    algorithm_type: str
    mask: np.ndarray  # (rows, cols) for a radiograph, (slices, rows, cols) for a CT series


def algorithm_type(finding: VertebraFinding) -> str:
    """AUTOMATIC, SEMIAUTOMATIC or MANUAL for one body (see module docstring)."""
    if finding.added_by_reader:
        return "MANUAL"
    return "SEMIAUTOMATIC" if finding.reader_edited else "AUTOMATIC"


def _algorithm(prov: Provenance) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    name = prov.model_id or f"vcfviewer {prov.source}"
    return hd.AlgorithmIdentificationSequence(
        name=name, family=codes.DCM.ArtificialIntelligence,
        version=prov.model_version or __version__)


def _description(number: int, level: str, kind: str, prov: Provenance, tracking: str) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=f"{level} vertebral body",
        segmented_property_category=codes.SCT.AnatomicalStructure,
        segmented_property_type=dicom_codes.level_code(level), algorithm_type=kind,
        algorithm_identification=None if kind == "MANUAL" else _algorithm(prov),
        tracking_id=f"{level} vertebral body", tracking_uid=tracking)


def _common(series_number: int, content_label: str, creator: str | None) -> dict[str, Any]:
    from pydicom.uid import generate_uid

    return dict(series_instance_uid=generate_uid(), series_number=series_number,
                sop_instance_uid=generate_uid(), instance_number=1,
                manufacturer=dicom_codes.MANUFACTURER, manufacturer_model_name="vcfviewer",
                software_versions=dicom_codes.software_versions(), device_serial_number="none",
                content_label=content_label, content_creator_name=creator,
                series_description="Vertebral bodies")


def _save(seg: Any, path: str | os.PathLike[str], patient_orientation: Any = "") -> Path:
    import pydicom

    if any(item.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator
           == dicom_codes.PRIVATE_SCHEME for item in seg.SegmentSequence):
        dicom_codes.declare_private_scheme(seg)  # T13/L6 are coded in the private scheme
    if "PatientOrientation" not in seg:
        # Type 2C in General Image when the source has no patient-space geometry (DX)
        seg.PatientOrientation = patient_orientation
    target = Path(path)
    with atomic.atomic_path(target) as tmp:
        pydicom.dcmwrite(tmp, seg, enforce_file_format=True)
    return target


def build_seg(annotation: StudyAnnotation, source: Any, series_number: int = 901) -> Any:
    """The SEG dataset for a single-frame radiograph source (not yet written)."""
    import highdicom as hd

    source = dicom_codes.usable_source(source, annotation.image.path)
    uid = annotation.image.sop_instance_uid
    if uid and str(getattr(source, "SOPInstanceUID", "")) != uid:
        raise ExportError(annotation.image.path, "the source DICOM is not the annotated image "
                                                 "(SOP Instance UIDs differ)")
    if (int(source.Rows), int(source.Columns)) != (annotation.image.rows, annotation.image.columns):
        raise ExportError(annotation.image.path, "the source DICOM's size differs from the "
                                                 "annotated image's")
    masks = body_masks.annotation_masks(annotation)
    findings = [f for f in annotation.findings if f.finding_id in masks]
    if not findings:
        raise ExportError(annotation.image.path, "no body has a mask or landmarks to segment")
    stack = np.stack([masks[f.finding_id] for f in findings], axis=-1)[np.newaxis]
    descriptions = [
        _description(i + 1, f.level, algorithm_type(f), annotation.provenance,
                     dicom_codes.tracking_uid(str(source.SOPInstanceUID), f.finding_id))
        for i, f in enumerate(findings)]
    creator = annotation.provenance.reader if annotation.reader_edited else None
    return hd.seg.Segmentation(
        source_images=[source], pixel_array=stack,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, **_common(series_number, "VERTEBRAE", creator))


def write_seg(annotation: StudyAnnotation, source: Any, path: str | os.PathLike[str],
              **options: Any) -> Path:
    """Write the radiograph's body segmentation atomically; ``options`` go to ``build_seg``."""
    orientation = getattr(source, "PatientOrientation", "") or ""
    return _save(build_seg(annotation, source, **options), path, orientation)


def _volume_seg(labels: np.ndarray, descriptions: list[Any], source_slices: Sequence[Any],
                creator: str | None, series_number: int) -> Any:
    """A SEG over a series' slices from a label volume whose values are segment numbers."""
    import highdicom as hd

    return hd.seg.Segmentation(
        source_images=list(source_slices), pixel_array=labels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, **_common(series_number, "VERTEBRAE", creator))


def write_seg_volume(label_volume: np.ndarray, level_names: Mapping[int, str],
                     source_slices: Sequence[Any], path: str | os.PathLike[str],
                     algorithm: str = "AUTOMATIC", provenance: Provenance | None = None,
                     series_number: int = 901) -> Path:
    """Write a CT series' vertebra label volume (slices in ``source_slices`` order) as a SEG.

    ``level_names`` maps label values to levels (e.g. {27: "L5", 25: "S1"}); label values not
    named are left out. ``algorithm`` is the algorithm type of every segment.
    """
    source_slices = [dicom_codes.usable_source(ds, str(path)) for ds in source_slices]
    labels = np.asarray(label_volume)
    if labels.ndim != 3 or labels.shape[0] != len(source_slices):
        raise ExportError(path, f"label volume shape {labels.shape} does not match "
                                f"{len(source_slices)} source slices")
    present = [int(v) for v in np.unique(labels) if int(v) in level_names]
    if not present:
        raise ExportError(path, "the label volume contains none of the named levels")
    prov = provenance or Provenance(__version__, source="model")
    remap = np.zeros(int(labels.max()) + 1, dtype=np.uint8)
    for number, value in enumerate(present, start=1):
        remap[value] = number
    series = str(source_slices[0].SeriesInstanceUID)
    descriptions = [_description(n, level_names[v], algorithm, prov,
                                 dicom_codes.tracking_uid(series, level_names[v]))
                    for n, v in enumerate(present, start=1)]
    seg = _volume_seg(remap[np.clip(labels, 0, None)], descriptions, source_slices, None,
                      series_number)
    return _save(seg, path)


def _per_slice(labels: np.ndarray, slice_of_voxel: np.ndarray, count: int) -> np.ndarray:
    """Voxel-slice labels folded onto the acquired slices (a resampled stack repeats one)."""
    if len(slice_of_voxel) == count and np.array_equal(slice_of_voxel, np.arange(count)):
        return labels
    out = np.zeros((count,) + labels.shape[1:], dtype=labels.dtype)
    for k, i in enumerate(slice_of_voxel):
        np.maximum(out[i], labels[k], out=out[i])
    return out


def build_seg_ct(annotation: StudyAnnotation, series: Any, series_number: int = 901) -> Any:
    """The SEG of a CT annotation over its series (``ct_export.CtSeries``), not yet written.

    Each body's mask on its own sagittal plane becomes the voxels it covers
    (``ct_export.body_voxels``); one segment per body, algorithm type per body as for films.
    """
    from vcfviewer.io import ct_export

    labels, bodies = ct_export.label_volume(series.volume, annotation)
    if not bodies:
        raise ExportError(annotation.image.path, "no body has a mask or landmarks to segment")
    labels = _per_slice(labels, series.slice_of_voxel, len(series.slices))
    descriptions = [
        _description(i + 1, f.level, algorithm_type(f), annotation.provenance,
                     dicom_codes.tracking_uid(series.series_instance_uid, f.finding_id))
        for i, f in enumerate(bodies)]
    creator = annotation.provenance.reader if annotation.reader_edited else None
    return _volume_seg(labels, descriptions, series.slices, creator, series_number)


def write_seg_ct(annotation: StudyAnnotation, series: Any, path: str | os.PathLike[str],
                 **options: Any) -> Path:
    """Write the CT annotation's body segmentation atomically (see ``build_seg_ct``)."""
    return _save(build_seg_ct(annotation, series, **options), path)


def read_seg_masks(path: str | os.PathLike[str],
                   source_uids: Sequence[str] | None = None) -> list[SegSegment]:
    """Every segment of a SEG we wrote, with its mask at the source images' size.

    Read with pydicom frame by frame (highdicom 0.28 cannot re-open a SEG whose source has no
    slice thickness, as a radiograph does). ``source_uids`` gives the slice order of a CT series;
    by default the order the SEG lists its source instances in.
    """
    import pydicom

    ds = pydicom.dcmread(path)
    order = list(source_uids) if source_uids is not None else [
        str(item.ReferencedSOPInstanceUID) for item in _referenced_instances(ds)]
    frames = ds.pixel_array.reshape(int(getattr(ds, "NumberOfFrames", 1)), ds.Rows, ds.Columns)
    masks = {int(item.SegmentNumber): np.zeros((len(order), ds.Rows, ds.Columns), bool)
             for item in ds.SegmentSequence}
    for frame, group in zip(frames, ds.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        source = group.DerivationImageSequence[0].SourceImageSequence[0]
        masks[number][order.index(str(source.ReferencedSOPInstanceUID))] |= frame.astype(bool)
    return [_segment(item, masks[int(item.SegmentNumber)]) for item in ds.SegmentSequence]


def _segment(item: Any, mask: np.ndarray) -> SegSegment:
    code = item.SegmentedPropertyTypeCodeSequence[0]
    level = dicom_codes.level_from_code(str(code.CodeValue), str(code.CodingSchemeDesignator))
    return SegSegment(int(item.SegmentNumber), level, str(item.SegmentLabel),
                      str(item.SegmentAlgorithmType), mask[0] if mask.shape[0] == 1 else mask)


def _referenced_instances(ds: Any) -> list[Any]:
    items: list[Any] = []
    for series in ds.ReferencedSeriesSequence:
        items.extend(series.ReferencedInstanceSequence)
    return items

"""DICOM Structured Report (TID 1500 Measurement Report) of vertebral morphometry, via highdicom.

One measurement group (TID 1501) per vertebral body (the sacrum is not measured): tracking
identifier "<level> vertebral body", finding site = the level's SNOMED code, Ha/Hm/Hp in mm (or
``{pixels}`` when the image has no spacing) each referencing its two landmarks as a SCOORD
POLYLINE on the source image, ratios (UCUM "1"), height loss and VC (UCUM "%"), reference height,
fracture probability, and qualitative evaluations: decided and measured Genant grade (SNOMED
Normal/Mild/Moderate/Severe), type, borderline and reader-edited (SNOMED Yes/No). Observer
context: the reader (person) when named, and the model (device). An annotation the reader
accepted (``ReviewSession.accept_all``) is written as VERIFIED by that reader.

SCOORD coordinates are DICOM image coordinates, where (0, 0) is the top-left CORNER of the first
pixel; our landmarks are pixel indices (pixel centres), so x_dicom = x + 0.5.

CT (a sagittal-reformat annotation, ``build_sr(..., ct=CtSeries)``): the same groups, but each
height line is a SCOORD3D POLYLINE in patient LPS millimetres in the series' Frame of Reference
(the reformat plane is not a stored image), and each group's source images are the acquired
slices its six landmarks lie in (nearest slice per landmark, each slice once).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vcfviewer.core.annotation import FractureType, StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement
from vcfviewer.io import atomic, dicom_codes
from vcfviewer.io.atomic import ExportError

_HEIGHT_KEYS = {"ha": (0, 3), "hm": (1, 4), "hp": (2, 5)}
_RATIO_KEYS = ("wedge_ratio", "biconcave_ratio", "crush_ratio")
_PERCENT_KEYS = ("height_loss", "vc")
_GRADE_CODES = ("Normal", "Mild", "Moderate", "Severe")


@dataclass(frozen=True)
class SRVertebra:
    """What ``read_sr_measurements`` recovers for one measurement group."""

    level: str
    tracking_id: str
    values: dict[str, float]  # keys as in VertebraMeasurement: ha, wedge_ratio, height_loss, ...
    units: dict[str, str]  # UCUM code per value key
    grade: int | None = None
    measured_grade: int | None = None
    fracture_type: str | None = None
    borderline: bool | None = None
    reader_edited: bool | None = None
    landmarks: np.ndarray | None = None  # (6, 2) [x, y] pixel indices, from the SCOORDs
    # "source_images": SOP Instance UIDs the group references; "landmarks_mm": (6, 3) LPS mm
    # from the SCOORD3Ds of a CT report
    extra: dict[str, Any] = field(default_factory=dict)


def _units() -> dict[str, Any]:
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    return {"mm": codes.UCUM.Millimeter, "px": Code("{pixels}", "UCUM", "pixels"),
            "ratio": codes.UCUM.NoUnits, "percent": codes.UCUM.Percent}


@dataclass(frozen=True)
class _Refs:
    """How one body is referenced: its group's source images, and a height line's coordinates
    for (superior, inferior) landmark indices (SCOORD on a film, SCOORD3D in mm on a CT)."""

    images: list[Any]
    line: Callable[[int, int], Any]


def _film_refs(finding: VertebraFinding, source: Any) -> _Refs:
    import highdicom as hd

    def line(sup: int, inf: int) -> Any:
        assert finding.landmarks is not None
        points = np.array([finding.landmarks[sup], finding.landmarks[inf]], np.float64) + 0.5
        region = hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID)
        return hd.sr.CoordinatesForMeasurement(hd.sr.GraphicTypeValues.POLYLINE, points, region)

    return _Refs([source], line)


def _ct_refs(annotation: StudyAnnotation, finding: VertebraFinding, ct: Any) -> _Refs:
    """CT: the slices the landmarks lie in, and height lines in patient mm (SCOORD3D)."""
    import highdicom as hd

    from vcfviewer.io import ct_export

    images = ct.slices_at(ct_export.landmark_slices(ct.volume, annotation, finding))
    points = (ct_export.landmarks_mm(ct.volume, annotation, finding)
              if finding.landmarks is not None else None)

    def line(sup: int, inf: int) -> Any:
        assert points is not None
        return hd.sr.CoordinatesForMeasurement3D(hd.sr.GraphicTypeValues3D.POLYLINE,
                                                 points[[sup, inf]], ct.frame_of_reference_uid)

    return _Refs(images or [ct.slices[0]], line)


def _measurements(finding: VertebraFinding, m: VertebraMeasurement, refs: _Refs) -> list[Any]:
    import highdicom as hd

    units = _units()
    out = []
    if m.measurable:
        length = units[m.unit]
        out += [hd.sr.Measurement(name=dicom_codes.private_code(k), value=float(getattr(m, k)),
                                  unit=length, referenced_coordinates=[refs.line(*pair)])
                for k, pair in _HEIGHT_KEYS.items()]
        plain = [(k, getattr(m, k), units["ratio"]) for k in _RATIO_KEYS]
        plain += [(k, 100.0 * getattr(m, k), units["percent"]) for k in _PERCENT_KEYS
                  if getattr(m, k) is not None]
        plain.append(("reference_height", m.reference_height, length))
    else:
        plain = []
    if finding.fracture_probability is not None:
        plain.append(("fracture_probability", finding.fracture_probability, units["ratio"]))
    for key, value, unit in plain:
        if value is not None:
            out.append(hd.sr.Measurement(name=dicom_codes.private_code(key), value=float(value),
                                         unit=unit))
    return out


def _yes_no(flag: bool) -> Any:
    from pydicom.sr.codedict import codes

    return codes.SCT.Yes if flag else codes.SCT.No


def _evaluations(finding: VertebraFinding, m: VertebraMeasurement) -> list[Any]:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    def grade(g: int) -> Any:
        return getattr(codes.SCT, _GRADE_CODES[int(g)])

    code = dicom_codes.private_code
    items = [(code("grade"), grade(finding.grade)),
             (code("fracture_type"), code(f"type_{finding.fracture_type.value}")),
             (code("reader_edited"), _yes_no(finding.reader_edited))]
    if m.measurable:
        items += [(code("measured_grade"), grade(m.measured_grade)),
                  (code("borderline"), _yes_no(m.borderline))]
    return [hd.sr.QualitativeEvaluation(name, value) for name, value in items]


def _group(finding: VertebraFinding, m: VertebraMeasurement, refs: _Refs, uid: str) -> Any:
    import highdicom as hd
    from vcfviewer import __version__

    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=uid,
                                                     identifier=f"{finding.level} vertebral body"),
        finding_sites=[hd.sr.FindingSite(dicom_codes.level_code(finding.level))],
        algorithm_id=hd.sr.AlgorithmIdentification("vcfviewer morphometry", __version__),
        measurements=_measurements(finding, m, refs) or None,
        qualitative_evaluations=_evaluations(finding, m),
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(ds)
                       for ds in refs.images],
    )


def _observation_context(annotation: StudyAnnotation) -> Any:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    prov = annotation.provenance
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=dicom_codes.device_uid(prov.model_id, prov.model_version),
            name=prov.model_id or "vcfviewer", manufacturer_name=dicom_codes.MANUFACTURER,
            model_name=f"{prov.model_id or 'none'} {prov.model_version or ''}".strip()))
    person = None
    if prov.reader:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=prov.reader))
    return hd.sr.ObservationContext(observer_person_context=person,
                                    observer_device_context=device)


def _groups(annotation: StudyAnnotation, measurements: StudyMeasurements,
            sources: list[Any], ct: Any | None) -> tuple[list[Any], list[Any]]:
    """The measurement groups and the evidence (every image they reference, distinct)."""
    groups, evidence = [], {}
    for f in annotation.vertebrae:
        if ct is not None:
            refs = _ct_refs(annotation, f, ct)
            uid = dicom_codes.tracking_uid(ct.series_instance_uid, f.finding_id)
        else:
            refs = _film_refs(f, sources[0])
            uid = dicom_codes.tracking_uid(str(sources[0].SOPInstanceUID), f.finding_id)
        groups.append(_group(f, measurements.by_id[f.finding_id], refs, uid))
        evidence.update((str(ds.SOPInstanceUID), ds) for ds in refs.images)
    return groups, list(evidence.values()) or sources[:1]


def build_sr(annotation: StudyAnnotation, measurements: StudyMeasurements,
             source: Any | Sequence[Any], series_number: int = 900,
             institution_name: str | None = None, verifying_organization: str | None = None,
             ct: Any | None = None) -> Any:
    """The SR dataset (highdicom Comprehensive3DSR), not yet written.

    ``source`` is the radiograph's data set; for a CT annotation pass ``ct`` (a
    ``ct_export.CtSeries``) and its ``slices`` as ``source``: each group then references the
    slices its landmarks lie in and the height lines are SCOORD3D in patient mm.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    given = list(source) if isinstance(source, (list, tuple)) else [source]
    sources = [dicom_codes.usable_source(ds, annotation.image.path) for ds in given]
    if ct is None:
        _check_source(annotation, sources[0])
    groups, evidence = _groups(annotation, measurements, sources, ct)
    is_ct = (ct is not None or annotation.image.modality.upper() == "CT"
             or getattr(sources[0], "Modality", "") == "CT")
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(annotation),
        procedure_reported=(codes.LN.CTUnspecifiedBodyRegion if is_ct
                            else codes.LN.XRUnspecifiedBodyRegion),
        imaging_measurements=groups, title=codes.DCM.ImagingMeasurementReport)
    prov = annotation.provenance
    verified = prov.source == "reader" and bool(prov.reader)
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence if ct is not None else sources, content=report[0],
        series_instance_uid=generate_uid(),
        series_number=series_number, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer=dicom_codes.MANUFACTURER, is_complete=True, is_final=verified,
        is_verified=verified, institution_name=institution_name,
        verifying_observer_name=prov.reader if verified else None,
        verifying_organization=(verifying_organization or institution_name or "unknown")
        if verified else None,
        series_description="Vertebral morphometry",
        software_versions=dicom_codes.software_versions(),
    )
    dicom_codes.declare_private_scheme(sr)
    return sr


def _check_source(annotation: StudyAnnotation, image: Any) -> None:
    uid = annotation.image.sop_instance_uid
    if uid and str(getattr(image, "SOPInstanceUID", "")) != uid:
        raise ExportError(annotation.image.path, "the source DICOM is not the annotated image "
                                                 "(SOP Instance UIDs differ)")


def write_sr(annotation: StudyAnnotation, measurements: StudyMeasurements,
             source: Any | Sequence[Any], path: str | os.PathLike[str], **options: Any) -> Path:
    """Write the TID 1500 report atomically; ``options`` go to ``build_sr``."""
    import pydicom

    sr = build_sr(annotation, measurements, source, **options)
    target = Path(path)
    with atomic.atomic_path(target) as tmp:
        pydicom.dcmwrite(tmp, sr, enforce_file_format=True)
    return target


# --- reading back --------------------------------------------------------------------------


def _code_of(item: Any, attr: str) -> tuple[str, str]:
    code = getattr(item, attr)[0]
    return str(code.CodeValue), str(code.CodingSchemeDesignator)


def _private_key(value: str, scheme: str) -> str | None:
    if scheme != dicom_codes.PRIVATE_SCHEME:
        return None
    return next((k for k, (v, _) in dicom_codes.PRIVATE_CONCEPTS.items() if v == value), None)


def _read_group(group: Any) -> SRVertebra | None:
    from pydicom.sr.codedict import codes

    fields: dict[str, Any] = {"values": {}, "units": {}, "points": {}, "points_mm": {},
                              "images": []}
    for item in group.ContentSequence:
        name = _code_of(item, "ConceptNameCodeSequence")
        if item.ValueType == "TEXT" and name == ("112039", "DCM"):
            fields["tracking_id"] = str(item.TextValue)
        elif item.ValueType == "CODE" and name == ("363698007", "SCT"):
            fields["level"] = dicom_codes.level_from_code(*_code_of(item, "ConceptCodeSequence"))
        elif item.ValueType == "IMAGE":
            fields["images"].append(str(item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID))
        elif item.ValueType == "NUM":
            _read_num(item, _private_key(*name), fields)
        elif item.ValueType == "CODE":
            _read_code(item, _private_key(*name), fields, codes)
    if not fields.get("level"):
        return None
    return _vertebra_from(fields)


def _read_num(item: Any, key: str | None, fields: dict[str, Any]) -> None:
    if key is None:
        return
    measured = item.MeasuredValueSequence[0]
    value = float(getattr(measured, "FloatingPointValue", measured.NumericValue))
    unit = str(measured.MeasurementUnitsCodeSequence[0].CodeValue)
    fields["values"][key] = value / 100.0 if unit == "%" else value
    fields["units"][key] = unit
    for child in getattr(item, "ContentSequence", []):
        if child.ValueType == "SCOORD" and key in _HEIGHT_KEYS:
            fields["points"][key] = np.asarray(child.GraphicData, float).reshape(-1, 2) - 0.5
        elif child.ValueType == "SCOORD3D" and key in _HEIGHT_KEYS:
            fields["points_mm"][key] = np.asarray(child.GraphicData, float).reshape(-1, 3)


def _read_code(item: Any, key: str | None, fields: dict[str, Any], codes: Any) -> None:
    value, scheme = _code_of(item, "ConceptCodeSequence")
    grades = {getattr(codes.SCT, g).value: i for i, g in enumerate(_GRADE_CODES)}
    if key in ("grade", "measured_grade"):
        fields[key] = grades.get(value)
    elif key in ("borderline", "reader_edited"):
        fields[key] = value == codes.SCT.Yes.value
    elif key == "fracture_type":
        type_key = _private_key(value, scheme) or ""
        fields[key] = type_key.removeprefix("type_") or None


def _six(points: dict[str, np.ndarray], width: int) -> np.ndarray | None:
    """The six landmarks from the three height lines (None unless all three are there)."""
    if not all(k in points for k in _HEIGHT_KEYS):
        return None
    out = np.zeros((6, width))
    for key, (sup, inf) in _HEIGHT_KEYS.items():
        out[sup], out[inf] = points[key][0], points[key][1]
    return out


def _vertebra_from(fields: dict[str, Any]) -> SRVertebra:
    landmarks = _six(fields["points"], 2)
    extra: dict[str, Any] = {"source_images": fields["images"]}
    points_mm = _six(fields["points_mm"], 3)
    if points_mm is not None:
        extra["landmarks_mm"] = points_mm
    ftype = fields.get("fracture_type")
    return SRVertebra(
        level=fields["level"], tracking_id=fields.get("tracking_id", ""), values=fields["values"],
        units=fields["units"], grade=fields.get("grade"),
        measured_grade=fields.get("measured_grade"),
        fracture_type=FractureType(ftype).value if ftype else None,
        borderline=fields.get("borderline"), reader_edited=fields.get("reader_edited"),
        landmarks=landmarks, extra=extra)


def read_sr_measurements(path: str | os.PathLike[str]) -> dict[str, SRVertebra]:
    """The per-level measurement groups of a report we wrote (for round trips and re-import)."""
    import pydicom

    ds = pydicom.dcmread(path)
    out: dict[str, SRVertebra] = {}
    for container in ds.ContentSequence:
        if _code_of(container, "ConceptNameCodeSequence") != ("126010", "DCM"):
            continue  # not the Imaging Measurements container
        for group in container.ContentSequence:
            vertebra = _read_group(group)
            if vertebra is not None:
                out[vertebra.level] = vertebra
    return out

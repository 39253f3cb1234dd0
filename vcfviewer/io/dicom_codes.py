"""Coded concepts shared by the DICOM SR and SEG writers (levels, measurements, grades).

Vertebral levels use SNOMED CT codes from pydicom's code dictionary (``codes.SCT.L1Vertebra``,
``codes.SCT.Sacrum``). Concepts DICOM has no code for (the six-point heights and ratios, the
Genant grade as a concept name, the transitional levels T13/L6) use the private coding scheme
``99VCFV``; DICOM PS3.16 reserves designators starting with "99" for local schemes, and every
object we write declares it in CodingSchemeIdentificationSequence. pydicom is imported lazily.
"""

from __future__ import annotations

from typing import Any

from vcfviewer import __version__

PRIVATE_SCHEME = "99VCFV"
PRIVATE_SCHEME_NAME = "vcfviewer vertebral morphometry concepts"
MANUFACTURER = "vcfviewer project"

# key → (code value, meaning) in the private scheme
PRIVATE_CONCEPTS: dict[str, tuple[str, str]] = {
    "ha": ("VCF-HA", "Anterior vertebral body height"),
    "hm": ("VCF-HM", "Middle vertebral body height"),
    "hp": ("VCF-HP", "Posterior vertebral body height"),
    "wedge_ratio": ("VCF-WEDGE", "Wedge ratio (Ha/Hp)"),
    "biconcave_ratio": ("VCF-BICONC", "Biconcave ratio (Hm/Hp)"),
    "crush_ratio": ("VCF-CRUSH", "Crush ratio (Hp/neighbour Hp)"),
    "reference_height": ("VCF-REFH", "Reference vertebral height"),
    "height_loss": ("VCF-LOSS", "Vertebral height loss"),
    "vc": ("VCF-VC", "Anterior vertebral compression"),
    "fracture_probability": ("VCF-PROB", "Fracture probability"),
    "grade": ("VCF-GENANT", "Genant semiquantitative grade"),
    "measured_grade": ("VCF-GENANT-M", "Genant grade by morphometry"),
    "fracture_type": ("VCF-TYPE", "Vertebral fracture type"),
    "borderline": ("VCF-BORDER", "Height loss near a grade cut-off"),
    "reader_edited": ("VCF-EDITED", "Changed by reader"),
    "type_none": ("VCF-T-NONE", "No fracture"),
    "type_wedge": ("VCF-T-WEDGE", "Wedge fracture"),
    "type_biconcave": ("VCF-T-BICONC", "Biconcave fracture"),
    "type_crush": ("VCF-T-CRUSH", "Crush fracture"),
    "T13": ("VCF-T13", "Thirteenth thoracic vertebra (transitional)"),
    "L6": ("VCF-L6", "Sixth lumbar vertebra (transitional)"),
}
_ORDINAL = {1: "First", 2: "Second", 3: "Third", 4: "Fourth", 5: "Fifth"}


def private_code(key: str) -> Any:
    """A pydicom Code in the private scheme."""
    from pydicom.sr.coding import Code

    value, meaning = PRIVATE_CONCEPTS[key]
    return Code(value, PRIVATE_SCHEME, meaning)


def level_code(level: str) -> Any:
    """The coded anatomy of a vertebral level (SNOMED CT; private for T13/L6)."""
    from pydicom.sr.codedict import codes

    if level in ("T13", "L6"):
        return private_code(level)
    if level == "S1":
        return codes.SCT.Sacrum
    return getattr(codes.SCT, f"{level}Vertebra")


def level_from_code(value: str, scheme: str) -> str | None:
    """Inverse of ``level_code`` (None for codes that name no level)."""
    from vcfviewer.core.levels import ALL_LEVELS

    for level in ALL_LEVELS:
        code = level_code(level)
        if code.value == value and code.scheme_designator == scheme:
            return level
    return None


def coding_scheme_identification() -> Any:
    """The CodingSchemeIdentificationSequence item declaring the private scheme."""
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = PRIVATE_SCHEME_NAME
    item.CodingSchemeResponsibleOrganization = MANUFACTURER
    return item


def declare_private_scheme(ds: Any) -> None:
    """Add the private scheme to ``ds.CodingSchemeIdentificationSequence`` (once)."""
    from pydicom.sequence import Sequence

    existing = list(getattr(ds, "CodingSchemeIdentificationSequence", []))
    if not any(getattr(i, "CodingSchemeDesignator", "") == PRIVATE_SCHEME for i in existing):
        existing.append(coding_scheme_identification())
    ds.CodingSchemeIdentificationSequence = Sequence(existing)


def software_versions() -> str:
    return f"vcfviewer {__version__}"


def device_uid(model_id: str | None, model_version: str | None) -> str:
    """A stable UID for the algorithm as an observer device (same model → same UID)."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["vcfviewer", model_id or "none", model_version or ""]))


def tracking_uid(image_uid: str, key: str) -> str:
    """A stable tracking UID for one body on one image, shared by the SR group and SEG segment."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=[image_uid, key]))


_REQUIRED_SOURCE_UIDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


_TYPE2_PATIENT_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                        "StudyDate", "StudyTime", "StudyID", "AccessionNumber",
                        "ReferringPhysicianName")


def _set_detached(original: Any, current: Any, name: str, value: Any) -> Any:
    """Set ``name`` on a copy of ``original`` whose element dict is its own (pydicom's
    ``Dataset.copy`` shares elements, so editing it would change the caller's data set)."""
    import pydicom

    if current is original:
        current = pydicom.Dataset(dict(original.items()))
        meta = getattr(original, "file_meta", None)
        if meta is not None:
            current.file_meta = meta
    if name in current:
        del current[name]
    setattr(current, name, value)
    return current


def usable_source(ds: Any, where: str) -> Any:
    """``ds`` ready to be referenced by an SR/SEG: SOP UIDs restored from the file meta when the
    data set left them empty (some anonymisers do), or ExportError naming what is missing."""
    from vcfviewer.io.atomic import ExportError

    meta = getattr(ds, "file_meta", None)
    fixes = {"SOPClassUID": getattr(meta, "MediaStorageSOPClassUID", None),
             "SOPInstanceUID": getattr(meta, "MediaStorageSOPInstanceUID", None)}
    out = ds
    for name, value in fixes.items():
        if not str(getattr(ds, name, "") or "") and value:
            out = _set_detached(ds, out, name, value)
    # Type 2 attributes that highdicom copies from the source: anonymised archives often drop
    # them, and DICOM allows them empty, so fill in empty values rather than fail the export.
    for name in _TYPE2_PATIENT_STUDY:
        if name not in out:
            out = _set_detached(ds, out, name, "")
    missing = [n for n in _REQUIRED_SOURCE_UIDS if not str(getattr(out, n, "") or "")]
    if missing:
        raise ExportError(where, f"the source DICOM has no {', '.join(missing)}; "
                                 "a report or segmentation cannot reference it")
    return out

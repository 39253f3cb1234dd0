"""``--deidentify``: exports that carry no patient identifiers.

What the exports can leak and how each is handled:

* DICOM SR and SEG copy the patient and study modules from their source image; they are built
  from a de-identified copy of the source header (``write_deidentified_copy``), never from the
  original file.
* The annotation JSON, CSV, key image and training set name the source image by its path
  (folders are often named after patients): the path becomes ``<study key><suffix>``.
* A CT volume's SR/SEG reference its slices: they are built from de-identified copies of every
  slice header (``deidentified_volume``).

The header rules follow DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile,
with three of its standard options (see ``REMOVED_KEYWORDS`` and ``KEPT``):

* Retain UIDs — study/series/instance UIDs are kept so results can be matched to the archive;
* Retain Patient Characteristics — sex, age, size, weight (osteoporosis risk factors);
* Retain Longitudinal Temporal Information, full dates — study/series/acquisition dates and
  times (follow-up comparison needs them); the birth date is removed.

PatientName becomes "ANONYMOUS" and PatientID the study key (a hash: the batch summary row).
Every person-name (PN) element, every private element and every attribute in
``REMOVED_KEYWORDS`` is removed wherever it occurs, sequences included. Pixel data is not
inspected: text burned into the pixels (rare on DX/CR, common on secondary captures) stays.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from vcfviewer.core.annotation import StudyAnnotation
from vcfviewer.core.image import PatientInfo, Radiograph, Volume

ANONYMOUS = "ANONYMOUS^"  # one family-name component, marked as such
METHOD = "vcfviewer: PS3.15 basic; keep UIDs, patient traits, dates"  # LO: 64 characters
# CID 7050 (De-identification Method): the profile and the three options applied.
METHOD_CODES = (("113100", "Basic Application Confidentiality Profile"),
                ("113110", "Retain UIDs Option"),
                ("113108", "Retain Patient Characteristics Option"),
                ("113106", "Retain Longitudinal Temporal Information Full Dates Option"))
# Type 2 attributes SR/SEG writers copy from the source: emptied, not removed.
EMPTIED = ("PatientBirthDate", "AccessionNumber", "StudyID", "ReferringPhysicianName")
KEPT = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID",
        "FrameOfReferenceUID", "PatientSex", "PatientAge", "PatientSize", "PatientWeight",
        "StudyDate", "StudyTime", "SeriesDate", "SeriesTime", "AcquisitionDate",
        "AcquisitionTime", "ContentDate", "ContentTime", "Modality", "BodyPartExamined",
        "ViewPosition", "PixelSpacing", "ImagerPixelSpacing")
REMOVED_KEYWORDS = frozenset({
    # patient identity
    "PatientBirthDate", "PatientBirthTime", "PatientBirthName", "PatientMotherBirthName",
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence", "PatientAddress", "PatientTelephoneNumbers",
    "PatientTelecomInformation", "MedicalRecordLocator", "MilitaryRank", "BranchOfService",
    "Occupation", "EthnicGroup", "PatientReligiousPreference", "PatientComments",
    "AdditionalPatientHistory", "PatientInsurancePlanCodeSequence", "InsurancePlanIdentification",
    "ReferencedPatientSequence", "ReferencedPatientPhotoSequence", "ResponsibleOrganization",
    "PatientState", "RegionOfResidence", "CountryOfResidence", "MedicalAlerts", "Allergies",
    "PregnancyStatus", "LastMenstrualDate", "SmokingStatus", "PatientBreedDescription",
    # visit, order and people
    "AccessionNumber", "IssuerOfAccessionNumberSequence", "StudyID", "AdmissionID",
    "IssuerOfAdmissionIDSequence", "RequestAttributesSequence", "RequestedProcedureID",
    "ScheduledProcedureStepID", "PerformedProcedureStepID",
    "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest", "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers", "ReferringPhysicianIdentificationSequence",
    "PhysiciansOfRecordIdentificationSequence", "PerformingPhysicianIdentificationSequence",
    "PhysiciansReadingStudyIdentificationSequence", "OperatorIdentificationSequence",
    "PersonIdentificationCodeSequence", "VerifyingObserverSequence", "ContentCreatorName",
    # places and devices
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
    "InstitutionCodeSequence", "StationName", "DeviceSerialNumber", "DetectorID",
    "PlateID", "CassetteID", "GantryID", "DeviceUID",
    # free text that often holds names
    "StudyDescription", "SeriesDescription", "ImageComments", "RequestedProcedureDescription",
    "PerformedProcedureStepDescription", "AdmittingDiagnosesDescription",
    "DerivationDescription", "ProtocolName", "TextString", "TextComments",
    "AcquisitionComments", "InterpretationText", "ReasonForStudy", "CurrentPatientLocation",
    "PatientInstitutionResidence", "ScheduledPatientInstitutionResidence",
})


class DeidentificationError(Exception):
    """The source header could not be de-identified; no DICOM export is made from it."""


def _scrub(ds: Any) -> None:
    """Remove private, person-name and listed elements at every nesting level."""
    ds.remove_private_tags()
    doomed = [elem.tag for elem in ds
              if elem.VR == "PN" or elem.keyword in REMOVED_KEYWORDS]
    for tag in doomed:
        del ds[tag]
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                _scrub(item)


def _method(ds: Any) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    items = []
    for value, meaning in METHOD_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = "UNMODIFIED"


def mark_deidentified(path: str | os.PathLike[str]) -> Path:
    """Record in a written SR/SEG that it was made de-identified (Patient Identity Removed)."""
    import pydicom

    from vcfviewer.io.atomic import atomic_path

    target = Path(path)
    ds = pydicom.dcmread(target)
    _method(ds)
    with atomic_path(target) as tmp:
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
    return target


def deidentify_dataset(ds: Any, pseudonym: str) -> Any:
    """De-identify a pydicom dataset in place (see module docstring); returns it."""
    _scrub(ds)
    for keyword in EMPTIED:
        setattr(ds, keyword, "")
    ds.PatientName = ANONYMOUS
    ds.PatientID = pseudonym
    _method(ds)
    return ds


def write_deidentified_copy(source: str | os.PathLike[str], target: str | os.PathLike[str],
                            pseudonym: str) -> Path:
    """Write a de-identified copy of ``source``'s header (no pixel data) to ``target``."""
    import pydicom

    from vcfviewer.io.atomic import atomic_path
    from vcfviewer.io.dicom_image import read_dataset
    from vcfviewer.io.errors import LoadError, describe

    try:
        ds = deidentify_dataset(read_dataset(source, stop_before_pixels=True), pseudonym)
        path = Path(target)
        with atomic_path(path) as tmp:
            pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
    except LoadError as err:
        raise DeidentificationError(f"cannot read the source header: {err.reason}") from None
    except Exception as exc:  # pydicom refuses to write some damaged headers
        raise DeidentificationError(f"cannot write a de-identified header: "
                                    f"{describe(exc)}") from None
    return path


def _anonymous_path(path: str, key: str) -> str:
    name = Path(path).name.lower()
    for suffix in (".nii.gz", ".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".nii"):
        if name.endswith(suffix):
            return key + suffix
    return key + ".dcm"


def deidentified_annotation(annotation: StudyAnnotation, key: str) -> StudyAnnotation:
    """The annotation with its image path replaced by the study key and no reader name."""
    image = replace(annotation.image, path=_anonymous_path(annotation.image.path, key))
    provenance = replace(annotation.provenance, reader=None)
    return replace(annotation, image=image, provenance=provenance)


def deidentified_image(image: Radiograph, key: str) -> Radiograph:
    """The radiograph without demographics and with an anonymous source path."""
    patient = PatientInfo(modality=image.patient.modality)
    source = replace(image.source, path=_anonymous_path(image.source.path, key))
    return replace(image, patient=patient, source=source)


def deidentified_volume(volume: Volume, key: str, folder: Path) -> Volume:
    """The volume without demographics, its slices pointing at de-identified header copies
    written into ``folder`` (one per acquired slice; no pixel data)."""
    copies: dict[str, str] = {}
    slices = []
    for ref in volume.slice_sources:
        if ref.path not in copies:
            target = folder / f"slice{len(copies):05d}.dcm"
            copies[ref.path] = str(write_deidentified_copy(ref.path, target, key))
        slices.append(replace(ref, path=copies[ref.path]))
    patient = PatientInfo(modality=volume.patient.modality)
    source = replace(volume.source, path=_anonymous_path(volume.source.path, key))
    return replace(volume, patient=patient, source=source, slice_sources=tuple(slices))

"""Test data for the export tests: a small study annotation and a realistic DX source dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vcfviewer.core.annotation import (
    BodyMask, ImageRef, Lookalike, Provenance, StudyAnnotation, VertebraFinding,
)
from vcfviewer.core.image import Radiograph, SourceRef, SpacingSource, Window

ROWS, COLS = 160, 96
SOP_UID = "1.2.826.0.1.3680043.8.498.10000000000000000000000000000000001"
STUDY_UID = "1.2.826.0.1.3680043.8.498.10000000000000000000000000000000002"
SERIES_UID = "1.2.826.0.1.3680043.8.498.10000000000000000000000000000000003"
DX_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"


def _box(top: float, ha: float, hm: float, hp: float) -> list[list[float]]:
    return [[20.5, top], [35.25, top + 1], [50, top], [20.5, top + ha], [35.25, top + hm],
            [50, top + hp]]


def _mask(top: int, height: int) -> BodyMask:
    full = np.zeros((ROWS, COLS), bool)
    full[top: top + height, 21:50] = True
    full[top, 21] = False  # a corner notch so the run lengths are not trivial
    return BodyMask.from_full(full)


def make_annotation(spacing: tuple[float, float] | None = (0.5, 0.25)) -> StudyAnnotation:
    """T12..L3 plus S1: model output, one reader-edited fracture, one reader-added body."""
    findings = (
        VertebraFinding("T12", _box(10, 24, 24, 24), fracture_probability=0.05,
                        mask=_mask(10, 24), finding_id="t12"),
        VertebraFinding("L1", _box(42, 16, 22, 25), grade=2, fracture_type="wedge",
                        fracture_probability=0.875, mask=_mask(42, 25), finding_id="l1",
                        lookalikes=frozenset({Lookalike.OSTEOPHYTE})),
        VertebraFinding("L2", _box(75, 25, 26, 25.5), grade=1, fracture_type="crush",
                        fracture_probability=None, mask=_mask(75, 26), reader_edited=True,
                        finding_id="l2"),
        VertebraFinding("L3", _box(108, 27, 27, 27), reader_edited=True, added_by_reader=True,
                        finding_id="l3"),
        VertebraFinding("S1", None, mask=_mask(140, 15), finding_id="s1"),
    )
    image = ImageRef(path="/data/spine/lat.dcm", rows=ROWS, columns=COLS, pixel_spacing=spacing,
                     spacing_source="PixelSpacing" if spacing else "none", sop_instance_uid=SOP_UID,
                     sop_class_uid=DX_CLASS, series_instance_uid=SERIES_UID,
                     study_instance_uid=STUDY_UID, modality="DX")
    prov = Provenance("0.1.0", model_id="vcf-unet", model_version="1.2.0", reader="Doe^Jane",
                      created="2024-05-01T10:00:00+00:00", modified="2024-05-01T10:05:00+00:00",
                      source="model")
    return StudyAnnotation(image, findings, prov, flags=("lumbar count 3 (expected 5)",))


def make_pixels(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4096, size=(ROWS, COLS)).astype(np.float32)


def make_radiograph(pixels: np.ndarray | None = None, spacing=(0.5, 0.25)) -> Radiograph:
    px = make_pixels() if pixels is None else pixels
    source = SpacingSource.PIXEL_SPACING if spacing else SpacingSource.NONE
    return Radiograph(px, spacing, source, Window(2048, 4096),
                      SourceRef("/data/spine/lat.dcm", SOP_UID, DX_CLASS, SERIES_UID, STUDY_UID))


def make_dx_dataset(pixels: np.ndarray | None = None):
    """A realistic DX For Presentation lateral spine image, built with pydicom."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian

    px = (make_pixels() if pixels is None else pixels).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_CLASS
    meta.MediaStorageSOPInstanceUID = SOP_UID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = DX_CLASS, SOP_UID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY_UID, SERIES_UID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName, ds.PatientID = "Test^Patient", "VCF0001"
    ds.PatientBirthDate, ds.PatientSex = "19400101", "F"
    ds.StudyDate, ds.StudyTime, ds.ContentDate, ds.ContentTime = "20240501", "100000", "20240501", "100000"
    ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = "A1", "S1", ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "DX", 1, 1
    ds.Manufacturer = "Test"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PatientOrientation = ["A", "F"]
    ds.BodyPartExamined = "LSPINE"
    ds.ViewPosition = "LL"
    ds.ImageLaterality = "U"
    ds.BurnedInAnnotation, ds.LossyImageCompression = "NO", "00"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = px.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign = "LIN", 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.ImagerPixelSpacing = [0.5, 0.25]
    ds.PixelSpacing = [0.5, 0.25]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "magnification corrected"
    ds.PositionerType = "NONE"
    ds.AcquisitionContextSequence = Sequence([])
    ds.DetectorType = "DIRECT"
    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = "122496003", "SCT", "Lumbar spine"
    ds.AnatomicRegionSequence = Sequence([region])
    view = Dataset()
    view.CodeValue, view.CodingSchemeDesignator, view.CodeMeaning = "399067008", "SCT", "lateral"
    ds.ViewCodeSequence = Sequence([view])
    ds.PixelData = px.tobytes()
    return ds


def write_dx(folder: Path, pixels: np.ndarray | None = None) -> Path:
    path = folder / "source_dx.dcm"
    make_dx_dataset(pixels).save_as(path, enforce_file_format=True)
    return path


def make_ct_series(slices: int = 4, rows: int = 20, cols: int = 24) -> list:
    """A tiny axial CT series (pydicom datasets, in slice order)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    out = []
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Ct^Test", "CT1", "", "M"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20240501", "100000", "", "1"
        ds.ReferringPhysicianName, ds.Manufacturer = "", "Test"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 2, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [0.0, 0.0, -3.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.75, 0.5], 3.0
        ds.PositionReferenceIndicator = ""
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.KVP = -1024, 1, 120
        ds.AcquisitionNumber = 1
        ds.PixelData = np.zeros((rows, cols), np.int16).tobytes()
        out.append(ds)
    return out

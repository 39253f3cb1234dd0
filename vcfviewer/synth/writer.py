"""Writing a simulated study: DICOM DX (For Presentation) file, ground-truth JSON, label-mask PNG,
and optionally a web-style 8-bit JPEG version for raster-input testing.

Every file is written atomically (``vcfviewer.io.atomic``). The DICOM carries real headers:
DX For Presentation SOP class, PixelSpacing (calibrated at the patient plane) AND
ImagerPixelSpacing with the magnification factor, MONOCHROME1 or MONOCHROME2 with the matching
Presentation LUT Shape, window, UIDs, patient/study/series, body part and view position.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np

from vcfviewer.core.annotation import BodyMask, StudyAnnotation
from vcfviewer.core.image import PatientInfo, Radiograph, SourceRef, SpacingSource, Window
from vcfviewer.synth.acquisition import MAX_VALUE
from vcfviewer.synth.options import SynthError
from vcfviewer.synth.simulate import DX_FOR_PRESENTATION, SyntheticStudy

_LUMBAR_SPINE = ("122496007", "SCT", "Lumbar spine")
_STUDY_DATE = "20240101"


def _stored_pixels(study: SyntheticStudy) -> np.ndarray:
    pixels = np.clip(np.round(study.radiograph.pixels), 0, MAX_VALUE).astype(np.uint16)
    if study.meta.get("monochrome1"):
        pixels = (MAX_VALUE - pixels).astype(np.uint16)
    return pixels


def _ds_text(value: float) -> str:
    """A DS string (≤ 16 characters) that reads back as the same float when possible."""
    text = repr(float(value))
    return text if len(text) <= 16 else f"{value:.10g}"


def patient_study_series(ds: "object", patient: PatientInfo, source: SourceRef) -> None:
    """Patient, study, series and equipment attributes shared by every simulated object (the
    simulator's patients are fictional; dates fixed so that writing twice gives the same file)."""
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = _STUDY_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = ""
    ds.Manufacturer = "vcfviewer simulator"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = patient.study_description
    ds.SeriesDescription = patient.series_description
    ds.PatientName = patient.patient_name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = source.study_instance_uid
    ds.SeriesInstanceUID = source.series_instance_uid
    ds.StudyID = "1"
    ds.SeriesNumber = patient.series_number or 1


def _header(study: SyntheticStudy, name: str) -> "object":
    """The DX For Presentation dataset (without pixel data) for ``study``."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    _identity_modules(ds, study, name)
    _positioning_modules(ds, study)
    _image_modules(ds, study)
    return ds


def _identity_modules(ds: "object", study: SyntheticStudy, name: str) -> None:
    """SOP common, patient, study, series, equipment."""
    r = study.radiograph
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", ""]
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = r.source.sop_instance_uid
    ds.Modality = "DX"
    ds.PresentationIntentType = "FOR PRESENTATION"
    patient_study_series(ds, r.patient, r.source)
    ds.InstanceNumber = 1
    ds.DerivationDescription = f"simulated film {name}, seed {study.meta.get('seed')}"


def _positioning_modules(ds: "object", study: SyntheticStudy) -> None:
    """Anatomy imaged, view and patient orientation (rows run front → back when facing left)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    left = study.meta.get("facing") == "left"
    ds.BodyPartExamined = "LSPINE"
    ds.ViewPosition = "LL" if left else "RL"
    ds.ImageLaterality = "U"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = _LUMBAR_SPINE
    ds.AnatomicRegionSequence = Sequence([code])
    view = Dataset()
    view.CodeValue, view.CodingSchemeDesignator, view.CodeMeaning = (
        ("399173006", "SCT", "left lateral") if left else ("399198007", "SCT", "right lateral"))
    ds.ViewCodeSequence = Sequence([view])
    ds.PositionerType = ""
    ds.AcquisitionContextSequence = Sequence([])
    ds.PatientOrientation = ["P", "F"] if left else ["A", "F"]


def _image_modules(ds: "object", study: SyntheticStudy) -> None:
    """Image pixel, DX image and detector: spacing (patient plane and detector), photometric, window."""
    r, meta = study.radiograph, study.meta
    mono1 = bool(meta.get("monochrome1"))
    spacing = r.spacing_mm or (1.0, 1.0)
    mag = float(meta.get("magnification", 1.15))
    ds.BurnedInAnnotation = "YES" if meta.get("text") else "NO"
    ds.LossyImageCompression = "00"
    ds.DetectorType = "SCINTILLATOR"
    ds.PixelSpacing = [_ds_text(spacing[0]), _ds_text(spacing[1])]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = "simulated: spacing at the patient's midsagittal plane"
    ds.ImagerPixelSpacing = [_ds_text(spacing[0] * mag), _ds_text(spacing[1] * mag)]
    ds.EstimatedRadiographicMagnificationFactor = _ds_text(mag)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if mono1 else "MONOCHROME2"
    ds.PresentationLUTShape = "INVERSE" if mono1 else "IDENTITY"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1 if mono1 else -1
    ds.Rows, ds.Columns = r.rows, r.columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    center = r.window.center if not mono1 else MAX_VALUE - r.window.center
    ds.WindowCenter, ds.WindowWidth = _ds_text(center), _ds_text(r.window.width)


def _dicom_bytes(study: SyntheticStudy, name: str, compress: bool) -> bytes:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, RLELossless, PYDICOM_IMPLEMENTATION_UID

    ds = _header(study, name)
    stored = _stored_pixels(study)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.PixelData = stored.tobytes()
    if compress:
        ds.compress(RLELossless, stored, generate_instance_uid=False)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _png_bytes(labels: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", labels.astype(np.uint16))
    if not ok:
        raise SynthError("could not encode the label-mask PNG")
    return data.tobytes()


def _write_truth(annotation: StudyAnnotation, path: Path) -> Path:
    from vcfviewer.core.morphometry import measure_study
    from vcfviewer.io.annotation_json import write_annotation

    return write_annotation(annotation, path, measure_study(annotation))


def write_study(study: SyntheticStudy, out_dir: Path, name: str, *, compress: bool = False,
                truth_dir: Path | None = None, raster: bool = False,
                labels: bool = True) -> dict[str, Path]:
    """Write ``name``.dcm, ``name``.json (truth, in ``truth_dir`` if given) and ``name``_labels.png.

    Returns {"dicom", "truth", "labels"} (+ "raster", "raster_truth" with ``raster``) → paths.
    The truth's ImageRef.path is the DICOM's file name, relative to the DICOM's folder.
    ``labels=False`` skips the PNG (the truth JSON holds every mask too).
    """
    from vcfviewer.io import atomic

    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir
    try:
        atomic.ensure_folder(out_dir)
        atomic.ensure_folder(truth_dir)
        paths = {"dicom": out_dir / f"{name}.dcm", "truth": truth_dir / f"{name}.json"}
        if labels:
            paths["labels"] = truth_dir / f"{name}_labels.png"
        atomic.write_bytes(paths["dicom"], _dicom_bytes(study, name, compress))
        annotation = replace(study.annotation, image=replace(study.annotation.image, path=paths["dicom"].name))
        _write_truth(annotation, paths["truth"])
        if labels:
            atomic.write_bytes(paths["labels"], _png_bytes(study.label_map))
        if raster:
            paths.update(_write_raster(study, out_dir, truth_dir, name))
    except atomic.ExportError as err:
        raise SynthError(f"{err.path}: {err.reason}") from None
    return paths


# --- web-style raster versions ------------------------------------------------------------


def degrade_to_raster(study: SyntheticStudy, seed: int | None = None) -> tuple[SyntheticStudy, bytes]:
    """A web-style copy: windowed to 8 bits, downscaled, JPEG-compressed, no pixel spacing.

    Returns the study as the raster loader would see it (pixels = decoded JPEG, landmarks and
    masks scaled, spacing None) and the JPEG bytes.
    """
    import cv2

    rng = np.random.default_rng([study.meta.get("seed", 0) if seed is None else seed, 991])
    r = study.radiograph
    low, high = np.percentile(r.pixels[:: 4, :: 4], [rng.uniform(0.0, 3.0), rng.uniform(97.0, 100.0)])
    eight = np.clip((r.pixels - low) / max(high - low, 1.0) * 255.0, 0, 255).astype(np.uint8)
    target_rows = int(rng.uniform(480, 1100))
    factor = min(1.0, target_rows / r.rows)
    size = (max(8, int(round(r.columns * factor))), max(8, int(round(r.rows * factor))))
    small = cv2.resize(eight, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 92))])
    if not ok:
        raise SynthError("could not encode the raster JPEG")
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    sy, sx = decoded.shape[0] / r.rows, decoded.shape[1] / r.columns
    labels = cv2.resize(study.label_map, (decoded.shape[1], decoded.shape[0]),
                        interpolation=cv2.INTER_NEAREST).astype(np.int16)
    annotation = _scaled_annotation(study.annotation, labels, sx, sy)
    radiograph = Radiograph(pixels=decoded, spacing_mm=None, spacing_source=SpacingSource.NONE,
                            window=Window(127.5, 255.0), source=SourceRef(path=""),
                            notes=("no pixel spacing: ratios only",))
    meta = {**study.meta, "raster": {"scale": [sx, sy], "window": [float(low), float(high)]}}
    return SyntheticStudy(radiograph, annotation, labels, meta), data.tobytes()


def _scaled_annotation(annotation: StudyAnnotation, labels: np.ndarray, sx: float, sy: float) -> StudyAnnotation:
    findings = []
    for k, f in enumerate(annotation.findings, start=1):
        lm = None
        if f.landmarks is not None:
            # pixel centres map as (x + 0.5)·s − 0.5 under area resampling
            lm = np.stack([(f.landmarks[:, 0] + 0.5) * sx - 0.5, (f.landmarks[:, 1] + 0.5) * sy - 0.5], axis=1)
        mask = BodyMask.from_full(labels == k) if (labels == k).any() else None
        findings.append(replace(f, landmarks=lm, mask=mask))
    image = replace(annotation.image, rows=labels.shape[0], columns=labels.shape[1], pixel_spacing=None,
                    spacing_source="none", modality="", sop_instance_uid=None, sop_class_uid=None)
    return replace(annotation, image=image, findings=tuple(findings))


def _write_raster(study: SyntheticStudy, out_dir: Path, truth_dir: Path, name: str) -> dict[str, Path]:
    from vcfviewer.io import atomic

    raster, jpeg = degrade_to_raster(study)
    paths = {"raster": out_dir / f"{name}.jpg", "raster_truth": truth_dir / f"{name}_raster.json"}
    atomic.write_bytes(paths["raster"], jpeg)
    annotation = replace(raster.annotation, image=replace(raster.annotation.image, path=paths["raster"].name))
    _write_truth(annotation, paths["raster_truth"])
    return paths


def default_name(seed: int) -> str:
    """File stem used by the CLI for the study made from ``seed``."""
    return f"synth_{seed:06d}"

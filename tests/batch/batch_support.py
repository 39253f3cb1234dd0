"""Test data for batch, privacy and robustness tests: tiny DX films, a CT stack, a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DX_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
SENTINEL_NAME = "Zzsentinel^Qqpatient"
SENTINEL_ID = "SENTINEL-ID-4711"
SENTINEL_ACCESSION = "ACC-SENTINEL-99"
SENTINEL_BIRTH = "19230405"


def film_pixels(rows: int = 192, cols: int = 128, seed: int = 0) -> np.ndarray:
    """A crude lateral film: noise plus a column of bright boxes (uint16, 12 bits)."""
    rng = np.random.default_rng(seed)
    px = rng.normal(900, 60, (rows, cols))
    y = 10
    while y + 22 < rows - 10:
        px[y:y + 20, cols // 3: cols // 3 + 30] = 2600
        y += 28
    return np.clip(px, 0, 4095).astype(np.uint16)


def dx_dataset(pixels: np.ndarray, study_uid: str | None = None, series_uid: str | None = None,
               patient_name: str = "Test^Batch", patient_id: str = "B0001") -> object:
    """A DX For Presentation dataset built with pydicom (explicit VR little endian)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = DX_CLASS, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientName, ds.PatientID = patient_name, patient_id
    ds.PatientBirthDate, ds.PatientSex, ds.PatientAge = "19400101", "F", "084Y"
    ds.StudyDate, ds.StudyTime, ds.ContentDate, ds.ContentTime = ("20240501", "100000",
                                                                  "20240501", "100000")
    ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = "A1", "S1", "Ref^Doctor"
    ds.InstitutionName = "Test Hospital"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "DX", 1, 1
    ds.Manufacturer, ds.PatientOrientation = "Test", ["A", "F"]
    ds.PresentationIntentType, ds.ImageType = "FOR PRESENTATION", ["ORIGINAL", "PRIMARY"]
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.PixelSpacing = [0.5, 0.5]
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    return ds


def write_dx(path: Path, seed: int = 0, **kwargs: object) -> Path:
    """Write a tiny DX film to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dx_dataset(film_pixels(seed=seed), **kwargs).save_as(path, enforce_file_format=True)
    return path


def write_ct(folder: Path, slices: int = 3, rows: int = 16, cols: int = 16,
             patient_name: str = "Ct^Test", patient_id: str = "CT1",
             modality: str = "CT") -> list[Path]:
    """A tiny axial CT series, one file per slice (air with a block of bone, slice k at z = −3k)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    paths = []
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CT_CLASS, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CT_CLASS, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.Modality = patient_name, patient_id, modality
        ds.SeriesNumber, ds.InstanceNumber = 2, k + 1
        ds.ImagePositionPatient = [0.0, 0.0, -3.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.75, 0.75], 3.0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        px = np.zeros((rows, cols), np.int16)
        px[rows // 4: rows // 2, :] = 1024 + 400  # bone in every sagittal plane: not constant
        ds.PixelData = px.tobytes()
        path = folder / f"ct{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def make_tiny_model(folder: Path, model_id: str = "vcf-lateral") -> Path:
    """An untrained toy-size model (weights + card) in ``folder``; returns the card path."""
    from vcfviewer.training.trainer import TrainConfig, Trainer

    cfg = TrainConfig(out_dir=folder, work_dir=folder / "work", film_size=64, body_size=32,
                      film_widths=(4, 8, 16), body_widths=(4, 8, 16), quiet=True,
                      model_id=model_id, threads=1)
    return Trainer(cfg).export({"balanced": 0.5, "high_ppv": 0.8}, {}, {})


def fake_analyze(task):  # -> StudyResult; a module-level stand-in a spawned worker can import
    """Stand-in for analyze_one: dies like a segfaulting decoder when the key says "crash"."""
    import os

    from vcfviewer.batch.task import OK, StudyResult

    if "crash" in task.key:
        os._exit(3)
    return StudyResult(key=task.key, status=OK, worst_grade=0, sdi=0, any_fracture=False,
                       notes=(f"pid {os.getpid()}",))

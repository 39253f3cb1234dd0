"""Tiny DICOM / raster / NIfTI files written by the tests themselves, plus checks of the factory.

Other io tests import the helpers: ``from test_io_factory import write_dicom, write_ct_series``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    SecondaryCaptureImageStorage,
    generate_uid,
)

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


def make_dataset(
    pixels: np.ndarray | None,
    *,
    sop_class: str | None = CR_STORAGE,
    modality: str | None = "CR",
    photometric: str | None = None,
    bits_stored: int | None = None,
    frames: int | None = None,
    **attrs: Any,
) -> Dataset:
    """A minimal, valid dataset holding ``pixels`` ((rows, cols), (frames, rows, cols) or RGB)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    uid = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPClassUID = sop_class or SecondaryCaptureImageStorage
    if sop_class:
        ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid
    if modality:
        ds.Modality = modality
    ds.PatientName, ds.PatientID = "Test^Patient", "PID-1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = "20240102", 3, 1
    if pixels is not None:
        _set_pixels(ds, pixels, photometric, bits_stored, frames)
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def _set_pixels(ds: Dataset, pixels: np.ndarray, photometric: str | None,
                bits_stored: int | None, frames: int | None) -> None:
    colour = pixels.shape[-1] == 3 and pixels.ndim == (4 if frames else 3)
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric or ("RGB" if colour else "MONOCHROME2")
    if colour:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated, ds.BitsStored = bits, bits_stored or bits
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if frames:
        ds.NumberOfFrames = frames
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()


def write_dicom(path: Path, pixels: np.ndarray | None, **kwargs: Any) -> Path:
    """Write ``make_dataset(pixels, **kwargs)`` to ``path`` as a DICOM file with preamble."""
    ds = make_dataset(pixels, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_compressed(path: Path, pixels: np.ndarray, syntax: str, **kwargs: Any) -> Path:
    """Write pixels compressed with one of pydicom's encoders (RLE, JPEG-LS, JPEG 2000)."""
    ds = make_dataset(pixels, **kwargs)
    ds.compress(syntax, pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_jpeg_baseline(path: Path, rgb: np.ndarray, **kwargs: Any) -> Path:
    """An 8-bit RGB image as JPEG Baseline (encoded by Pillow, stored as YBR_FULL_422)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=95)
    ds = make_dataset(rgb, photometric="YBR_FULL_422", **kwargs)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    ds.save_as(path, enforce_file_format=True)
    return path


def write_raw_no_preamble(path: Path, pixels: np.ndarray) -> Path:
    """Implicit VR little endian without preamble or file meta, as old archives hold."""
    ds = make_dataset(pixels)
    del ds.file_meta
    pydicom.dcmwrite(path, ds, enforce_file_format=False, implicit_vr=True, little_endian=True)
    return path


def write_ct_series(
    folder: Path,
    depths: list[float],
    *,
    rows: int = 8,
    cols: int = 6,
    spacing: tuple[float, float] = (0.5, 0.75),
    orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    tilt_shift_mm: float = 0.0,
    rescale: tuple[float, float] = (1.0, -1024.0),
    value_of: Any = None,
    names: list[str] | None = None,
    series_uid: str | None = None,
) -> list[Path]:
    """One CT file per depth along the slice normal; slice k stores ``value_of(k, depth)``.

    ``tilt_shift_mm`` moves each slice along the row direction by that many mm per mm of depth
    (a gantry tilt). Files are written under ``names`` (default: shuffled order of depths).
    """
    o = np.asarray(orientation, dtype=float)
    normal = np.cross(o[:3], o[3:])
    series_uid = series_uid or generate_uid()
    study_uid = generate_uid()
    value_of = value_of or (lambda k, depth: np.full((rows, cols), 1000 + 10 * k, np.uint16))
    paths = []
    for k, depth in enumerate(depths):
        position = normal * depth + o[3:] * tilt_shift_mm * depth
        ds = make_dataset(
            np.asarray(value_of(k, depth), dtype=np.uint16), sop_class=CTImageStorage,
            modality="CT", bits_stored=12,
            ImagePositionPatient=[float(v) for v in position],
            ImageOrientationPatient=[float(v) for v in o], PixelSpacing=list(spacing),
            RescaleSlope=rescale[0], RescaleIntercept=rescale[1], InstanceNumber=len(depths) - k,
            SeriesInstanceUID=series_uid, StudyInstanceUID=study_uid, SliceThickness=1.0,
        )
        name = names[k] if names else f"slice_{(k * 7919) % 1009:04d}.dcm"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def test_factory_writes_readable_dicom(tmp_path: Path) -> None:
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    path = write_dicom(tmp_path / "a.dcm", pixels)
    ds = pydicom.dcmread(path)
    assert np.array_equal(ds.pixel_array, pixels)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


def test_factory_raw_file_has_no_preamble(tmp_path: Path) -> None:
    path = write_raw_no_preamble(tmp_path / "raw.dcm", np.zeros((2, 2), np.uint16))
    assert path.read_bytes()[:2] == b"\x08\x00"
    assert ImplicitVRLittleEndian  # the syntax the reader must infer

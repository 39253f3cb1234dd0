"""Writing a simulated CT volume: a DICOM CT Image Storage series (one file per axial slice) or a
NIfTI file, plus its ground-truth annotation JSON in ``out_dir/truth/``.

Slices are stored as signed 16-bit with RescaleIntercept −1024 (stored = HU + 1024), the usual
scanner layout; the simulator's HU are whole numbers, so loading gives back the very same voxels.
UIDs are deterministic (derived from the volume's series UID), so writing twice gives identical
files. The truth's ImageRef names the series folder (or NIfTI file) relative to ``out_dir`` and
carries the UIDs that were written (none for NIfTI, which has no UIDs).
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np

from vcfviewer.core.annotation import StudyAnnotation
from vcfviewer.synth.ct import CT_IMAGE_STORAGE, SyntheticCT
from vcfviewer.synth.options import SynthError
from vcfviewer.synth.writer import patient_study_series

INTERCEPT = -1024.0
# what the CLI varies between volumes: common in-plane pixels and reconstruction thicknesses
CLI_PIXELS = (0.6, 0.7, 0.75, 0.8, 0.9, 1.0)
CLI_SLICES = (0.625, 1.0, 1.25, 2.0, 2.5, 3.0, 5.0)


def default_ct_name(seed: int) -> str:
    """Folder/file stem the CLI uses for the CT volume made from ``seed``."""
    return f"synth_ct_{seed:06d}"


def spacing_for(seed: int) -> tuple[float, float]:
    """(pixel_mm, slice_mm) the CLI uses for ``seed``: varied, deterministic."""
    rng = np.random.default_rng([seed, 7777])
    return float(rng.choice(CLI_PIXELS)), float(rng.choice(CLI_SLICES))


def _ds_text(value: float) -> str:
    """A DS string (≤ 16 characters) that reads back as the same number to 1e-6 mm."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _slice_uid(series_uid: str, index: int) -> str:
    return f"{series_uid}.{index + 1}"


def _common(ds: "object", ct: SyntheticCT, name: str) -> None:
    """Patient, study, series, frame of reference, equipment (the same on every slice)."""
    v = ct.volume
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    patient_study_series(ds, v.patient, v.source)
    ds.AcquisitionDate, ds.AcquisitionTime = ds.StudyDate, ds.StudyTime
    ds.FrameOfReferenceUID = ct.meta["frame_of_reference_uid"]
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "SPINE"
    ds.KVP = "120"
    ds.AcquisitionNumber = 1
    ds.DerivationDescription = f"simulated CT {name}, seed {ct.meta.get('seed')}"


def _pixel_module(ds: "object", ct: SyntheticCT) -> None:
    v = ct.volume
    _, rows, cols = v.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = _ds_text(INTERCEPT), "1", "HU"
    ds.WindowCenter, ds.WindowWidth = _ds_text(v.window.center), _ds_text(v.window.width)
    ds.PixelSpacing = [_ds_text(v.spacing_mm[1]), _ds_text(v.spacing_mm[2])]
    ds.SliceThickness = _ds_text(v.spacing_mm[0])
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]


def _slice_bytes(ct: SyntheticCT, name: str, index: int) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

    v = ct.volume
    ds = Dataset()
    _common(ds, ct, name)
    _pixel_module(ds, ct)
    ds.SOPInstanceUID = _slice_uid(v.source.series_instance_uid, index)
    ds.InstanceNumber = index + 1
    z = v.origin[2] + index * v.spacing_mm[0]
    ds.ImagePositionPatient = [_ds_text(v.origin[0]), _ds_text(v.origin[1]), _ds_text(z)]
    ds.SliceLocation = _ds_text(z)
    stored = np.rint(v.voxels[index] - INTERCEPT).astype(np.int16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    ds.PixelData = stored.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _nifti_bytes(ct: SyntheticCT) -> bytes:
    """NIfTI-1, gzipped: voxel (i, j, k) = (column, row, slice), RAS affine from the LPS geometry."""
    import gzip

    import nibabel as nib

    v = ct.volume
    lps = np.eye(4)
    spacing = np.array([v.spacing_mm[2], v.spacing_mm[1], v.spacing_mm[0]])
    lps[:3, :3] = np.asarray(v.direction, dtype=np.float64) * spacing
    lps[:3, 3] = v.origin
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # LPS → RAS flips x and y
    data = np.rint(v.voxels).astype(np.int16).transpose(2, 1, 0)
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    return gzip.compress(image.to_bytes(), mtime=0)


def _write_truth(annotation: StudyAnnotation, path: Path) -> Path:
    from vcfviewer.core.morphometry import measure_study
    from vcfviewer.io.annotation_json import write_annotation

    return write_annotation(annotation, path, measure_study(annotation))


def write_ct_series(ct: SyntheticCT, out_dir: Path, name: str, *, nifti: bool = False) -> dict[str, Path]:
    """Write ``out_dir/<name>/0001.dcm…`` (or ``out_dir/<name>.nii.gz``) and
    ``out_dir/truth/<name>.json``; returns {"series" or "nifti", "truth"} → paths."""
    from vcfviewer.io import atomic

    out_dir = Path(out_dir)
    try:
        atomic.ensure_folder(out_dir / "truth")
        if nifti:
            target = out_dir / f"{name}.nii.gz"
            atomic.write_bytes(target, _nifti_bytes(ct))
            image = replace(ct.annotation.image, path=target.name, sop_class_uid=None,
                            series_instance_uid=None, study_instance_uid=None)
            paths = {"nifti": target}
        else:
            target = out_dir / name
            atomic.ensure_folder(target)
            for k in range(ct.volume.shape[0]):
                atomic.write_bytes(target / f"{k + 1:04d}.dcm", _slice_bytes(ct, name, k))
            image = replace(ct.annotation.image, path=target.name)
            paths = {"series": target}
        paths["truth"] = _write_truth(replace(ct.annotation, image=image), out_dir / "truth" / f"{name}.json")
    except atomic.ExportError as err:
        raise SynthError(f"{err.path}: {err.reason}") from None
    return paths

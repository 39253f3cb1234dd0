"""GUI test fixtures: private QSettings, a leaked-QThread guard, and pydicom-written studies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QSettings, QThread  # noqa: E402

from vcfviewer.gui import workers  # noqa: E402

STUDY_UID = "1.2.826.0.1.3680043.8.498.100"
CT_STUDY_UID = "1.2.826.0.1.3680043.8.498.200"


def _base_dataset(sop_class: str, modality: str):
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from pydicom import Dataset

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName = "TEST^GUI"
    ds.PatientID = "GUI-001"
    ds.StudyDate = "20240131"
    ds.StudyDescription = "SPINE"
    return ds


def _set_pixels(ds, pixels: np.ndarray) -> None:
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if pixels.dtype == np.int16 else 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()


def write_dx(path: Path, pixels: np.ndarray, series_number: int, description: str,
             spacing: tuple[float, float], window: tuple[float, float]) -> None:
    """One DX 'for presentation' file with PixelSpacing and a header window."""
    ds = _base_dataset("1.2.840.10008.5.1.4.1.1.1.1", "DX")
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = f"{STUDY_UID}.{series_number}"
    ds.SeriesNumber = series_number
    ds.InstanceNumber = 1
    ds.SeriesDescription = description
    ds.PixelSpacing = [f"{spacing[0]:g}", f"{spacing[1]:g}"]
    ds.WindowCenter, ds.WindowWidth = f"{window[0]:g}", f"{window[1]:g}"
    _set_pixels(ds, pixels.astype(np.uint16))
    ds.save_as(path, enforce_file_format=True)


def write_ct_series(folder: Path, slices: int, rows: int, columns: int, pixel_mm: float,
                    slice_mm: float) -> None:
    """An axial CT series in HU (rescale -1024): air around a 'body' with a bright 'spine'."""
    series_uid = f"{CT_STUDY_UID}.1"
    for k in range(slices):
        hu = np.full((rows, columns), -1000, dtype=np.int16)
        hu[4:rows - 4, 3:columns - 3] = 40  # soft tissue
        hu[rows // 2:rows - 6, columns // 2 - 3:columns // 2 + 3] = 700 + 10 * k  # bone
        ds = _base_dataset("1.2.840.10008.5.1.4.1.1.2", "CT")
        ds.StudyInstanceUID = CT_STUDY_UID
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 3
        ds.SeriesDescription = "AX BONE"
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, -k * slice_mm]
        ds.SliceThickness = slice_mm
        ds.PixelSpacing = [pixel_mm, pixel_mm]
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        _set_pixels(ds, (hu + 1024).astype(np.int16))
        # Written in reverse so the loader has to sort by position, not by file name.
        ds.save_as(folder / f"ct{slices - 1 - k:03d}.dcm", enforce_file_format=True)


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test gets its own settings folder; the user's vcfviewer.ini is never touched."""
    folder = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(folder))
    return folder


def _alive(thread: QThread) -> bool:
    import shiboken6

    return shiboken6.isValid(thread) and thread.isRunning()


@pytest.fixture(autouse=True)
def no_leaked_qthreads(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread running after its widgets were closed (like napari)."""
    started: list[QThread] = []
    original_start = QThread.start

    def recording_start(self: QThread, *args: object) -> None:
        started.append(self)
        original_start(self, *args)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield
    leaked = [t for t in set(started) | set(workers.running_threads()) if _alive(t)]
    for thread in leaked:  # stop them anyway so one leak does not hang the next tests
        thread.requestInterruption()
        thread.quit()
        thread.wait(5000)
    assert not leaked, f"{len(leaked)} QThread(s) still running after the test: " + ", ".join(
        t.objectName() or "unnamed" for t in leaked
    )


@pytest.fixture
def dx_folder(tmp_path: Path) -> Path:
    """Two DX series of one patient, a truncated DICOM file and a text file."""
    folder = tmp_path / "dx_study"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(1)
    lateral = (rng.random((96, 64)) * 3000 + 500).astype(np.uint16)
    lateral[40:56, 20:44] = 4000  # a bright "vertebra" for value checks
    write_dx(folder / "lat.dcm", lateral, series_number=1, description="LAT L-SPINE",
             spacing=(0.2, 0.2), window=(2000.0, 3000.0))
    frontal = (rng.random((80, 60)) * 3000).astype(np.uint16)
    write_dx(folder / "sub" / "ap.dcm", frontal, series_number=2, description="AP L-SPINE",
             spacing=(0.2, 0.2), window=(1500.0, 3000.0))
    good = (folder / "lat.dcm").read_bytes()
    (folder / "broken.dcm").write_bytes(good[:300])  # cut off inside the header
    (folder / "notes.bin").write_text("not an image\n")
    return folder


@pytest.fixture
def ct_folder(tmp_path: Path) -> Path:
    """A small axial CT series: 12 slices of 24 × 20 voxels, 0.8 mm pixels, 3 mm slices."""
    folder = tmp_path / "ct_series"
    folder.mkdir()
    write_ct_series(folder, slices=12, rows=24, columns=20, pixel_mm=0.8, slice_mm=3.0)
    return folder


@pytest.fixture
def ct_review_folder(tmp_path: Path) -> Path:
    """A CT series big enough to review: 40 slices of 48 × 24 voxels (0.8 mm), 1.6 mm apart.

    Its sagittal reformat has 24 planes of 79 rows × 48 columns.
    """
    folder = tmp_path / "ct_review"
    folder.mkdir()
    write_ct_series(folder, slices=40, rows=48, columns=24, pixel_mm=0.8, slice_mm=1.6)
    return folder

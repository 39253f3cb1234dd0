"""The dispatching entry point: series and paths → Radiograph / Volume, and the isolated probe."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image
from test_io_factory import BASIC_TEXT_SR, write_ct_series, write_dicom

from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.io.discovery import SeriesEntry, scan_sync
from vcfviewer.io.errors import LoadError
from vcfviewer.io.loader import load_path_sync, load_series_sync, probe_files


def test_folder_with_one_ct_series_loads_as_volume(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "ct", [0.0, 1.0, 2.0])
    volume = load_path_sync(tmp_path / "ct")
    assert isinstance(volume, Volume) and volume.shape == (3, 8, 6)


def test_folder_with_two_series_is_refused(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "a", [0.0, 1.0])
    write_dicom(tmp_path / "b" / "cr.dcm", np.zeros((4, 4), np.uint16))
    with pytest.raises(LoadError, match="holds 2 image series"):
        load_path_sync(tmp_path)


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing")
    with pytest.raises(LoadError, match="no loadable image found"):
        load_path_sync(tmp_path)


def test_paths_dispatch_by_kind(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "f.png")
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5), np.int16), np.eye(4)), tmp_path / "v.nii")
    write_dicom(tmp_path / "cr.dcm", np.zeros((4, 4), np.uint16))
    assert isinstance(load_path_sync(tmp_path / "f.png"), Radiograph)
    assert isinstance(load_path_sync(tmp_path / "v.nii"), Volume)
    assert isinstance(load_path_sync(tmp_path / "cr.dcm"), Radiograph)
    with pytest.raises(LoadError, match="no such file or folder"):
        load_path_sync(tmp_path / "absent.dcm")


def test_series_entries_load(tmp_path: Path) -> None:
    write_ct_series(tmp_path / "ct", [0.0, 1.0])
    for i in range(2):
        write_dicom(tmp_path / "cr" / f"{i}.dcm", np.full((4, 4), i, np.uint16),
                    SeriesInstanceUID="1.2.3.4", StudyInstanceUID="1.2.3", InstanceNumber=i + 1)
    write_dicom(tmp_path / "sr.dcm", None, sop_class=BASIC_TEXT_SR, modality="SR")
    by_kind = {s.kind: s for s in scan_sync(tmp_path).all_series()}
    assert isinstance(load_series_sync(by_kind["volume"]), Volume)
    two = load_series_sync(by_kind["radiograph"])
    assert isinstance(two, Radiograph)
    assert two.notes[0] == "series holds 2 images: showing the first"
    with pytest.raises(LoadError, match="SR holds no image to display"):
        load_series_sync(by_kind["other"])


def test_sparse_series_falls_back_to_first_image(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, [0.0, 1.0, 2.0, 100.0])  # 97 slices missing of 101
    series = SeriesEntry("1.2", "CT", "", None, tuple(str(p) for p in paths), 4, "Volume",
                         "volume")
    image = load_series_sync(series)
    assert isinstance(image, Radiograph)
    assert image.notes[0].startswith("not shown as a volume (slices too sparse")


def test_library_exceptions_never_escape(tmp_path: Path) -> None:
    ds_path = write_dicom(tmp_path / "odd.dcm", np.zeros((4, 4), np.uint16))
    data = bytearray(ds_path.read_bytes())
    (tmp_path / "cut.dcm").write_bytes(bytes(data[:200]))  # header cut mid-element
    with pytest.raises(LoadError):
        load_path_sync(tmp_path / "cut.dcm")


@pytest.mark.timeout(60)
def test_probe_reports_loaded_error_and_hang(tmp_path: Path) -> None:
    good = write_dicom(tmp_path / "good.dcm", np.zeros((4, 4), np.uint16))
    (tmp_path / "bad.txt").write_text("nope")
    fifo = tmp_path / "fifo.dcm"
    os.mkfifo(fifo)  # opening it for reading blocks forever: a stand-in for a decoder that hangs
    results = list(probe_files([str(good), str(tmp_path / "bad.txt"), str(fifo), str(good)],
                               timeout_s=3))
    assert [r[1] for r in results] == ["loaded", "error", "hang", "loaded"]
    assert results[0][2] == "Radiograph (4, 4)"
    assert results[1][2] == "not a DICOM file"


def test_enhanced_file_without_positions_shows_its_first_frame(tmp_path: Path) -> None:
    from test_io_factory import ENHANCED_CT_STORAGE

    frames = np.stack([np.full((4, 4), 5 * (k + 1), np.uint16) for k in range(3)])
    path = write_dicom(tmp_path / "enh.dcm", frames, sop_class=ENHANCED_CT_STORAGE,
                       modality="CT", frames=3)
    image = load_path_sync(path)
    assert isinstance(image, Radiograph) and float(image.pixels.max()) == 5.0
    assert image.notes[0] == ("not shown as a volume (multi-frame file without per-frame "
                              "positions): showing the first image")

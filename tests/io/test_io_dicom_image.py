"""DICOM radiograph loading: modality LUT, windows, MONOCHROME1, spacing, frames, colour, codecs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless
from test_io_factory import (
    CR_STORAGE,
    make_dataset,
    write_compressed,
    write_dicom,
    write_jpeg_baseline,
    write_raw_no_preamble,
)

from vcfviewer.core.image import SpacingSource, Window
from vcfviewer.core.progress import Progress, run_to_completion
from vcfviewer.io.dicom_image import load_radiograph
from vcfviewer.io.errors import LoadError


def _load(path: Path):
    return run_to_completion(load_radiograph(path))


def _ramp(rows: int = 6, cols: int = 5, scale: int = 100) -> np.ndarray:
    return (np.arange(rows * cols, dtype=np.uint16) * scale).reshape(rows, cols)


def test_rescale_gives_float32_modality_values(tmp_path: Path) -> None:
    pixels = _ramp()
    image = _load(write_dicom(tmp_path / "a.dcm", pixels, bits_stored=12,
                              RescaleSlope=2, RescaleIntercept=-100))
    assert image.pixels.dtype == np.float32
    assert image.pixels[0, 1] == pytest.approx(100 * 2 - 100)
    assert image.pixels[5, 4] == pytest.approx(2900 * 2 - 100)


def test_first_of_several_windows_is_used(tmp_path: Path) -> None:
    image = _load(write_dicom(tmp_path / "a.dcm", _ramp(), WindowCenter=[40, 300],
                              WindowWidth=[400, 1500]))
    assert image.window == Window(40.0, 400.0)


def test_monochrome1_is_inverted_with_its_window(tmp_path: Path) -> None:
    pixels = _ramp()  # values 0..2900, 12 bits stored: possible range 0..4095
    image = _load(write_dicom(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1",
                              bits_stored=12, WindowCenter=1000, WindowWidth=500))
    assert image.inverted_on_load
    assert image.photometric == "MONOCHROME1"
    assert image.pixels[0, 0] == pytest.approx(4095.0)  # stored 0 was white → now brightest
    assert image.pixels[0, 1] == pytest.approx(4095.0 - 100)
    assert image.window == Window(4095.0 - 1000.0, 500.0)


def _voi_lut_item(first: int, entries: int, data: list[int]) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [entries, first, 8]
    item.LUTData = data
    return item


def test_window_derived_from_voi_lut_sequence(tmp_path: Path) -> None:
    ds = make_dataset(_ramp())
    ds.VOILUTSequence = [_voi_lut_item(100, 256, list(range(256)))]
    ds["VOILUTSequence"][0]["LUTData"].VR = "US"
    path = tmp_path / "voi.dcm"
    ds.save_as(path, enforce_file_format=True)
    image = _load(path)
    # Linear LUT 0..255 over inputs 100..355: output passes 1 % at input 103, 99 % at input 352.
    assert image.window.low == pytest.approx(103.0)
    assert image.window.high == pytest.approx(352.0)
    assert any("VOI LUT" in note for note in image.notes)


@pytest.mark.parametrize(
    ("attrs", "spacing", "source", "magnification"),
    [
        ({"PixelSpacing": [0.1, 0.2]}, (0.1, 0.2), SpacingSource.PIXEL_SPACING, None),
        ({"ImagerPixelSpacing": [0.2, 0.2], "EstimatedRadiographicMagnificationFactor": 1.25},
         (0.16, 0.16), SpacingSource.IMAGER_CORRECTED, 1.25),
        ({"ImagerPixelSpacing": [0.15, 0.15]}, (0.15, 0.15), SpacingSource.IMAGER, None),
        ({"PixelSpacing": [0.15, 0.15], "ImagerPixelSpacing": [0.15, 0.15]},
         (0.15, 0.15), SpacingSource.IMAGER, None),
        ({"PixelSpacing": [0.12, 0.12], "ImagerPixelSpacing": [0.15, 0.15]},
         (0.12, 0.12), SpacingSource.PIXEL_SPACING, None),
        ({"NominalScannedPixelSpacing": [0.3, 0.3]}, (0.3, 0.3), SpacingSource.NOMINAL, None),
        ({}, None, SpacingSource.NONE, None),
        ({"PixelSpacing": [0.0, 0.1]}, None, SpacingSource.NONE, None),
    ],
)
def test_pixel_spacing_sources(tmp_path: Path, attrs: dict, spacing, source, magnification) -> None:
    image = _load(write_dicom(tmp_path / "s.dcm", _ramp(), **attrs))
    assert image.spacing_source is source
    if spacing is None:
        assert image.spacing_mm is None
        assert "no pixel spacing: ratios only" in image.notes
    else:
        assert image.spacing_mm == pytest.approx(spacing)
    assert image.magnification_factor == magnification


def test_multi_frame_shows_first_frame(tmp_path: Path) -> None:
    frames = np.stack([np.full((4, 5), 10 * (i + 1), np.uint16) for i in range(3)])
    image = _load(write_dicom(tmp_path / "mf.dcm", frames, frames=3))
    assert image.pixels.shape == (4, 5)
    assert np.all(image.pixels == 10)
    assert image.source.frame_number == 1
    assert any("frame 1 of 3" in note for note in image.notes)


def test_rgb_secondary_capture_becomes_grey(tmp_path: Path) -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (0, 0, 255)
    image = _load(write_dicom(tmp_path / "rgb.dcm", rgb, sop_class="1.2.840.10008.5.1.4.1.1.7",
                              modality="OT"))
    assert image.pixels.shape == (4, 4)
    assert image.pixels[0, :3] == pytest.approx([0.299 * 255, 0.587 * 255, 0.114 * 255], rel=1e-4)
    assert any("converted to grey" in note for note in image.notes)


def test_jpeg_baseline_ybr_is_decoded_to_grey(tmp_path: Path) -> None:
    rgb = np.full((16, 16, 3), 128, np.uint8)
    rgb[:8] = 200
    image = _load(write_jpeg_baseline(tmp_path / "j.dcm", rgb))
    assert image.pixels[2, 2] == pytest.approx(200, abs=3)
    assert image.pixels[12, 12] == pytest.approx(128, abs=3)


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_lossless_codecs_round_trip_exactly(tmp_path: Path, syntax: str) -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 4096, size=(64, 48), dtype=np.uint16)  # OpenJPEG needs ≥ 32 px
    image = _load(write_compressed(tmp_path / "c.dcm", pixels, syntax, bits_stored=12))
    assert np.array_equal(image.pixels, pixels.astype(np.float32))


def test_missing_modality_and_sop_class_still_load(tmp_path: Path) -> None:
    image = _load(write_dicom(tmp_path / "bare.dcm", _ramp(), sop_class=None, modality=None))
    assert image.pixels.shape == (6, 5)
    assert image.source.sop_class_uid is None


def test_file_without_preamble_loads(tmp_path: Path) -> None:
    image = _load(write_raw_no_preamble(tmp_path / "raw", _ramp()))
    assert image.pixels[1, 0] == pytest.approx(500)


def test_patient_info_and_uids(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "p.dcm", _ramp(), PatientSex="F", StudyDescription="LSPINE")
    image = _load(path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert image.patient.patient_id == "PID-1"
    assert image.patient.patient_sex == "F"
    assert image.patient.study_description == "LSPINE"
    assert image.patient.series_number == 3
    assert image.source.sop_instance_uid == ds.SOPInstanceUID
    assert image.source.sop_class_uid == CR_STORAGE


def test_job_yields_progress(tmp_path: Path) -> None:
    reports: list[Progress] = []
    run_to_completion(load_radiograph(write_dicom(tmp_path / "a.dcm", _ramp())), reports.append)
    assert reports and reports[-1].fraction == 1.0


def _reason(path: Path) -> str:
    with pytest.raises(LoadError) as info:
        _load(path)
    assert info.value.path == str(path)
    assert str(info.value) == f"{path}: {info.value.reason}"
    return info.value.reason


def test_not_dicom_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    assert _reason(path) == "not a DICOM file"


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    assert _reason(tmp_path / "absent.dcm") == "file not found"


def test_object_without_pixels_is_a_load_error(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "sr.dcm", None, sop_class="1.2.840.10008.5.1.4.1.1.88.11",
                       modality="SR")
    assert _reason(path).startswith("no pixel data: Basic Text SR Storage")


def test_truncated_pixel_data_is_a_load_error(tmp_path: Path) -> None:
    ds = make_dataset(_ramp())
    ds.PixelData = ds.PixelData[:-8]
    path = tmp_path / "short.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert _reason(path).startswith("cannot decode pixel data (Explicit VR Little Endian)")


def test_absurd_size_is_refused_before_decoding(tmp_path: Path) -> None:
    ds = make_dataset(_ramp())
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 2
    path = tmp_path / "huge.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert _reason(path).startswith("image too large to load")


def test_missing_decoder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = _ramp()
    path = write_compressed(tmp_path / "ls.dcm", pixels, JPEGLSLossless, bits_stored=12)

    class _Unavailable:
        is_available = False

    monkeypatch.setattr(pydicom.pixels, "get_decoder", lambda uid: _Unavailable())
    assert _reason(path) == ("no decoder installed for JPEG-LS Lossless Image Compression "
                             "(transfer syntax 1.2.840.10008.1.2.4.80)")


def test_unknown_transfer_syntax_is_named(tmp_path: Path) -> None:
    ds = make_dataset(_ramp())
    ds.file_meta.TransferSyntaxUID = "1.2.3.4.5.6"
    path = tmp_path / "odd.dcm"
    ds.save_as(path, enforce_file_format=True, implicit_vr=False, little_endian=True)
    reason = _reason(path)
    assert "1.2.3.4.5.6" in reason


def test_monochrome1_with_rescale_and_no_window(tmp_path: Path) -> None:
    pixels = _ramp()  # stored 0..2900; 12 bits → modality range 10 .. 2·4095 + 10 = 8200
    image = _load(write_dicom(tmp_path / "m1r.dcm", pixels, photometric="MONOCHROME1",
                              bits_stored=12, RescaleSlope=2, RescaleIntercept=10))
    assert image.pixels[0, 0] == pytest.approx(8200.0)  # (10 + 8200) − (2·0 + 10)
    assert image.pixels[0, 1] == pytest.approx(8000.0)  # (10 + 8200) − (2·100 + 10)
    # The automatic window is taken on the inverted values, so it spans them.
    assert image.pixels.min() <= image.window.low < image.window.high <= image.pixels.max()


def test_modality_lut_sequence(tmp_path: Path) -> None:
    ds = make_dataset(_ramp(), bits_stored=12)
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = [2 * i for i in range(4096)]
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = [item]
    ds["ModalityLUTSequence"][0]["LUTData"].VR = "US"
    path = tmp_path / "mlut.dcm"
    ds.save_as(path, enforce_file_format=True)
    image = _load(path)
    assert image.pixels[0, 1] == pytest.approx(200.0)  # stored 100 → LUT 2 · 100
    assert image.pixels[5, 4] == pytest.approx(5800.0)

"""CT series and NIfTI → Volume: ordering, HU, spacing, gaps, tilt, enhanced multi-frame."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from test_io_factory import ENHANCED_CT_STORAGE, make_dataset, write_ct_series

from vcfviewer.core.progress import run_to_completion
from vcfviewer.core.reformat import voxel_to_patient
from vcfviewer.io.errors import LoadError
from vcfviewer.io.volume_loader import NotAVolume, load_dicom_volume, load_nifti


def _volume(paths):
    return run_to_completion(load_dicom_volume([str(p) for p in paths]))


def test_shuffled_series_is_ordered_along_the_normal(tmp_path: Path) -> None:
    depths = [4.0, -2.0, 0.0, 2.0, 6.0]
    paths = write_ct_series(tmp_path, depths)
    volume = _volume(reversed(paths))
    # slice k stored 1000 + 10 k; HU = stored − 1024; sorted depths −2, 0, 2, 4, 6 ↔ k 1, 2, 3, 0, 4
    assert volume.voxels[:, 0, 0].tolist() == [-14.0, -4.0, 6.0, -24.0, 16.0]
    assert volume.voxels.dtype == np.float32
    assert volume.spacing_mm == pytest.approx((2.0, 0.5, 0.75))
    assert volume.origin == pytest.approx((0.0, 0.0, -2.0))
    assert np.allclose(volume.direction, np.eye(3))
    assert volume.units == "HU"
    assert volume.notes == ()
    assert [s.path for s in volume.slice_sources] == [str(paths[i]) for i in (1, 2, 3, 0, 4)]


def test_reversed_normal_orientation(tmp_path: Path) -> None:
    # Rows run towards −y: the normal is −z, so "ascending depth" means descending z.
    paths = write_ct_series(tmp_path, [0.0, 1.0, 2.0], orientation=(1, 0, 0, 0, -1, 0))
    volume = _volume(paths)
    assert volume.direction[:, 2] == pytest.approx([0, 0, -1])
    assert volume.origin[2] == pytest.approx(0.0)
    corner = voxel_to_patient(volume, (2, 0, 0))
    assert corner == pytest.approx([0.0, 0.0, -2.0])


def test_missing_slice_is_resampled_and_reported(tmp_path: Path) -> None:
    depths = [0.0, 2.0, 4.0, 8.0, 10.0]  # the slice at 6 mm is missing
    volume = _volume(write_ct_series(tmp_path, depths))
    assert volume.shape[0] == 6
    assert volume.spacing_mm[0] == pytest.approx(2.0)
    # The gap 4 → 8 mm is filled halfway between slice k=2 (−4 HU) and k=3 (6 HU).
    assert volume.voxels[3, 0, 0] == pytest.approx(1.0)
    assert volume.voxels[4, 0, 0] == pytest.approx(6.0)
    assert any("missing slice" in note for note in volume.notes)
    assert len(volume.slice_sources) == 6


def test_duplicate_positions_keep_one_slice(tmp_path: Path) -> None:
    volume = _volume(write_ct_series(tmp_path, [0.0, 1.0, 1.0, 2.0]))
    assert volume.shape[0] == 3
    assert any("duplicate" in note for note in volume.notes)


def test_gantry_tilt_is_removed_and_reported(tmp_path: Path) -> None:
    rows, cols = 10, 4
    shift = 0.25  # mm along the column direction (y) per mm of depth: ~14°

    def bright_row_at_fixed_y(_k: int, depth: float) -> np.ndarray:
        image = np.zeros((rows, cols), np.uint16)
        image[int(round(3 - shift * depth / 0.5)) + 0, :] = 2000  # feature at y = 1.5 mm
        return image

    depths = [0.0, 2.0, 4.0, 6.0]
    volume = _volume(write_ct_series(tmp_path, depths, rows=rows, cols=cols,
                                     tilt_shift_mm=shift, value_of=bright_row_at_fixed_y,
                                     rescale=(1.0, 0.0)))
    assert any("gantry tilt 14.0°" in note for note in volume.notes)
    # After correction the feature sits on grid row 3 (y = 1.5 mm) in every slice.
    assert np.argmax(volume.voxels[:, :, 0], axis=1).tolist() == [3, 3, 3, 3]
    assert volume.voxels[:, 3, 0] == pytest.approx([2000.0] * 4)


def test_mixed_sizes_are_refused(tmp_path: Path) -> None:
    uid = generate_uid()
    paths = write_ct_series(tmp_path / "a", [0.0, 1.0], series_uid=uid)
    paths += write_ct_series(tmp_path / "b", [2.0], rows=4, cols=4, series_uid=uid)
    with pytest.raises(LoadError, match="mixed image sizes in the series: 8x6 \\(2 slices\\), "
                                        "4x4 \\(1 slices\\)"):
        _volume(paths)


def test_localizer_in_series_is_left_out(tmp_path: Path) -> None:
    uid = generate_uid()
    paths = write_ct_series(tmp_path, [0.0, 1.0, 2.0], series_uid=uid)
    paths += write_ct_series(tmp_path / "loc", [0.0], orientation=(0, 1, 0, 0, 0, -1),
                             series_uid=uid)
    volume = _volume(paths)
    assert volume.shape[0] == 3
    assert any("another orientation" in note for note in volume.notes)


def test_single_position_is_not_a_volume(tmp_path: Path) -> None:
    with pytest.raises(NotAVolume, match="all slices share one position"):
        _volume(write_ct_series(tmp_path, [5.0, 5.0]))


def test_missing_position_is_refused(tmp_path: Path) -> None:
    paths = write_ct_series(tmp_path, [0.0, 1.0])
    ds = make_dataset(np.zeros((8, 6), np.uint16), modality="CT")
    ds.save_as(tmp_path / "nopos.dcm", enforce_file_format=True)
    with pytest.raises(LoadError, match="no ImagePositionPatient"):
        _volume(paths + [tmp_path / "nopos.dcm"])


def _frame_group(position: list[float]) -> Dataset:
    group, plane = Dataset(), Dataset()
    plane.ImagePositionPatient = position
    group.PlanePositionSequence = [plane]
    return group


def test_enhanced_multi_frame_ct(tmp_path: Path) -> None:
    frames = np.stack([np.full((4, 4), 100 * (k + 1), np.uint16) for k in range(3)])
    ds = make_dataset(frames, sop_class=ENHANCED_CT_STORAGE, modality="CT", frames=3)
    shared, orient, measures, transform = Dataset(), Dataset(), Dataset(), Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing = [0.8, 0.8]
    transform.RescaleSlope, transform.RescaleIntercept = 1, -1000
    shared.PlaneOrientationSequence = [orient]
    shared.PixelMeasuresSequence = [measures]
    shared.PixelValueTransformationSequence = [transform]
    ds.SharedFunctionalGroupsSequence = [shared]
    ds.PerFrameFunctionalGroupsSequence = [_frame_group([0, 0, z]) for z in (3.0, 0.0, 1.5)]
    path = tmp_path / "enh.dcm"
    ds.save_as(path, enforce_file_format=True)
    volume = _volume([path])
    assert volume.voxels[:, 0, 0].tolist() == [-800.0, -700.0, -900.0]
    assert volume.spacing_mm == pytest.approx((1.5, 0.8, 0.8))
    assert [s.frame_number for s in volume.slice_sources] == [2, 3, 1]


def test_nifti_ras_affine_becomes_lps(tmp_path: Path) -> None:
    data = np.arange(4 * 3 * 2, dtype=np.int16).reshape(4, 3, 2, order="F")
    affine = np.array([[-0.8, 0, 0, 10], [0, 0.9, 0, -20], [0, 0, 2.5, 30], [0, 0, 0, 1]])
    path = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), path)
    volume = run_to_completion(load_nifti(path))
    assert volume.shape == (2, 3, 4)  # (k, j, i)
    assert volume.voxels[1, 2, 3] == data[3, 2, 1]
    assert volume.spacing_mm == pytest.approx((2.5, 0.9, 0.8))
    assert volume.origin == pytest.approx((-10.0, 20.0, 30.0))  # RAS (10, −20, 30) in LPS
    # Voxel i=3, j=2, k=1 lies at RAS (10 − 2.4, −20 + 1.8, 32.5) → LPS (−7.6, 18.2, 32.5).
    assert voxel_to_patient(volume, (1, 2, 3)) == pytest.approx([-7.6, 18.2, 32.5])
    assert volume.units == "signal"  # no air at −1000: not treated as HU


def test_nifti_4d_takes_first_volume(tmp_path: Path) -> None:
    data = np.zeros((3, 3, 3, 2), np.float32)
    data[..., 1] = 7
    path = tmp_path / "t.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    volume = run_to_completion(load_nifti(path))
    assert volume.shape == (3, 3, 3) and float(volume.voxels.max()) == 0.0
    assert any("first of 2 volumes" in note for note in volume.notes)


def test_broken_nifti_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(LoadError, match="not a readable NIfTI file"):
        run_to_completion(load_nifti(path))

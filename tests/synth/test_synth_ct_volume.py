"""Simulated CT volumes: the product's reformat reads the truth where it was drawn; DICOM and
NIfTI round trips keep voxels, geometry and the truth's references."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vcfviewer.core import levels
from vcfviewer.core.reformat import (
    plane_to_patient,
    plane_to_voxel,
    sagittal_count,
    sagittal_plane,
)
from vcfviewer.synth import SynthError
from vcfviewer.synth.ct import SyntheticCT, simulate_ct_volume
from vcfviewer.synth.ct_writer import write_ct_series


@pytest.fixture(scope="module")
def ct() -> SyntheticCT:
    return simulate_ct_volume(4, pixel_mm=1.0, slice_mm=2.0, lateral_mm=24.0)


@pytest.fixture(scope="module")
def thin() -> SyntheticCT:
    """Slices thinner than the pixels: the reformat resamples AP instead of SI."""
    return simulate_ct_volume(9, pixel_mm=1.0, slice_mm=0.8, lateral_mm=10.0)


def _label_plane(ct: SyntheticCT, index: int) -> np.ndarray:
    labels = replace(ct.volume, voxels=ct.label_volume.astype(np.float32), units="labels")
    return sagittal_plane(labels, index).pixels


def _coincident(n: int, step: float) -> np.ndarray:
    """Reformat rows/columns that fall exactly on a voxel (no interpolation there)."""
    pos = np.arange(n) * step
    return np.flatnonzero(np.abs(pos - np.round(pos)) < 1e-9)


def test_volume_geometry(ct: SyntheticCT) -> None:
    v = ct.volume
    assert v.spacing_mm == (2.0, 1.0, 1.0) and np.array_equal(v.direction, np.eye(3))
    assert v.units == "HU" and v.patient.modality == "CT" and v.voxels.dtype == np.float32
    assert np.array_equal(v.voxels, np.rint(v.voxels))
    assert sagittal_count(v) == 24 == ct.annotation.image.plane_count == ct.meta["planes"]
    assert ct.label_volume.shape == v.shape and ct.label_volume.dtype == np.int16
    ref = ct.annotation.image
    assert ref.modality == "CT" and ref.plane_index is None and ref.pixel_spacing == (1.0, 1.0)
    assert ref.series_instance_uid == v.source.series_instance_uid
    # air in front of the patient, bone in the column
    assert float(np.median(v.voxels[:, :3, :])) < -900.0
    assert float(v.voxels[ct.label_volume > 0].mean()) > 60.0


def test_truth_is_where_the_reformat_shows_it(ct: SyntheticCT, thin: SyntheticCT) -> None:
    for vol in (ct, thin):
        ref = vol.annotation.image
        q = ref.pixel_spacing[0]
        rows = _coincident(ref.rows, q / vol.volume.spacing_mm[0])
        cols = _coincident(ref.columns, q / vol.volume.spacing_mm[1])
        assert len(rows) > 10 and len(cols) > 10
        for k, f in enumerate(vol.annotation.findings, start=1):
            plane = sagittal_plane(vol.volume, f.plane_index)
            assert plane.pixels.shape == (ref.rows, ref.columns)
            mask = f.mask.to_full(plane.pixels.shape)
            label = np.rint(_label_plane(vol, f.plane_index)) == k
            grid = np.ix_(rows, cols)
            assert np.array_equal(label[grid], mask[grid]), f.level
            assert mask[grid].sum() > 100
            assert float(np.median(plane.pixels[mask])) > 40.0  # bone, not soft tissue


def test_each_body_on_its_own_mid_plane(ct: SyntheticCT) -> None:
    v = ct.volume
    centres = ct.meta["body_centres_lps_x"]
    planes = set()
    for f in ct.annotation.findings:
        # LPS x grows to the patient's left, as the plane index does
        x = plane_to_patient(v, f.plane_index, (0.0, 0.0))[0]
        assert abs(x - centres[f.level]) <= v.spacing_mm[2] / 2 + 1e-6, f.level
        planes.add(f.plane_index)
    assert len(planes) > 1  # the mild scoliosis puts the bodies on different planes


def test_orientation_and_level_order(ct: SyntheticCT) -> None:
    v = ct.volume
    for f in ct.annotation.vertebrae:
        lm = f.landmarks
        assert np.all(lm[[0, 3], 0] < lm[[2, 5], 0]) and np.all(lm[:3, 1] < lm[3:, 1])
        vox = plane_to_voxel(v, f.plane_index, lm)
        assert np.all(vox[:3, 0] > vox[3:, 0])  # superior endplate on a higher slice index
        assert np.all(vox[[0, 3], 1] < vox[[2, 5], 1])  # anterior = smaller row (LPS y)
    names = ct.annotation.levels
    assert names == levels.sort_levels(names) and len(names) >= 4
    slices = [plane_to_voxel(v, f.plane_index, f.centre())[0] for f in ct.annotation.findings]
    assert slices == sorted(slices, reverse=True)  # cranio-caudal = slice index falling


def test_same_seed_same_volume() -> None:
    a = simulate_ct_volume(1, pixel_mm=1.0, slice_mm=4.0, lateral_mm=5.0)
    b = simulate_ct_volume(1, pixel_mm=1.0, slice_mm=4.0, lateral_mm=5.0)
    assert np.array_equal(a.volume.voxels, b.volume.voxels)
    assert np.array_equal(a.label_volume, b.label_volume)
    assert all(fa == fb for fa, fb in zip(a.annotation.findings, b.annotation.findings))
    assert a.volume.source == b.volume.source


def test_bad_volume_arguments() -> None:
    with pytest.raises(SynthError, match="lateral_mm"):
        simulate_ct_volume(0, lateral_mm=1.0)
    with pytest.raises(SynthError, match="slice_mm"):
        simulate_ct_volume(0, slice_mm=-2.0)


@pytest.mark.parametrize("nifti", [False, True], ids=["dicom", "nifti"])
def test_round_trip(ct: SyntheticCT, tmp_path: Path, nifti: bool) -> None:
    from vcfviewer.io.annotation_json import read_annotation
    from vcfviewer.io.loader import load_path_sync

    paths = write_ct_series(ct, tmp_path, "vol", nifti=nifti)
    loaded = load_path_sync(str(paths["nifti" if nifti else "series"]))
    assert loaded.shape == ct.volume.shape and np.array_equal(loaded.voxels, ct.volume.voxels)
    assert np.allclose(loaded.spacing_mm, ct.volume.spacing_mm, atol=1e-6)
    assert np.allclose(loaded.origin, ct.volume.origin, atol=1e-4)
    assert np.allclose(loaded.direction, np.eye(3), atol=1e-6)
    truth = read_annotation(paths["truth"])
    assert truth.image.series_instance_uid == loaded.source.series_instance_uid
    assert truth.image.study_instance_uid == loaded.source.study_instance_uid
    assert (truth.image.series_instance_uid is None) == nifti
    assert truth.image.path == Path(paths["nifti" if nifti else "series"]).name
    for f in truth.findings:
        assert np.array_equal(sagittal_plane(loaded, f.plane_index).pixels,
                              sagittal_plane(ct.volume, f.plane_index).pixels)
        if f.landmarks is not None:
            assert np.allclose(plane_to_patient(loaded, f.plane_index, f.landmarks),
                               plane_to_patient(ct.volume, f.plane_index, f.landmarks), atol=1e-4)
    if not nifti:
        files = sorted(paths["series"].glob("*.dcm"))
        uids = [s.sop_instance_uid for s in loaded.slice_sources]
        assert len(files) == len(set(uids)) == ct.volume.shape[0] and None not in uids


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_written_slices_are_valid_ct_images(ct: SyntheticCT, tmp_path: Path) -> None:
    paths = write_ct_series(ct, tmp_path, "vol")
    first = sorted(paths["series"].glob("*.dcm"))[0]
    report = subprocess.run(["dciodvfy", str(first)], capture_output=True, text=True).stderr
    assert "Error" not in report, report

"""Sagittal reformat: orientation conventions, square pixels, exact coordinate maps, any direction."""

from __future__ import annotations

import numpy as np
import pytest

from vcfviewer.core.image import SourceRef, SpacingSource, Volume, Window
from vcfviewer.core.reformat import (
    BONE_WINDOW,
    mid_sagittal_index,
    patient_to_voxel,
    plane_to_patient,
    plane_to_voxel,
    sagittal_count,
    sagittal_plane,
    voxel_to_patient,
    voxel_to_plane,
)


def _field(lps: np.ndarray) -> np.ndarray:
    """A linear function of patient position: linear interpolation reproduces it exactly."""
    return 3.0 * lps[..., 0] + 5.0 * lps[..., 1] - 7.0 * lps[..., 2] + 11.0


def _sampled_volume(shape, spacing, direction, origin=(4.0, -6.0, 10.0), units="HU") -> Volume:
    """A volume whose voxel values are _field at each voxel's patient position."""
    empty = Volume(np.zeros(shape, np.float32), spacing, origin, np.asarray(direction, float),
                   Window(0, 1), SourceRef("mem"), units=units)
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), axis=-1)
    values = _field(voxel_to_patient(empty, grid)).astype(np.float32)
    return Volume(values, spacing, origin, np.asarray(direction, float), Window(0, 1),
                  SourceRef("mem"), units=units)


AXIAL = np.eye(3)  # columns → +x (L), rows → +y (P), slices → +z (S)
SAGITTAL = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float)  # cols +y, rows −z, slices −x
CORONAL = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)  # cols +x, rows −z, slices +y
NIFTI_LIKE = np.diag([-1.0, -1.0, 1.0])  # RAS data converted to LPS: i → −x, j → −y


def test_axial_plane_layout_and_square_pixels() -> None:
    volume = _sampled_volume((5, 4, 3), (2.0, 1.0, 0.5), AXIAL)
    assert sagittal_count(volume) == 3
    plane = sagittal_plane(volume, 0)
    # In-plane axes are z (slices, 2 mm) and y (rows, 1 mm); x (0.5 mm) is the plane index.
    # rows: z from top (slice 4) to bottom (slice 0) resampled to 1 mm → (5 − 1) · 2 + 1 = 9;
    # columns: y from anterior (row 0) to posterior (row 3) → 4.
    assert plane.pixels.shape == (9, 4)
    assert plane.spacing_mm == (1.0, 1.0)
    assert plane.spacing_source is SpacingSource.VOLUME
    assert plane.window == BONE_WINDOW
    top_left = plane_to_patient(volume, 0, (0, 0))
    assert top_left == pytest.approx([4.0, -6.0, 10.0 + 8.0])  # most superior, most anterior
    assert plane.pixels[0, 0] == pytest.approx(_field(top_left))
    assert plane.pixels[1, 0] == pytest.approx(_field(np.array([4.0, -6.0, 17.0])))  # halfway
    assert plane.pixels[8, 3] == pytest.approx(_field(np.array([4.0, -3.0, 10.0])))


@pytest.mark.parametrize("direction", [AXIAL, SAGITTAL, CORONAL, NIFTI_LIKE],
                         ids=["axial", "sagittal", "coronal", "nifti"])
def test_every_plane_pixel_matches_its_patient_position(direction: np.ndarray) -> None:
    volume = _sampled_volume((4, 5, 6), (1.5, 1.0, 0.75), direction)
    for index in range(sagittal_count(volume)):
        plane = sagittal_plane(volume, index)
        rows, cols = plane.pixels.shape
        xy = np.stack(np.meshgrid(np.arange(cols), np.arange(rows)), axis=-1).astype(float)
        lps = plane_to_patient(volume, index, xy)
        assert plane.pixels == pytest.approx(_field(lps), abs=1e-3)
        # Conventions: rows go inferior (−z), columns posterior (+y), index towards left (+x).
        assert np.all(np.diff(lps[:, 0, 2]) < 0)
        assert np.all(np.diff(lps[0, :, 1]) > 0)
    x_of_planes = [plane_to_patient(volume, i, (0, 0))[0] for i in range(sagittal_count(volume))]
    assert np.all(np.diff(x_of_planes) > 0)


def test_maps_round_trip() -> None:
    volume = _sampled_volume((4, 5, 6), (1.5, 1.0, 0.75), SAGITTAL)
    xy = np.array([[0.0, 0.0], [2.5, 3.25], [4.0, 1.0]])
    voxel = plane_to_voxel(volume, 2, xy)
    back = voxel_to_plane(volume, voxel)
    assert back[:, 0] == pytest.approx([2, 2, 2])
    assert back[:, 1:] == pytest.approx(xy)
    lps = voxel_to_patient(volume, voxel)
    assert patient_to_voxel(volume, lps) == pytest.approx(voxel)
    single = plane_to_voxel(volume, 1, (1.0, 2.0))
    assert single.shape == (3,)


def test_out_of_range_plane_is_an_index_error() -> None:
    volume = _sampled_volume((3, 3, 3), (1.0, 1.0, 1.0), AXIAL)
    with pytest.raises(IndexError):
        sagittal_plane(volume, 3)


def test_plane_carries_source_and_notes() -> None:
    volume = Volume(np.zeros((3, 4, 5), np.float32), (1, 1, 1), (0, 0, 0), np.eye(3),
                    Window(40, 400), SourceRef("ct/", series_instance_uid="1.2.3"),
                    notes=("gantry tilt 5.0°",))
    plane = sagittal_plane(volume, 2)
    assert plane.source.series_instance_uid == "1.2.3"
    assert plane.notes == ("sagittal reformat: plane 3 of 5", "gantry tilt 5.0°")


def test_non_hu_volume_keeps_its_own_window() -> None:
    volume = _sampled_volume((3, 3, 3), (1.0, 1.0, 1.0), AXIAL, units="signal")
    assert sagittal_plane(volume, 0).window == Window(0, 1)
    assert mid_sagittal_index(volume) == 1


def test_mid_sagittal_finds_an_off_centre_spine() -> None:
    # Axial CT: body of soft tissue across x = 10..49, a bone column centred on x = 33.
    voxels = np.full((12, 40, 60), -1000.0, np.float32)
    voxels[:, 5:35, 10:50] = 40.0
    voxels[:, 25:30, 31:36] = 700.0
    volume = Volume(voxels, (2.0, 1.0, 1.0), (0, 0, 0), np.eye(3), Window(0, 1), SourceRef("m"))
    assert mid_sagittal_index(volume) == 33
    flipped = Volume(voxels, (2.0, 1.0, 1.0), (0, 0, 0), NIFTI_LIKE, Window(0, 1), SourceRef("m"))
    # With the column axis pointing right, plane index i is voxel column 59 − i.
    assert mid_sagittal_index(flipped) == 59 - 33

"""Real files from ../shared/data: every corpus object loads or fails clearly; the CT example works.

Each corpus file is loaded in a child process with a per-file timeout (``probe_files``), so a
decoder that hangs or segfaults shows up as a failure here instead of stopping the run.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from vcfviewer.core.image import Radiograph, SpacingSource, Volume
from vcfviewer.core.reformat import mid_sagittal_index, sagittal_count, sagittal_plane
from vcfviewer.io.discovery import scan_sync
from vcfviewer.io.loader import PROBE_ERROR, PROBE_LOADED, load_path_sync, probe_files

pytestmark = pytest.mark.shared_data


def _corpus_files(root: Path) -> list[str]:
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(root)
                  for name in names)


def _decodable_in_catalog(root: Path) -> set[str]:
    with open(root / "CATALOG_generated.tsv", newline="") as handle:
        rows = [r for r in csv.reader(handle, delimiter="\t") if r and not r[0].startswith("#")]
    header = rows[0]
    return {str(root / r[0]) for r in rows[1:]
            if dict(zip(header, r)).get("decoded_here") == "yes"}


@pytest.mark.timeout(300)
def test_every_corpus_object_loads_or_fails_clearly(shared_data: Path) -> None:
    root = shared_data / "dicom-corpus"
    outcomes = {path: (outcome, detail) for path, outcome, detail
                in probe_files(_corpus_files(root), timeout_s=30)}
    bad = {p: o for p, o in outcomes.items() if o[0] not in (PROBE_LOADED, PROBE_ERROR)}
    assert not bad, f"crashes or hangs: {bad}"
    not_loaded = {p: outcomes[p] for p in _decodable_in_catalog(root)
                  if outcomes[p][0] != PROBE_LOADED}
    assert not not_loaded, f"pydicom decodes these but we do not: {not_loaded}"
    errors = [d for o, d in outcomes.values() if o == PROBE_ERROR]
    assert all(d and "Traceback" not in d for d in errors)


def _bone_and_body_columns(plane: Radiograph) -> tuple[float, float, float]:
    """Mean column of bone (>200 HU) and of the body (>-300 HU), and bone's row coverage."""
    bone = plane.pixels > 200
    body = plane.pixels > -300
    rows_with_bone = bone.any(axis=1).mean()
    return float(np.nonzero(bone)[1].mean()), float(np.nonzero(body)[1].mean()), rows_with_bone


def test_ct_nifti_gives_an_upright_left_facing_sagittal_plane(shared_data: Path) -> None:
    volume = load_path_sync(shared_data / "ct-example" / "example_ct.nii.gz")
    assert isinstance(volume, Volume) and volume.units == "HU"
    assert volume.spacing_mm == pytest.approx((3.0, 3.0, 3.0))
    index = mid_sagittal_index(volume)
    assert abs(index - sagittal_count(volume) / 2) < 0.2 * sagittal_count(volume)
    plane = sagittal_plane(volume, index)
    assert plane.pixels.shape == (volume.shape[0], volume.shape[1])  # rows = z, columns = y
    bone_col, body_col, coverage = _bone_and_body_columns(plane)
    assert coverage > 0.8  # the spine runs top to bottom: vertical
    assert bone_col > body_col  # spine behind the belly: the patient faces left


def test_ct_dicom_series_loads_as_a_volume(shared_data: Path) -> None:
    folder = shared_data / "ct-example" / "example_ct_dicom"
    (series,) = scan_sync(folder).all_series()
    assert (series.kind, series.image_count) == ("volume", 20)
    volume = load_path_sync(folder)
    assert isinstance(volume, Volume)
    assert volume.shape == (20, 512, 512)
    assert volume.spacing_mm == pytest.approx((2.0, 0.9765625, 0.9765625))
    assert volume.voxels.min() == pytest.approx(-1024.0)
    plane = sagittal_plane(volume, mid_sagittal_index(volume))
    assert plane.spacing_source is SpacingSource.VOLUME
    bone_col, body_col, _ = _bone_and_body_columns(plane)
    assert bone_col > body_col


def test_real_lateral_rasters_load_without_spacing(shared_data: Path) -> None:
    folder = shared_data / "real-lateral-unlabelled"
    for path in sorted(folder.iterdir()):
        image = load_path_sync(path)
        assert isinstance(image, Radiograph) and image.spacing_source is SpacingSource.NONE
        assert min(image.pixels.shape) > 100

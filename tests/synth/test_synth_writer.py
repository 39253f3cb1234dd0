"""Written studies: the DICOM loads through the project's loader exactly, the truth JSON and the
label PNG read back, the headers pass dciodvfy, raster copies scale the truth."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vcfviewer.core.image import SpacingSource
from vcfviewer.core.morphometry import measure_study
from vcfviewer.synth import SynthOptions, simulate, write_study
from vcfviewer.synth.writer import degrade_to_raster

FAST = SynthOptions(spacing_mm=0.6)


@pytest.mark.parametrize("mono1,compress", [(False, False), (True, True)])
def test_dicom_round_trip_through_the_loader(tmp_path: Path, mono1: bool, compress: bool) -> None:
    from pydicom import dcmread

    from vcfviewer.io.loader import load_path_sync

    study = simulate(21, replace(FAST, monochrome1_rate=float(mono1), facing_left_rate=0.0))
    paths = write_study(study, tmp_path, "film", compress=compress)
    loaded = load_path_sync(str(paths["dicom"]))
    assert np.array_equal(loaded.pixels, study.radiograph.pixels)  # bone-bright after inversion
    assert loaded.spacing_mm == study.radiograph.spacing_mm == (0.6, 0.6)
    assert loaded.spacing_source is SpacingSource.PIXEL_SPACING
    assert loaded.photometric == ("MONOCHROME1" if mono1 else "MONOCHROME2")
    assert loaded.inverted_on_load is mono1
    assert loaded.window == study.radiograph.window
    assert loaded.source.sop_instance_uid == study.radiograph.source.sop_instance_uid
    ds = dcmread(paths["dicom"])
    assert ds.Modality == "DX" and ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1"
    assert ds.PresentationIntentType == "FOR PRESENTATION"
    assert ds.PresentationLUTShape == ("INVERSE" if mono1 else "IDENTITY")
    assert ds.BodyPartExamined == "LSPINE" and ds.ViewPosition == "RL"
    assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(0.6 * float(ds.EstimatedRadiographicMagnificationFactor))
    assert ds.file_meta.TransferSyntaxUID == ("1.2.840.10008.1.2.5" if compress else "1.2.840.10008.1.2.1")


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
def test_dicom_passes_dciodvfy(tmp_path: Path) -> None:
    study = simulate(22, replace(FAST, monochrome1_rate=1.0))
    paths = write_study(study, tmp_path, "film")
    result = subprocess.run(["dciodvfy", str(paths["dicom"])], capture_output=True, text=True)
    report = result.stdout + result.stderr
    assert "Error" not in report, report


def test_truth_json_and_label_png_read_back(tmp_path: Path) -> None:
    import cv2

    from vcfviewer.io.annotation_json import read_annotation

    study = simulate(23, FAST)
    paths = write_study(study, tmp_path / "films", "film", truth_dir=tmp_path / "truth")
    assert paths["dicom"].parent.name == "films" and paths["truth"].parent.name == "truth"
    truth = read_annotation(paths["truth"])
    assert truth.image.path == "film.dcm"
    assert truth.provenance.source == "simulator"
    assert truth.levels == study.annotation.levels
    for a, b in zip(truth.findings, study.annotation.findings):
        assert a.grade == b.grade and a.fracture_type == b.fracture_type
        assert a.lookalikes == b.lookalikes
        if b.landmarks is not None:
            assert np.allclose(a.landmarks, b.landmarks, atol=1e-6)
    labels = cv2.imread(str(paths["labels"]), cv2.IMREAD_UNCHANGED)
    assert labels.dtype == np.uint16 and np.array_equal(labels, study.label_map)


def test_raster_copy_has_no_spacing_and_scaled_truth(tmp_path: Path) -> None:
    study = simulate(24, SynthOptions(spacing_mm=0.3))
    raster, jpeg = degrade_to_raster(study)
    assert jpeg[:2] == b"\xff\xd8"
    assert raster.radiograph.spacing_mm is None
    assert raster.annotation.image.pixel_spacing is None
    assert raster.radiograph.pixels.max() <= 255
    sy = raster.radiograph.rows / study.radiograph.rows
    for a, b in zip(raster.annotation.vertebrae, study.annotation.vertebrae):
        assert np.allclose(a.landmarks[:, 1], (b.landmarks[:, 1] + 0.5) * sy - 0.5, atol=1e-6)
    # ratios survive the rescaling closely, so the grade read from a raster stays the truth
    ms_raster, ms_full = measure_study(raster.annotation), measure_study(study.annotation)
    for a, b in zip(raster.annotation.vertebrae, study.annotation.vertebrae):
        assert ms_raster[a.finding_id].wedge_ratio == pytest.approx(ms_full[b.finding_id].wedge_ratio, abs=0.02)
    paths = write_study(study, tmp_path, "film", raster=True)
    assert paths["raster"].suffix == ".jpg" and paths["raster_truth"].exists()


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    from vcfviewer.synth import SynthError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SynthError, match="not a folder"):
        write_study(simulate(25, FAST), blocker, "film")

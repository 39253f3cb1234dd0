"""Every export of a whole-volume CT annotation (bodies on their own sagittal planes).

The expected voxels, slices and millimetres are hand-computed from the geometry described in
``export_ct_support`` (file k at z = −3k; plane row y ↔ file y/4; plane p = voxel column p).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from export_ct_support import (
    L1_PLANE, L2_PLANE, PLANE_COUNT, PLANE_ROWS, S1_PLANE, load_volume, make_ct_annotation,
    write_series,
)

from vcfviewer.core.annotation import VertebraFinding
from vcfviewer.core.image import SourceRef
from vcfviewer.core.morphometry import measure_study
from vcfviewer.core.progress import run_to_completion
from vcfviewer.core.reformat import sagittal_plane
from vcfviewer.io import ct_export, dicom_seg, dicom_sr, key_image, training_set
from vcfviewer.io.export import export_study

pydicom = pytest.importorskip("pydicom")
needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy missing")


@pytest.fixture(scope="module")
def ct(tmp_path_factory: pytest.TempPathFactory):
    """(series folder, file paths, volume, annotation), written once for the module."""
    folder = tmp_path_factory.mktemp("ct") / "series"
    paths = write_series(folder)
    volume = load_volume(folder)
    return folder, paths, volume, make_ct_annotation(volume)


def _uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _export(volume, annotation, out: Path, **kwargs):
    plane = sagittal_plane(volume, S1_PLANE)
    return run_to_completion(export_study(plane, annotation, out, volume=volume, **kwargs))


def test_every_format_is_written_for_a_dicom_ct(ct, tmp_path: Path) -> None:
    folder, _, volume, annotation = ct
    report = _export(volume, annotation, tmp_path / "out")
    assert report.ok and not report.skipped, report.summary()
    assert set(report.written) == {"json", "csv", "sr", "seg", "key_image", "training_set"}
    assert report.written["sr"].name == "series.sr.dcm"  # stem: the series folder's name


def test_seg_puts_each_body_in_the_voxels_of_its_own_plane(ct, tmp_path: Path) -> None:
    _, paths, volume, annotation = ct
    series = ct_export.read_series(volume)
    seg = dicom_seg.write_seg_ct(annotation, series, tmp_path / "ct.seg.dcm")
    file_uids = [_uid(p) for p in paths]  # file k, k = 0 most superior
    segments = dicom_seg.read_seg_masks(seg, file_uids)
    assert [(s.level, s.algorithm_type) for s in segments] == [
        ("L1", "AUTOMATIC"), ("L2", "SEMIAUTOMATIC"), ("S1", "AUTOMATIC")]
    expected = {level: np.zeros((10, 24, 16), bool) for level in ("L1", "L2", "S1")}
    # plane rows 3..13 hold voxel centres at rows 4, 8, 12 → files 1..3; AP rows 5..15; column 7
    expected["L1"][1:4, 5:16, 7] = True
    expected["L2"][5:8, 6:17, 9] = True  # rows 19..29 → 20, 24, 28 → files 5..7; column 9
    expected["S1"][9, 4:19, 8] = True  # rows 33..36 → 36 → file 9; column 8
    for segment in segments:
        assert np.array_equal(segment.mask, expected[segment.level]), segment.level
    ds = pydicom.dcmread(seg)
    referenced = [str(i.ReferencedSOPInstanceUID) for s in ds.ReferencedSeriesSequence
                  for i in s.ReferencedInstanceSequence]
    assert sorted(referenced) == sorted(file_uids)  # the SEG references the whole series
    assert ds.FrameOfReferenceUID == pydicom.dcmread(paths[0]).FrameOfReferenceUID


def test_sr_heights_points_in_mm_and_the_slices_measured(ct, tmp_path: Path) -> None:
    _, paths, volume, annotation = ct
    ms = measure_study(annotation)
    series = ct_export.read_series(volume)
    path = dicom_sr.write_sr(annotation, ms, list(series.slices), tmp_path / "ct.sr.dcm",
                             ct=series)
    groups = dicom_sr.read_sr_measurements(path)
    assert sorted(groups) == ["L1", "L2"]
    # heights in mm, hand-computed: pixel 0.75 mm
    assert [groups["L1"].values[k] for k in ("ha", "hm", "hp")] == pytest.approx([7.5, 6.0, 7.5])
    assert [groups["L2"].values[k] for k in ("ha", "hm", "hp")] == pytest.approx([6.0, 6.75, 7.5])
    for finding in annotation.vertebrae:
        m = ms.by_id[finding.finding_id]
        assert groups[finding.level].values["wedge_ratio"] == pytest.approx(m.wedge_ratio)
        assert groups[finding.level].units["ha"] == "mm"
    # landmark (x, y) on plane p is LPS (0.5 p, 0.75 x, −0.75 y)
    l1 = groups["L1"].extra["landmarks_mm"]
    np.testing.assert_allclose(l1[0], [3.5, 3.75, -2.25], atol=1e-4)
    np.testing.assert_allclose(l1[4], [3.5, 7.5, -9.0], atol=1e-4)
    np.testing.assert_allclose(groups["L2"].extra["landmarks_mm"][5], [4.5, 12.0, -21.75],
                               atol=1e-4)
    # L1 landmarks lie at y = 3, 4 (file 1) and 12, 13 (file 3); L2 at 19..21 (5) and 29 (7)
    assert groups["L1"].extra["source_images"] == [_uid(paths[1]), _uid(paths[3])]
    assert groups["L2"].extra["source_images"] == [_uid(paths[5]), _uid(paths[7])]
    ds = pydicom.dcmread(path)
    evidence = {str(i.ReferencedSOPInstanceUID) for s in ds.CurrentRequestedProcedureEvidenceSequence
                for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence}
    assert evidence == {_uid(paths[k]) for k in (1, 3, 5, 7)}


def test_csv_names_each_body_plane_from_one(ct, tmp_path: Path) -> None:
    _, _, volume, annotation = ct
    report = _export(volume, annotation, tmp_path / "out", formats=("csv",))
    with report.written["csv"].open(newline="") as handle:
        rows = {r["level"]: r["plane"] for r in csv.DictReader(handle)}
    assert rows == {"L1": str(L1_PLANE + 1), "L2": str(L2_PLANE + 1), "S1": str(S1_PLANE + 1)}


def test_training_set_has_one_entry_per_plane_and_drops_stale_planes(ct, tmp_path: Path) -> None:
    _, _, volume, annotation = ct
    folder = tmp_path / "train"
    ids = training_set.export_ct_entries(volume, annotation, folder)
    series = annotation.image.series_instance_uid
    assert ids == [f"{series}_p{p}" for p in (L1_PLANE, S1_PLANE, L2_PLANE)]
    entries = {e.plane_index: e for e in training_set.read_training_set(folder)}
    assert sorted(entries) == [L1_PLANE, S1_PLANE, L2_PLANE]
    for plane, entry in entries.items():
        assert np.array_equal(entry.pixels, sagittal_plane(volume, plane).pixels)
        assert (entry.modality, entry.spacing_source, entry.spacing) == ("CT", "Volume",
                                                                         (0.75, 0.75))
        assert entry.annotation.image.plane_index == plane
    assert entries[L2_PLANE].annotation.levels == ["L2"]
    assert np.array_equal(entries[L2_PLANE].label_map == 1,
                          annotation.by_level("L2").mask.to_full((PLANE_ROWS, 24)))
    # the reader moves L2 to plane 10: re-export replaces plane 9's entry instead of keeping it
    moved = make_ct_annotation(volume, l2_plane=10)
    training_set.export_ct_entries(volume, moved, folder)
    planes = sorted(e.plane_index for e in training_set.read_training_set(folder))
    assert planes == [L1_PLANE, S1_PLANE, 10]
    assert len(list((folder / "images").iterdir())) == 3


def test_key_image_shows_the_middle_plane_and_names_each_body_plane(ct) -> None:
    _, _, volume, annotation = ct
    assert ct_export.middle_plane(annotation) == S1_PLANE  # median of planes 7, 8, 9
    phrases = key_image.plane_caption(annotation, S1_PLANE, PLANE_COUNT)
    assert phrases == ["sagittal plane 9 of 16 shown; bodies measured on planes:",
                       "L1 8", "L2 10", "S1 9"]
    same = replace(annotation, findings=tuple(replace(f, plane_index=8)
                                              for f in annotation.findings))
    assert key_image.plane_caption(same, 8, 16) == ["sagittal plane 9 of 16"]
    rgb = key_image.render_ct_key_image(volume, annotation)
    # a 37 x 24 plane is enlarged 22 times (short side 24 → ≥ 512) and a caption strip added
    assert rgb.shape[1:] == (24 * 22, 3) and rgb.shape[0] > PLANE_ROWS * 22
    assert rgb[PLANE_ROWS * 22:].any()  # the caption strip has text
    # L2 lies on plane 9, not the plane shown, and is still drawn: its landmark (6, 21) sits at
    # pixel centre 22 · (6, 21) + 10.5 of the enlarged image, painted in the landmark colour
    assert tuple(rgb[472, 142]) == key_image.LANDMARK_COLOUR
    assert tuple(rgb[472 + 30, 142]) != key_image.LANDMARK_COLOUR  # only there


def test_nifti_volume_skips_sr_and_seg_and_writes_the_rest(ct, tmp_path: Path) -> None:
    _, _, volume, annotation = ct
    nifti = replace(volume, slice_sources=(), source=SourceRef(path="/data/ct.nii.gz"))
    report = _export(nifti, annotation, tmp_path / "out")
    assert report.ok
    assert set(report.skipped) == {"sr", "seg"}
    assert "NIfTI" in report.skipped["sr"]
    assert {"json", "csv", "key_image", "training_set"} <= set(report.written)


def test_ct_annotation_without_its_volume_or_with_another(ct, tmp_path: Path) -> None:
    _, _, volume, annotation = ct
    plane = sagittal_plane(volume, S1_PLANE)
    report = run_to_completion(export_study(plane, annotation, tmp_path / "a"))
    assert set(report.written) == {"json", "csv"} and report.ok
    assert "needs its volume" in report.skipped["sr"]
    assert "needs its volume" in report.skipped["training_set"]
    cropped = replace(volume, voxels=volume.voxels[1:])
    report = run_to_completion(export_study(plane, annotation, tmp_path / "b", volume=cropped,
                                            formats=("sr",)))
    assert "planes are 37x24 pixels, the volume's 33x24" in report.skipped["sr"]


@needs_dciodvfy
def test_dciodvfy_finds_no_errors_in_the_ct_sr_and_seg(ct, tmp_path: Path) -> None:
    _, _, volume, annotation = ct
    report = _export(volume, annotation, tmp_path / "out", formats=("sr", "seg"))
    for name in ("sr", "seg"):
        result = subprocess.run(["dciodvfy", str(report.written[name])], capture_output=True,
                                text=True, timeout=60)
        lines = (result.stdout + result.stderr).splitlines()
        errors = [x for x in lines if x.startswith("Error")]
        warnings = [x for x in lines if x.startswith("Warning")]
        assert errors == [], (name, errors)
        assert all("99VCFV" in w for w in warnings), (name, warnings)


def test_a_resampled_stack_folds_its_voxels_onto_the_acquired_slices(tmp_path: Path) -> None:
    paths = write_series(tmp_path / "series")
    paths.pop(3).unlink()  # file 3 (z = −9) missing: the loader resamples to 3 mm
    volume = load_volume(tmp_path / "series")
    assert volume.shape[0] == 10 and "resampled" in " ".join(volume.notes)
    annotation = make_ct_annotation(volume)
    series = ct_export.read_series(volume)
    assert len(series.slices) == 9
    seg = dicom_seg.write_seg_ct(annotation, series, tmp_path / "ct.seg.dcm")
    segments = dicom_seg.read_seg_masks(seg, [_uid(p) for p in paths])
    # L1 covers z = −3, −6, −9; the voxel slice at −9 names its nearest acquired slice, file 4
    # (z = −12, the first of two equally near), so L1 lands in files 1, 2 and 4
    l1 = next(s for s in segments if s.level == "L1").mask
    assert np.flatnonzero(l1.any(axis=(1, 2))).tolist() == [1, 2, 3]  # list positions of 1, 2, 4


def test_batch_skips_the_seg_of_a_ct_whose_bodies_cover_no_voxel(ct, tmp_path: Path) -> None:
    # A body whose six points collapse onto one (an untrained model's output on a three-slice
    # series did this) has an outline of no area, hence no voxels: a SEG of it cannot exist, so
    # the batch leaves the SEG out instead of failing the study.
    from vcfviewer.batch.exporting import formats_for
    from vcfviewer.batch.task import StudyTask

    volume, annotation = ct[2], ct[3]
    task = StudyTask(key="k", path=str(tmp_path / "ct0.dcm"), out_dir=str(tmp_path / "out"),
                     formats=("json", "csv", "sr", "seg", "key_image"))
    assert formats_for(task, annotation, volume) == task.formats
    point = VertebraFinding("L1", [[5.0, 3.0]] * 6, plane_index=L1_PLANE)
    assert formats_for(task, replace(annotation, findings=(point,)), volume) == \
        ("json", "csv", "sr", "key_image")

"""DICOM SR (TID 1500) and SEG: round trips, coding, algorithm types, and dciodvfy validity."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from export_support import SOP_UID, make_annotation, make_ct_series, make_dx_dataset, write_dx

from vcfviewer.core.morphometry import measure_study
from vcfviewer.io import body_masks, dicom_seg, dicom_sr
from vcfviewer.io.atomic import ExportError

pydicom = pytest.importorskip("pydicom")


def _dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    return [x for x in lines if x.startswith("Error")], [x for x in lines if x.startswith("Warning")]


needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy missing")


# --- SR ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spacing, unit", [((0.5, 0.25), "mm"), (None, "{pixels}")])
def test_sr_round_trip_gives_the_same_numbers(tmp_path: Path, spacing, unit) -> None:
    annotation = make_annotation(spacing)
    ms = measure_study(annotation)
    path = dicom_sr.write_sr(annotation, ms, make_dx_dataset(), tmp_path / "sr.dcm")
    groups = dicom_sr.read_sr_measurements(path)
    assert sorted(groups) == ["L1", "L2", "L3", "T12"]  # one group per vertebra, no sacrum
    for finding in annotation.vertebrae:
        g, m = groups[finding.level], ms.by_id[finding.finding_id]
        for key in ("ha", "hm", "hp", "wedge_ratio", "biconcave_ratio", "height_loss",
                    "reference_height"):
            assert g.values[key] == pytest.approx(getattr(m, key), rel=1e-9), key
        assert g.units["ha"] == unit and g.units["wedge_ratio"] == "1"
        assert g.units["height_loss"] == "%"
        assert (g.grade, g.fracture_type) == (int(finding.grade), finding.fracture_type.value)
        assert (g.measured_grade, g.borderline) == (int(m.measured_grade), m.borderline)
        assert g.reader_edited == finding.reader_edited
        np.testing.assert_allclose(g.landmarks, finding.landmarks, atol=1e-4)  # float32 SCOORD
    assert groups["L1"].values["fracture_probability"] == pytest.approx(0.875)
    assert "fracture_probability" not in groups["L2"].values


def test_sr_codes_observers_and_references(tmp_path: Path) -> None:
    annotation = make_annotation()
    path = dicom_sr.write_sr(annotation, measure_study(annotation), make_dx_dataset(),
                             tmp_path / "sr.dcm")
    ds = pydicom.dcmread(path)
    assert ds.Modality == "SR" and ds.StudyInstanceUID == annotation.image.study_instance_uid
    assert ds.CompletionFlag == "COMPLETE" and ds.VerificationFlag == "UNVERIFIED"
    assert ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0] \
        .ReferencedSOPSequence[0].ReferencedSOPInstanceUID == SOP_UID
    text = str(ds)
    assert "66794005" in text and "L1 vertebra" in text  # SNOMED L1 vertebra as finding site
    assert "Doe^Jane" in text and "vcf-unet" in text  # person and device observers
    assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99VCFV"


def test_sr_of_an_accepted_read_is_verified_by_the_reader(tmp_path: Path) -> None:
    annotation = make_annotation()
    accepted = replace(annotation, provenance=replace(annotation.provenance, source="reader"))
    path = dicom_sr.write_sr(accepted, measure_study(accepted), make_dx_dataset(), tmp_path / "v.dcm",
                             institution_name="General Hospital")
    ds = pydicom.dcmread(path)
    assert ds.VerificationFlag == "VERIFIED"
    assert str(ds.VerifyingObserverSequence[0].VerifyingObserverName) == "Doe^Jane"


def test_sr_refuses_a_source_that_is_not_the_annotated_image(tmp_path: Path) -> None:
    other = make_dx_dataset()
    other.SOPInstanceUID = "1.2.3.4"
    annotation = make_annotation()
    with pytest.raises(ExportError, match="SOP Instance UIDs differ"):
        dicom_sr.write_sr(annotation, measure_study(annotation), other, tmp_path / "x.dcm")
    assert not (tmp_path / "x.dcm").exists()


# --- SEG -----------------------------------------------------------------------------------


def test_seg_round_trip_levels_algorithm_types_and_masks(tmp_path: Path) -> None:
    annotation = make_annotation()
    path = dicom_seg.write_seg(annotation, make_dx_dataset(), tmp_path / "seg.dcm")
    segments = dicom_seg.read_seg_masks(path)
    masks = body_masks.annotation_masks(annotation)
    assert [s.level for s in segments] == ["T12", "L1", "L2", "L3", "S1"]
    assert [s.algorithm_type for s in segments] == [
        "AUTOMATIC", "AUTOMATIC", "SEMIAUTOMATIC", "MANUAL", "AUTOMATIC"]
    for seg, finding in zip(segments, annotation.findings, strict=False):
        assert seg.mask.shape == (160, 96)
        assert np.array_equal(seg.mask, masks[finding.finding_id]), finding.level
    # the reader-added L3 has no mask: its six-point polygon was rasterised
    assert annotation.by_level("L3").mask is None and segments[3].mask.sum() > 0
    ds = pydicom.dcmread(path)
    assert ds.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0].CodeValue == "66794005"
    assert ds.SegmentSequence[1].SegmentAlgorithmType == "AUTOMATIC"
    assert "SegmentationAlgorithmIdentificationSequence" not in ds.SegmentSequence[3]


def test_seg_volume_round_trip_for_a_ct_series(tmp_path: Path) -> None:
    slices = make_ct_series()
    labels = np.zeros((4, 20, 24), np.uint8)
    labels[0:2, 3:9, 4:12] = 28  # L4
    labels[1:4, 11:18, 5:20] = 27  # L5
    labels[3, 0:2, 0:3] = 99  # an unnamed label is left out
    path = dicom_seg.write_seg_volume(labels, {27: "L5", 28: "L4", 25: "S1"}, slices,
                                      tmp_path / "ct_seg.dcm")
    segments = dicom_seg.read_seg_masks(path, [s.SOPInstanceUID for s in slices])
    assert [(s.level, s.algorithm_type) for s in segments] == [("L5", "AUTOMATIC"),
                                                               ("L4", "AUTOMATIC")]
    assert np.array_equal(segments[0].mask, labels == 27)
    assert np.array_equal(segments[1].mask, labels == 28)
    with pytest.raises(ExportError, match="does not match 3 source slices"):
        dicom_seg.write_seg_volume(labels, {27: "L5"}, slices[:3], tmp_path / "bad.dcm")


def test_transitional_level_uses_the_declared_private_code(tmp_path: Path) -> None:
    annotation = make_annotation()
    l3 = annotation.by_level("L3")
    moved = annotation.with_finding(replace(l3, level="L6")).without_finding("s1")
    ds = dicom_seg.build_seg(moved, make_dx_dataset())
    codes = [i.SegmentedPropertyTypeCodeSequence[0] for i in ds.SegmentSequence]
    assert (codes[-1].CodeValue, codes[-1].CodingSchemeDesignator) == ("VCF-L6", "99VCFV")
    path = dicom_seg.write_seg(moved, make_dx_dataset(), tmp_path / "l6.dcm")
    assert pydicom.dcmread(path).CodingSchemeIdentificationSequence[0].CodingSchemeDesignator \
        == "99VCFV"
    assert dicom_seg.read_seg_masks(path)[-1].level == "L6"


# --- validator -----------------------------------------------------------------------------


@needs_dciodvfy
def test_dciodvfy_finds_no_errors_in_sr_and_seg(tmp_path: Path) -> None:
    source_path = write_dx(tmp_path)
    source = pydicom.dcmread(source_path)
    assert _dciodvfy(source_path)[0] == []  # the realistic DX source is itself valid
    annotation = make_annotation()
    sr = dicom_sr.write_sr(annotation, measure_study(annotation), source, tmp_path / "sr.dcm")
    seg = dicom_seg.write_seg(annotation, source, tmp_path / "seg.dcm")
    ct_seg = dicom_seg.write_seg_volume(np.full((4, 20, 24), 27, np.uint8), {27: "L5"},
                                        make_ct_series(), tmp_path / "ct_seg.dcm")
    for path in (sr, seg, ct_seg):
        errors, warnings = _dciodvfy(path)
        assert errors == [], (path.name, errors)
        # the only warnings left: our declared private coding scheme is not a DICOM defined term
        assert all("99VCFV" in w for w in warnings), (path.name, warnings)


def _labels_in_slice_order(nifti_path: Path, slices: list) -> np.ndarray:
    """Sample a NIfTI label map at every voxel of the DICOM slices (LPS → RAS via the affine)."""
    import nibabel as nib

    img = nib.load(str(nifti_path))
    data = np.asarray(img.dataobj)
    inverse = np.linalg.inv(img.affine)
    out = np.zeros((len(slices), slices[0].Rows, slices[0].Columns), data.dtype)
    rows, cols = np.mgrid[0: slices[0].Rows, 0: slices[0].Columns]
    for k, ds in enumerate(slices):
        ipp = np.array(ds.ImagePositionPatient, float)
        iop = np.array(ds.ImageOrientationPatient, float)
        dr, dc = (float(v) for v in ds.PixelSpacing)
        lps = ipp[:, None, None] + iop[:3, None, None] * cols * dc + iop[3:, None, None] * rows * dr
        ras = np.stack([-lps[0], -lps[1], lps[2], np.ones_like(lps[0])])
        ijk = np.rint(np.tensordot(inverse, ras, axes=1)[:3]).astype(int)
        out[k] = data[ijk[0], ijk[1], ijk[2]]
    return out


@needs_dciodvfy
def test_seg_volume_on_the_real_ct_series(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "ct-example" / "example_ct_dicom"
    slices = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.iterdir())]
    labels = _labels_in_slice_order(shared_data / "ct-example" / "example_seg_dicom.nii.gz", slices)
    names = {32: "T12", 33: "T11"}  # TotalSegmentator classes present in this series
    assert {32, 33} <= set(np.unique(labels).tolist())
    # this anonymised series has empty Study/Series UIDs: refused with a clear reason ...
    with pytest.raises(ExportError, match="no StudyInstanceUID, SeriesInstanceUID"):
        dicom_seg.write_seg_volume(labels, names, slices, tmp_path / "refused.dcm")
    # ... and written once an anonymiser gives them back (SOP UIDs come from the file meta)
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    for ds in slices:
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    path = dicom_seg.write_seg_volume(labels, names, slices, tmp_path / "real_ct_seg.dcm")
    uids = [s.file_meta.MediaStorageSOPInstanceUID for s in slices]
    segments = dicom_seg.read_seg_masks(path, uids)
    assert [s.level for s in segments] == ["T12", "T11"]
    assert np.array_equal(segments[0].mask, labels == 32)
    assert np.array_equal(segments[1].mask, labels == 33)
    errors, warnings = _dciodvfy(path)
    assert errors == [], errors


def test_sr_and_seg_accept_a_source_without_type2_patient_attributes(tmp_path) -> None:
    """Anonymised archives drop PatientBirthDate & co.; DICOM allows them empty, so exports work."""
    import pydicom

    from vcfviewer.io.dicom_codes import usable_source

    ds = pydicom.Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = "1.2.3.5"
    fixed = usable_source(ds, "x.dcm")
    assert fixed.PatientBirthDate == "" and fixed.StudyID == ""
    assert "PatientBirthDate" not in ds  # the caller's data set is never changed

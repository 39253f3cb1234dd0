"""Annotation JSON: exact round trip, required content, field-naming validation, migration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_support import SOP_UID, make_annotation

from vcfviewer.core.annotation import BodyMask
from vcfviewer.core.morphometry import measure_study
from vcfviewer.io import annotation_json as aj


@pytest.mark.parametrize("spacing", [(0.5, 0.25), None])
def test_round_trip_restores_exactly_what_was_written(tmp_path: Path, spacing) -> None:
    annotation = make_annotation(spacing)
    path = aj.write_annotation(annotation, tmp_path / "a.json")
    again = aj.read_annotation(path)
    assert again == annotation
    assert again.findings[0].mask == annotation.findings[0].mask
    assert again.by_level("L3").added_by_reader
    # writing the re-read annotation gives the same bytes
    assert aj.annotation_to_json(again) == path.read_text()


def test_required_content_is_present(tmp_path: Path) -> None:
    annotation = make_annotation()
    doc = json.loads(aj.write_annotation(annotation, tmp_path / "a.json").read_text())
    assert doc["schema"] == aj.SCHEMA_NAME and doc["schema_version"] == aj.SCHEMA_VERSION
    image = doc["image"]
    assert (image["sop_instance_uid"], image["rows"], image["columns"]) == (SOP_UID, 160, 96)
    assert image["pixel_spacing"] == [0.5, 0.25]
    l1 = next(f for f in doc["findings"] if f["level"] == "L1")
    assert list(l1["landmarks"]) == ["superior_anterior", "superior_middle", "superior_posterior",
                                     "inferior_anterior", "inferior_middle", "inferior_posterior"]
    assert l1["landmarks"]["superior_middle"] == [35.25, 43.0]  # [x, y] = [column, row]
    assert (l1["grade"], l1["fracture_type"], l1["fracture_probability"]) == (2, "wedge", 0.875)
    assert l1["reader_edited"] is False and l1["lookalikes"] == ["osteophyte"]
    m = measure_study(annotation).by_level["L1"]
    assert l1["measurement"]["ha"] == m.ha and l1["measurement"]["height_loss"] == m.height_loss
    assert l1["measurement"]["wedge_ratio"] == m.wedge_ratio
    assert l1["measurement"]["reference_levels"] == list(m.reference_levels)
    assert doc["provenance"]["model_id"] == "vcf-unet" and doc["provenance"]["reader"] == "Doe^Jane"
    assert doc["measurements"]["sdi"] == 3
    s1 = next(f for f in doc["findings"] if f["level"] == "S1")
    assert s1["landmarks"] is None and s1["mask"]["rle"] == [1, 15 * 29 - 1]  # the notch, then all set


def test_mask_run_lengths_round_trip_including_a_leading_foreground_run() -> None:
    import numpy as np

    from vcfviewer.io._fields import Fields

    arr = np.array([[1, 1, 0], [0, 1, 1]], bool)
    d = aj.mask_to_dict(BodyMask(3, 4, arr))
    assert d["rle"] == [0, 2, 2, 2]
    assert aj.mask_from_dict(Fields(d, "mask")) == BodyMask(3, 4, arr)


def _broken(tmp_path: Path, change) -> Path:
    doc = aj.annotation_to_dict(make_annotation())
    change(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["findings"][3].update(landmarks=[[0, 0]] * 5),
         "findings[3].landmarks: expected 6 points"),
        (lambda d: d["findings"][1]["landmarks"].pop("inferior_middle"),
         "findings[1].landmarks: expected 6 points; missing inferior_middle"),
        (lambda d: d["findings"][0]["landmarks"].update(superior_anterior=["a", 1]),
         "findings[0].landmarks.superior_anterior[0]: expected a finite number"),
        (lambda d: d["findings"][0].update(grade=5), "findings[0].grade: 5 is above the maximum 3"),
        (lambda d: d["findings"][0].update(grade=True), "findings[0].grade: expected a whole number"),
        (lambda d: d["findings"][1].update(level="Q1"), "findings[1]: unknown vertebral level"),
        (lambda d: d["findings"][1].update(fracture_type="none"), "findings[1]: L1: grade MODERATE"),
        (lambda d: d["findings"][2].update(level="L1"), "findings: duplicate levels: L1"),
        (lambda d: d["findings"][0]["mask"].update(rle=[1, 2]),
         "findings[0].mask.rle: run lengths add up to 3"),
        (lambda d: d["image"].pop("rows"), "image.rows: missing"),
        (lambda d: d["image"].update(pixel_spacing=[0, 1]), "image.pixel_spacing: expected two"),
        (lambda d: d["provenance"].update(reader=7), "provenance.reader: expected a string"),
        (lambda d: d.update(schema_version=99), "schema_version: version 99 was written by a newer"),
        (lambda d: d.update(schema="other"), "schema: not a vcfviewer annotation file"),
        (lambda d: d.update(findings={}), "findings: expected a list"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, change, message: str) -> None:
    path = _broken(tmp_path, change)
    with pytest.raises(aj.AnnotationFileError) as info:
        aj.read_annotation(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(aj.AnnotationFileError, match="cannot read the file"):
        aj.read_annotation(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(aj.AnnotationFileError, match="not valid JSON"):
        aj.read_annotation(bad)
    bad.write_text('{"x": NaN}')
    with pytest.raises(aj.AnnotationFileError, match="not valid JSON"):
        aj.read_annotation(bad)
    bad.write_text("[1]")
    with pytest.raises(aj.AnnotationFileError, match="top level must be a JSON object"):
        aj.read_annotation(bad)


def test_migration_hook_upgrades_old_documents(tmp_path: Path, monkeypatch) -> None:
    doc = aj.annotation_to_dict(make_annotation())
    doc["schema_version"] = 0
    doc["findings_v0"] = doc.pop("findings")  # pretend version 0 named the list differently

    def v0_to_v1(old: dict) -> dict:
        new = dict(old)
        new["findings"] = new.pop("findings_v0")
        return new

    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(aj.AnnotationFileError, match="schema_version: no migration from version 0"):
        aj.read_annotation(path)
    monkeypatch.setitem(aj.MIGRATIONS, 0, v0_to_v1)
    assert aj.read_annotation(path) == make_annotation()


def test_version_1_files_read_with_no_ct_planes(tmp_path: Path) -> None:
    doc = aj.annotation_to_dict(make_annotation())
    doc["schema_version"] = 1
    del doc["image"]["plane_count"]
    for f in doc["findings"]:
        del f["plane_index"]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    again = aj.read_annotation(path)
    assert again == make_annotation()
    assert again.image.plane_count is None and all(f.plane_index is None for f in again.findings)


def test_ct_planes_round_trip_and_are_checked_against_the_plane_count(tmp_path: Path) -> None:
    from dataclasses import replace

    base = make_annotation()
    image = replace(base.image, modality="CT", plane_count=40)
    findings = tuple(replace(f, plane_index=10 + i) for i, f in enumerate(base.findings))
    annotation = replace(base, image=image, findings=findings)
    again = aj.read_annotation(aj.write_annotation(annotation, tmp_path / "ct.json"))
    assert again == annotation
    assert [again.plane_of(f) for f in again.findings] == [10 + i for i in range(len(findings))]
    doc = aj.annotation_to_dict(annotation)
    doc["findings"][0]["plane_index"] = 40
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(aj.AnnotationFileError, match="outside the reformat's 40 planes"):
        aj.read_annotation(path)

"""Key image rendering and the training-set folder (round trip, idempotence, splits)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from export_support import COLS, ROWS, make_annotation, make_pixels

from vcfviewer.core.image import Window
from vcfviewer.core.morphometry import measure_study
from vcfviewer.io import body_masks, key_image, training_set
from vcfviewer.io.training_set import TrainingSetError, export_entry, read_training_set

# --- key image -----------------------------------------------------------------------------


def test_windowing_maps_low_to_black_and_high_to_white() -> None:
    px = np.array([[0.0, 50.0, 100.0, 200.0]])
    rgb = key_image.windowed_rgb(px, Window(center=100, width=100))
    assert rgb[0, :, 0].tolist() == [0, 0, 128, 255] and rgb.shape == (1, 4, 3)


def test_badges_show_decided_grade_and_borderline() -> None:
    annotation = make_annotation()
    ms = measure_study(annotation)
    # L1: decided 2, measured loss 37.3 % (within 3 of 40) → "2?"; L2: decided 1 → "1"
    assert key_image.badge_text(annotation.by_level("L1"), ms.by_level["L1"]) == "2?"
    assert key_image.badge_text(annotation.by_level("L2"), ms.by_level["L2"]) == "1"
    assert key_image.badge_text(annotation.by_level("L3"), ms.by_level["L3"]) is None


def test_key_image_draws_overlays_and_leaves_the_rest_alone(tmp_path: Path) -> None:
    annotation = make_annotation()
    pixels = np.full((ROWS, COLS), 1000.0, np.float32)
    window = Window(2048, 4096)
    plain = key_image.windowed_rgb(pixels, window)
    rgb = key_image.render_key_image(pixels, window, annotation, measure_study(annotation))
    assert rgb.shape == (ROWS, COLS, 3) and rgb.dtype == np.uint8
    grey = int(plain[0, 0, 0])  # 1000 in a 0..4096 window → 62
    assert grey == 62
    # inside T12's mask, away from lines and points, the pixel is tinted with T12's colour
    r, g, b = key_image.level_colour("T12")
    expected = [round(0.65 * grey + 0.35 * c) for c in (r, g, b)]
    assert np.abs(rgb[20, 28].astype(int) - expected).max() <= 1
    # a landmark is drawn in the landmark colour
    assert tuple(rgb[42, 20]) == key_image.LANDMARK_COLOUR
    # far from every body (top-right corner) the image is untouched
    assert np.array_equal(rgb[0:5, 80:96], plain[0:5, 80:96])
    path = key_image.write_key_image(pixels, window, annotation, None, tmp_path / "key.png")
    import cv2

    assert np.array_equal(cv2.imread(str(path))[:, :, ::-1], rgb)


def test_key_image_refuses_pixels_of_another_size() -> None:
    with pytest.raises(ValueError, match="do not match"):
        key_image.render_key_image(np.zeros((10, 10)), Window(0, 1), make_annotation())


# --- training set --------------------------------------------------------------------------


def test_training_set_round_trip_reproduces_the_arrays(tmp_path: Path) -> None:
    annotation = make_annotation()
    pixels = make_pixels()
    entry_id = export_entry(pixels, (0.5, 0.25), annotation, tmp_path / "ts")
    assert entry_id == annotation.image.sop_instance_uid
    assert (tmp_path / "ts" / "images" / f"{entry_id}.png").exists()  # whole numbers → PNG16
    [entry] = read_training_set(tmp_path / "ts")
    assert entry.entry_id == entry_id and entry.spacing == (0.5, 0.25)
    assert entry.pixels.dtype == np.float32 and np.array_equal(entry.pixels, pixels)
    assert np.array_equal(entry.label_map, body_masks.label_map(annotation))
    assert entry.annotation == annotation and entry.split in training_set.SPLITS
    assert entry.label_map.dtype == np.int16
    # instance labels: k = index in annotation.findings + 1 (T12 is the first finding, S1 the 5th)
    assert entry.annotation.findings[int(entry.label_map[20, 30]) - 1].level == "T12"
    assert int(entry.label_map[150, 30]) == 5 and entry.annotation.findings[4].level == "S1"
    manifest = json.loads((tmp_path / "ts" / "manifest.json").read_text())
    prov = manifest["entries"][0]["provenance"]
    assert prov["model_id"] == "vcf-unet" and prov["reader_edited_levels"] == ["L2", "L3"]
    assert "index of the finding" in manifest["label_convention"]


def test_same_study_twice_replaces_and_keeps_its_split(tmp_path: Path) -> None:
    annotation = make_annotation()
    folder = tmp_path / "ts"
    first = export_entry(make_pixels(), (0.5, 0.25), annotation, folder, split="val")
    corrected = annotation.with_finding(annotation.by_level("T12").edited(grade=1,
                                                                           fracture_type="crush"))
    float_pixels = make_pixels() + 0.25  # not whole numbers any more → float32 .npy
    again = export_entry(float_pixels, (0.5, 0.25), corrected, folder)
    assert again == first
    entries = read_training_set(folder)
    assert len(entries) == 1 and entries[0].split == "val"
    assert entries[0].annotation.by_level("T12").grade == 1
    assert np.array_equal(entries[0].pixels, float_pixels)
    assert sorted(p.name for p in (folder / "images").iterdir()) == [f"{first}.npy"]


def test_content_hash_id_without_uid_and_deterministic_split(tmp_path: Path) -> None:
    annotation = make_annotation(spacing=None)
    annotation = replace(annotation, image=replace(annotation.image, sop_instance_uid=None,
                                                   study_instance_uid=None))
    pixels = make_pixels(seed=3)
    a = export_entry(pixels, None, annotation, tmp_path / "ts")
    b = export_entry(pixels.copy(), None, annotation, tmp_path / "ts")
    c = export_entry(make_pixels(seed=4), None, annotation, tmp_path / "ts")
    assert a == b != c and a.startswith("sha256-")
    entries = read_training_set(tmp_path / "ts")
    assert [e.entry_id for e in entries] == sorted([a, c]) and entries[0].spacing is None
    assert training_set.default_split(annotation, a) == training_set.default_split(annotation, a)


def test_broken_training_sets_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(TrainingSetError, match="no manifest.json"):
        read_training_set(tmp_path)
    folder = tmp_path / "ts"
    entry_id = export_entry(make_pixels(), (0.5, 0.25), make_annotation(), folder)
    (folder / "labels" / f"{entry_id}.png").unlink()
    with pytest.raises(TrainingSetError, match="label_map file is missing"):
        read_training_set(folder)
    (folder / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(TrainingSetError, match="not a vcfviewer training set"):
        read_training_set(folder)

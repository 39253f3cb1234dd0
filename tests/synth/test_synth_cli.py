"""``vcfviewer synth``: writes N studies for consecutive seeds; the bundled sample study is sound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcfviewer.__main__ import main


def test_synth_writes_count_studies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["synth", str(out), "--count", "2", "--seed", "40", "--spacing", "0.8",
                 "--raster"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"synth_0000{s}{ext}" for s in (40, 41)
                           for ext in (".dcm", ".json", "_labels.png", ".jpg", "_raster.json"))
    assert "2/2 studies" in capsys.readouterr().err


def test_synth_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth"]) == 2
    assert main(["synth", str(tmp_path), "--count", "0"]) == 2
    assert main(["synth", str(tmp_path), "--fracture-rate", "3"]) == 1
    assert "fracture_rate" in capsys.readouterr().err


def test_synth_case_mix_writes_the_fractures_asked_for(tmp_path: Path) -> None:
    from vcfviewer.io.annotation_json import read_annotation

    # Every study fractured, every fracture grade 3: the severe-fracture validation recipe.
    assert main(["synth", str(tmp_path), "--count", "2", "--seed", "50", "--spacing", "0.8",
                 "--fracture-rate", "1", "--grade-weights", "0", "0", "1", "--quiet"]) == 0
    for truth in sorted(tmp_path.glob("synth_*[0-9].json")):
        grades = [int(f.grade) for f in read_annotation(truth).findings if int(f.grade) > 0]
        assert grades and set(grades) == {3}, truth.name


def test_synth_refuses_film_case_mix_for_ct(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", str(tmp_path), "--ct", "--grade-weights", "0", "0", "1"]) == 2
    assert "not to --ct volumes" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_bundled_sample_study_loads_with_its_truth() -> None:
    from vcfviewer.core.morphometry import measure_study
    from vcfviewer.io.annotation_json import read_annotation
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.paths import sample_study_dir

    folder = sample_study_dir()
    films = sorted(folder.glob("*.dcm"))
    assert [f.stem for f in films] == ["film1_normal", "film2_wedge", "film3_adjacent"]
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert total <= 8 * 1024 * 1024
    grades = {}
    for film in films:
        image = load_path_sync(str(film))
        truth = read_annotation(folder / "truth" / f"{film.stem}.json")
        assert (truth.image.rows, truth.image.columns) == image.pixels.shape
        assert image.rows <= 1600 and image.spacing_mm == (0.2, 0.2)
        measured = measure_study(truth)
        for f in truth.vertebrae:
            assert measured[f.finding_id].measured_grade == f.grade
        grades[film.stem] = [int(f.grade) for f in truth.vertebrae]
        if film.stem == "film3_adjacent":
            assert image.photometric == "MONOCHROME1" and np.isfinite(image.pixels).all()
    assert max(grades["film1_normal"]) == 0
    assert sorted(g for g in grades["film2_wedge"] if g) == [2]
    severe = grades["film3_adjacent"]
    assert 3 in severe and sum(1 for g in severe if g) == 2

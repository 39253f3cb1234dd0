"""The read-apart stress test (scripts/stress_read_apart.py) runs on a simulated film: a crushed
body merged with its neighbour comes back as two, and the control's stretched body stays one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("stress_read_apart",
                                                  REPO / "scripts" / "stress_read_apart.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_the_hull_of_two_boxes_fills_the_gap_between_them() -> None:
    mask = np.zeros((20, 20), bool)
    mask[2:6, 4:10] = mask[10:14, 4:10] = True
    assert _script().hull(mask)[2:14, 4:10].all()


@pytest.mark.slow
def test_a_merged_crushed_body_is_read_apart_and_a_stretched_one_is_not(tmp_path: Path) -> None:
    """Severe validation film 830006 (a development set): its first crushed body and the one
    below, merged, are named tall and read apart into the film's own column."""
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.synth.options import SynthOptions
    from vcfviewer.synth.simulate import simulate
    from vcfviewer.synth.writer import write_study

    stress = _script()
    severe = SynthOptions(fracture_rate=1.0, grade_weights=(0, 0, 1), type_weights=(0.2, 0.2, 0.6))
    path = write_study(simulate(830006, severe), tmp_path, "film", labels=False)["dicom"]
    trial = stress.Trial(Analyzer("vcf-lateral", device="cpu"), path)
    merged = trial.merged_parse()
    assert len(merged.bodies) == len(trial.parse.bodies) - 1
    assert trial.outcome(merged) == (True, True, True)  # named tall, split, column restored
    assert trial.outcome(trial.parse, trial.drawn_tall())[2]  # the control's column stands

"""The CT pipeline on the real abdominal CT in ../shared/data/ct-example (skipped without it).

``example_ct.nii.gz`` shows T12–L5 and the sacrum. ``example_seg.nii.gz`` holds machine-made labels
(30 = L2, 31 = L1, 32 = T12, 33 = T11) for a 30-slice subset; its header repeats the full CT's
origin although the subset is the CT's top 30 slices (82–111), which is where its labelled bone
overlaps the CT's bone (checked in ``test_the_label_subset_sits_on_the_top_slices``).

T12 runs out of the scan at the top (its label reaches the last slice, and its upper endplate lies
above it): the product must find and name it, and must not measure it (CLINICAL §2 needs both
endplates), exactly as for a body cut by a film's edge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vcfviewer.core.progress import run_to_completion
from vcfviewer.core.reformat import plane_to_voxel

SUBSET_OFFSET = 82  # first CT slice of the label subset
LABEL_LEVELS = {30: "L2", 31: "L1", 32: "T12", 33: "T11"}


@pytest.fixture(scope="module")
def ct_example(shared_data: Path):
    from vcfviewer.io.loader import load_path_sync

    folder = shared_data / "ct-example"
    if not (folder / "example_ct.nii.gz").is_file():
        pytest.skip("ct-example not in ../shared/data")
    volume = load_path_sync(folder / "example_ct.nii.gz")
    labels = load_path_sync(folder / "example_seg.nii.gz")
    return volume, labels


@pytest.fixture(scope="module")
def proposal(ct_example):
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.models.registry import model_id_for

    volume, _ = ct_example
    analyzer = Analyzer(model_id_for("ct"), device="cpu")
    return run_to_completion(analyzer.analyze_volume(volume))


def _full_labels(volume, labels) -> np.ndarray:
    full = np.zeros(volume.shape, np.int16)
    full[SUBSET_OFFSET:SUBSET_OFFSET + labels.shape[0]] = labels.voxels.astype(np.int16)
    return full


def test_the_label_subset_sits_on_the_top_slices(ct_example) -> None:
    volume, labels = ct_example
    bone = np.isin(labels.voxels.astype(int), list(LABEL_LEVELS))
    n = labels.shape[0]
    overlap = [float((volume.voxels[k:k + n][bone] > 150).mean())
               for k in range(volume.shape[0] - n + 1)]
    assert int(np.argmax(overlap)) == SUBSET_OFFSET


def test_t12_runs_out_of_the_top_of_the_scan(ct_example) -> None:
    volume, labels = ct_example
    t12_slices = np.flatnonzero((labels.voxels.astype(int) == 32).any(axis=(1, 2))) + SUBSET_OFFSET
    assert t12_slices.max() == volume.shape[0] - 1


def test_every_visible_body_is_found_once_in_order(proposal) -> None:
    annotation = proposal.annotation
    assert annotation.image.plane_count == 122 and annotation.image.plane_index is None
    # T12 is found and named, but cut by the scan's top edge, so it is reported, not measured
    assert annotation.levels == ["L1", "L2", "L3", "L4", "L5", "S1"], annotation.levels
    assert "T12 cut at the image edge: not measured" in annotation.flags, annotation.flags
    # each body on its own plane, near the column's middle (spine centre ~ plane 62 of 122)
    planes = [f.plane_index for f in annotation.findings]
    assert all(p is not None and abs(p - 62) <= 6 for p in planes), planes


def test_levels_agree_with_the_label_map_where_it_covers_the_body(ct_example, proposal) -> None:
    volume, labels = ct_example
    full = _full_labels(volume, labels)
    checked = 0
    for f in proposal.annotation.vertebrae:
        voxel = np.round(plane_to_voxel(volume, f.plane_index, f.centre())).astype(int)
        label = int(full[tuple(voxel)])
        if label in LABEL_LEVELS:
            assert LABEL_LEVELS[label] == f.level
            checked += 1
    assert checked >= 2  # L1 and L2 lie in the labelled subset (T12 is cut, not measured)

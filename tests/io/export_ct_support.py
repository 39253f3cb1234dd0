"""A tiny pydicom-written axial CT series and a hand-made whole-volume annotation on it.

Geometry (hand-computed, used by the CT export tests): 10 axial slices 3 mm apart, file k at
z = −3k mm (k = 0 most superior), 24 rows (A→P, 0.75 mm) × 16 columns (R→L, 0.5 mm).
The loader sorts slices by depth, so voxel slice s holds file k = 9 − s. The sagittal reformat
has 16 planes (plane p = voxel column p, x_LPS = 0.5·p), 37 rows × 24 columns of 0.75 mm:
plane row y ↔ voxel slice 9 − y/4 ↔ file k = y/4 (z = −0.75·y), plane column x ↔ voxel row x
(y_LPS = 0.75·x).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from export_support import make_ct_series

from vcfviewer.core.annotation import (
    BodyMask, Provenance, StudyAnnotation, VertebraFinding, image_ref_for,
)
from vcfviewer.core.image import Volume
from vcfviewer.core.reformat import sagittal_count, sagittal_plane

SLICES, ROWS, COLS = 10, 24, 16
PLANE_ROWS, PLANE_COLS, PLANE_COUNT = 37, 24, 16
L1_PLANE, L2_PLANE, S1_PLANE = 7, 9, 8


def write_series(folder: Path) -> list[Path]:
    """The CT series as files ct0.dcm … ct9.dcm (file k at z = −3k), with a little anatomy."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, ds in enumerate(make_ct_series(SLICES, ROWS, COLS)):
        px = np.zeros((ROWS, COLS), np.int16)
        px[4:18, 5:11] = 1024 + 300  # a bony block around the annotated planes
        ds.PixelData = px.tobytes()
        path = folder / f"ct{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def load_volume(folder: Path) -> Volume:
    """The series in ``folder`` loaded the way the viewer loads it."""
    from vcfviewer.io.loader import load_path_sync

    volume = load_path_sync(folder)
    assert isinstance(volume, Volume)
    return volume


def _mask(top: int, bottom: int, left: int, right: int) -> BodyMask:
    full = np.zeros((PLANE_ROWS, PLANE_COLS), bool)
    full[top: bottom + 1, left: right + 1] = True
    return BodyMask.from_full(full)


def make_ct_annotation(volume: Volume, l2_plane: int = L2_PLANE) -> StudyAnnotation:
    """L1 on plane 7 (normal), L2 on plane 9 (wedge), the sacrum on plane 8."""
    findings = (
        # L1: Ha 10, Hm 8, Hp 10 px (7.5 / 6 / 7.5 mm); mask rows 3..13, columns 5..15
        VertebraFinding("L1", [[5, 3], [10, 4], [15, 3], [5, 13], [10, 12], [15, 13]],
                        fracture_probability=0.1, mask=_mask(3, 13, 5, 15), finding_id="l1",
                        plane_index=L1_PLANE),
        # L2: Ha 8, Hm 9, Hp 10 px; mask rows 19..29, columns 6..16; edited by the reader
        VertebraFinding("L2", [[6, 21], [11, 20], [16, 19], [6, 29], [11, 29], [16, 29]],
                        grade=1, fracture_type="wedge", fracture_probability=0.8,
                        mask=_mask(19, 29, 6, 16), finding_id="l2", reader_edited=True,
                        plane_index=l2_plane),
        VertebraFinding("S1", None, mask=_mask(33, 36, 4, 18), finding_id="s1",
                        plane_index=S1_PLANE),
    )
    plane = sagittal_plane(volume, S1_PLANE)
    image = image_ref_for(plane, plane_count=sagittal_count(volume))
    prov = Provenance("0.1.0", model_id="vcf-ct", model_version="1.0.0", reader="Doe^Jane",
                      created="2024-05-01T10:00:00+00:00", source="model")
    return StudyAnnotation(image, findings, prov)

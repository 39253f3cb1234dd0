"""Timings of the measurement engine, the review session and every export on a full-size film.

Run: ``.venv/bin/python benchmarks/bench_export.py [--rows 3000 --cols 2400]``. Prints figures;
asserts nothing (speed targets live here, not in the tests).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vcfviewer.core.annotation import (
    BodyMask, ImageRef, Proposal, Provenance, StudyAnnotation, VertebraFinding,
)
from vcfviewer.core.image import Radiograph, SourceRef, SpacingSource, Window
from vcfviewer.core.morphometry import measure_study
from vcfviewer.core.progress import run_to_completion
from vcfviewer.core.session import ReviewSession
from vcfviewer.io import body_masks
from vcfviewer.io.export import export_study

LEVELS = [f"T{i}" for i in range(4, 13)] + [f"L{i}" for i in range(1, 6)]


def _study(rows: int, cols: int) -> StudyAnnotation:
    step = rows / (len(LEVELS) + 2)
    findings = []
    for i, level in enumerate(LEVELS):
        top, x0 = step * (i + 0.6), cols * 0.4
        h = step * 0.7
        pts = np.array([[x0, top], [x0 + 60, top + 3], [x0 + 120, top], [x0, top + h * 0.8],
                        [x0 + 60, top + h - 3], [x0 + 120, top + h]])
        mask = BodyMask.from_full(body_masks.polygon_mask(pts[list(body_masks.OUTLINE_ORDER)],
                                                          (rows, cols)))
        findings.append(VertebraFinding(level, pts, fracture_probability=0.1, mask=mask))
    image = ImageRef("bench.dcm", rows, cols, (0.15, 0.15), "PixelSpacing", modality="DX")
    return StudyAnnotation(image, tuple(findings), Provenance("bench", model_id="bench-model"))


def _time(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--cols", type=int, default=2400)
    args = parser.parse_args()
    annotation = _study(args.rows, args.cols)
    print(f"film {args.rows}x{args.cols}, {len(annotation.findings)} bodies")
    print(f"measure_study: {_time(lambda: measure_study(annotation), 50) * 1e3:.2f} ms (median)")
    session = ReviewSession(Proposal(annotation))
    fid = annotation.findings[5].finding_id
    y0 = float(annotation.findings[5].landmarks[3, 1])

    def drag_step() -> None:
        drag_step.n += 1  # type: ignore[attr-defined]
        session.move_landmark(fid, 3, (args.cols * 0.4, y0 - drag_step.n % 7), drag_id=1)
        _ = session.measurements

    drag_step.n = 0  # type: ignore[attr-defined]
    print(f"move_landmark + re-measure (one drag step): "
          f"{_time(drag_step, 200) * 1e3:.2f} ms (median)")
    # random 12-bit noise: the worst case for PNG encoding (real films compress better)
    pixels = np.random.default_rng(0).integers(0, 4096, (args.rows, args.cols)).astype(np.float32)
    image = Radiograph(pixels, (0.15, 0.15), SpacingSource.PIXEL_SPACING, Window(2048, 4096),
                       SourceRef("bench.dcm"))
    with tempfile.TemporaryDirectory() as tmp:
        stamps: list[tuple[str, float]] = []
        start = time.perf_counter()
        def stamp(p) -> None:
            stamps.append((p.message, time.perf_counter()))

        report = run_to_completion(export_study(image, annotation, Path(tmp), None), stamp)
        total = time.perf_counter() - start
        for (msg, t0), (_, t1) in zip(stamps, stamps[1:], strict=False):
            print(f"  {msg:<24} {1e3 * (t1 - t0):8.1f} ms")
        print(f"export_study without DICOM source (SR/SEG skipped): {total:.2f} s; ok={report.ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Viewer speed, offscreen: first painted pixel, window/level redraw, event-loop stalls while loading.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py [--repeat 5] [--rows 3000]
        [--columns 2500]

Prints, for a generated uncompressed MONOCHROME1 CR of ``rows x columns`` 12-bit pixels:
* time to first painted pixel in the real image view (``load_path`` + drawing pyramid +
  ``show_radiograph`` + a synchronous repaint) against a bare ``pydicom.dcmread(path).pixel_array``,
  as a ratio (median of ``--repeat`` alternating runs after one warm-up);
* window/level redraw: ``set_window`` + repaint, median over 20 changes, at fit and at 1:1;
* the longest gap between 5 ms heartbeat ticks of the GUI event loop while the same file is
  loaded ``--repeat`` times on the worker thread (what a reader feels as a freeze).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def write_cr(path: Path, rows: int, columns: int) -> Path:
    """A 12-bit MONOCHROME1 CR with PixelSpacing and a header window, uncompressed."""
    from pydicom import Dataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = ["0.15", "0.15"]
    ds.WindowCenter, ds.WindowWidth = "2048", "4000"
    pixels = np.random.default_rng(0).integers(0, 4096, size=(rows, columns), dtype=np.uint16)
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def first_pixel(view, app, path: Path, repeat: int) -> None:
    """Load + show + paint, against a bare pydicom decode of the same file."""
    import pydicom

    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.gui.viewer.display_pyramid import load_for_display
    from vcfviewer.io.loader import load_path

    def ours() -> float:
        # Serially, what the window does: the worker's load (+ drawing pyramid), then the paint.
        start = time.perf_counter()
        image, pyramid = run_to_completion(load_for_display(load_path(str(path))))
        view.show_radiograph(image, "", pyramid)
        view.graphics.viewport().repaint()
        return time.perf_counter() - start

    def bare() -> float:
        start = time.perf_counter()
        pydicom.dcmread(path).pixel_array
        return time.perf_counter() - start

    ours(), bare()  # warm-up: imports, codec tables, first Qt paint
    o, b = [], []
    for _ in range(repeat):
        o.append(ours())
        b.append(bare())
        app.processEvents()
    print(f"first painted pixel ({path.name}): ours {_median_ms(o):.0f} ms, bare pydicom "
          f"{_median_ms(b):.0f} ms, ratio {statistics.median(o) / statistics.median(b):.2f}x")


def window_redraw(view, app) -> None:
    """set_window + repaint at fit and at 1:1."""
    from vcfviewer.core.image import Window

    for label, arrange in (("fit", view.fit), ("1:1", view.actual_size)):
        arrange()
        app.processEvents()
        samples = []
        for i in range(20):
            start = time.perf_counter()
            view.set_window(Window(2000.0 + 10 * i, 3000.0))
            view.graphics.viewport().repaint()
            samples.append(time.perf_counter() - start)
        print(f"window/level redraw at {label}: median {_median_ms(samples):.1f} ms, "
              f"max {max(samples) * 1000:.1f} ms")


def stalls_while_loading(app, path: Path, repeat: int) -> None:
    """Longest event-loop gap (heartbeat every 5 ms) while loads run on the worker thread."""
    from PySide6.QtCore import QEventLoop, QTimer

    from vcfviewer.gui.workers import JobRunner
    from vcfviewer.io.loader import load_path

    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(beat)
    runner = JobRunner("bench")
    timer.start()
    for _ in range(repeat):
        loop = QEventLoop()
        task = runner.start(lambda: load_path(str(path)))
        task.finished.connect(loop.quit)
        loop.exec()
    timer.stop()
    runner.shutdown()
    print(f"event loop while loading {repeat}x on the worker: longest gap "
          f"{max(gaps) * 1000:.0f} ms (heartbeat 5 ms, {len(gaps)} ticks)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--columns", type=int, default=2500)
    args = parser.parse_args(argv)

    from vcfviewer.gui.app import create_application
    from vcfviewer.gui.viewer.image_view import ImageView

    app = create_application(sys.argv[:1])
    view = ImageView()
    view.resize(1400, 1000)
    view.show()
    app.processEvents()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_cr(Path(tmp) / "big_cr.dcm", args.rows, args.columns)
        first_pixel(view, app, path, args.repeat)
        window_redraw(view, app)
        stalls_while_loading(app, path, args.repeat)
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

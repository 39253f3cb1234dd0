"""Review workflow responsiveness, offscreen: event-loop stalls while the model analyses, and the
cost of one landmark-drag step (edit + morphometry + overlays + table + detail panel).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_review.py [--repeat 5]
        [--film film3_adjacent] [--drags 200]

Uses the shipped model (``VCFVIEWER_MODELS`` to pick another) on a film of the bundled sample
study, in a real MainWindow with the review installed. Prints:
* the longest gap between 5 ms heartbeat ticks of the GUI event loop while the model loads on a
  worker (the start-up warm-up: importing torch holds the interpreter whichever thread does it);
* the same from pressing Analyse until the findings are on screen (result handling and the
  deferred overlay drawing on the GUI thread included), for the first analysis and the worst of
  ``--repeat`` more; target: <= 50 ms;
* analysis wall time (cold, warm median) and how long showing the result took on the GUI thread;
* one drag step (move_landmark -> refresh of overlays, table and detail panel): median and max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


SETTLE_MS = 250


class Heartbeat:
    """Records the gaps between ticks of a 5 ms QTimer while ``running``."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self.gaps = []
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        """Stop; the longest gap in ms (the final partial interval counts too)."""
        self._beat()
        self.timer.stop()
        return max(self.gaps) * 1000.0


def analyse_once(app, controller, beat: Heartbeat) -> tuple[float, float, float]:
    """(longest stall ms, wall s, GUI-thread result handling ms) for one analysis."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    handled: list[float] = []
    arrived: list[float] = []
    original = controller._on_analysis_result

    def timed(image, result, *rest):  # rest: the CT start plane, when the controller passes it
        start = time.perf_counter()
        arrived.append(start)
        original(image, result, *rest)
        handled.append(time.perf_counter() - start)
        # keep beating while the deferred overlays are drawn and painted
        QTimer.singleShot(SETTLE_MS, loop.quit)

    controller._on_analysis_result = timed
    beat.start()
    start = time.perf_counter()
    controller.analyse(confirm=False)
    task = controller.runner.current
    task.error.connect(lambda message: (print(f"analysis failed: {message}"), loop.quit()))
    loop.exec()
    wall = (arrived[0] if arrived else time.perf_counter()) - start
    stall = beat.stop()
    controller._on_analysis_result = original
    return stall, wall, (handled[0] * 1000.0 if handled else float("nan"))


def warm_up_once(app, controller, beat: Heartbeat) -> tuple[float, float]:
    """(longest stall ms, wall s) while the model loads on a worker (what start-up does)."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    controller.window.progress_panel.hide()
    beat.start()
    start = time.perf_counter()
    controller.warm_up()
    task = controller.window.progress_panel.current
    if task is None:
        return float("nan"), 0.0
    task.finished.connect(loop.quit)
    loop.exec()
    return beat.stop(), time.perf_counter() - start


def drag_steps(app, controller, count: int) -> list[float]:
    """Seconds per drag step on the middle measurable body (one drag of ``count`` moves)."""
    session = controller.session
    bodies = [f for f in session.annotation.vertebrae if f.landmarks is not None]
    if not bodies:
        return []
    body = bodies[len(bodies) // 2]
    controller.select(body.finding_id)
    start_point = body.landmarks[0].copy()
    samples = []
    for i in range(count):
        point = start_point + (0.0, (i % 20) * 0.5)
        t0 = time.perf_counter()
        controller.handles.drag_moved.emit(body.finding_id, 0, float(point[0]), float(point[1]))
        app.processEvents()
        samples.append(time.perf_counter() - t0)
    controller.session.end_drag()
    return samples


def review_window(film: str):
    """(app, window, controller, image): a review window showing a sample film, private files."""
    from vcfviewer.paths import sample_study_dir

    return open_review(sample_study_dir() / f"{film}.dcm")


def open_review(path: Path):
    """(app, window, controller, image): a review window showing ``path`` (a film or a CT),
    with private settings and home folders so the reader's own files are never touched."""
    os.environ.setdefault("VCFVIEWER_HOME", tempfile.mkdtemp(prefix="vcf-bench-home-"))
    from PySide6.QtCore import QSettings

    from vcfviewer.core.image import Volume
    from vcfviewer.gui.app import create_application
    from vcfviewer.io.loader import load_path_sync

    app = create_application(sys.argv[:1])
    settings_dir = tempfile.mkdtemp(prefix="vcf-bench-settings-")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    from vcfviewer.gui.main_window import MainWindow
    from vcfviewer.gui.review import install_review

    window = MainWindow(auto_analyse=False)
    controller = install_review(window, offer_recovery=False, warm_up=False)
    window.resize(1600, 1000)
    window.show()
    image = load_path_sync(path)
    if isinstance(image, Volume):
        window.image_view.show_volume(image, path.name)
    else:
        window.image_view.show_radiograph(image, path.stem)
    window.image_loaded.emit(image)
    app.processEvents()
    return app, window, controller, image


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--film", default="film3_adjacent")
    parser.add_argument("--drags", type=int, default=200)
    args = parser.parse_args(argv)
    app, window, controller, image = review_window(args.film)
    beat = Heartbeat()
    loading = warm_up_once(app, controller, beat)
    cold = analyse_once(app, controller, beat)
    warm = [analyse_once(app, controller, beat) for _ in range(args.repeat)]
    bodies = len(controller.annotation.vertebrae) if controller.session else 0
    print(f"film {args.film} {image.columns}x{image.rows}, {bodies} bodies, "
          f"{controller.model_text}")
    print(f"model load on a worker (start-up warm-up, imports torch): {loading[1]:.2f} s, "
          f"longest event-loop stall {loading[0]:.0f} ms")
    print(f"analysis, first: wall {cold[1]:.2f} s, longest event-loop stall "
          f"{cold[0]:.0f} ms, result shown in {cold[2]:.0f} ms")
    print(f"analysis, warm x{args.repeat}: wall median {statistics.median(w[1] for w in warm):.2f} s,"
          f" longest stall {max(w[0] for w in warm):.0f} ms (median of runs "
          f"{statistics.median(w[0] for w in warm):.0f} ms), result shown in median "
          f"{statistics.median(w[2] for w in warm):.0f} ms  [target <= 50 ms]")
    steps = drag_steps(app, controller, args.drags)
    if steps:
        print(f"landmark drag step (edit + measure + overlays + table + detail), {len(steps)} "
              f"moves: median {statistics.median(steps) * 1000:.1f} ms, "
              f"max {max(steps) * 1000:.1f} ms")
    controller.saving.ask_unsaved = lambda: "discard"
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

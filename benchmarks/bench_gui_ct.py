"""CT review responsiveness, offscreen: event-loop stalls while a whole CT volume is analysed,
and the cost of scrolling planes, jumping to a body's plane and one landmark-drag step.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_ct.py [--repeat 3]
        [--ct ../shared/data/ct-example/example_ct.nii.gz] [--drags 100]

Uses the CT model (``registry.model_id_for("ct")``: vcf-ct when shipped, else the lateral model)
through ``models.ct.analyze_volume`` in a real MainWindow with the review installed. Prints:
* the longest gap between 5 ms heartbeat ticks of the GUI event loop while the models load;
* the same from pressing Analyse until the findings are on screen, for the first analysis and
  the worst of ``--repeat`` more (target <= 50 ms), with the analysis wall time;
* one plane step (new plane + its overlays, ghosts, table and corner text), median and max;
* selecting each body in turn (each jumps to its plane), median and max;
* one drag step on the plane on screen, median and max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gui_review import (Heartbeat, analyse_once, drag_steps,  # noqa: E402
                              open_review, warm_up_once)

DEFAULT_CT = Path(__file__).resolve().parents[1].parent / "shared/data/ct-example/example_ct.nii.gz"


def timed(app, action, count: int) -> list[float]:
    """Seconds per call of ``action(i)`` including the events it posts."""
    samples = []
    for i in range(count):
        start = time.perf_counter()
        action(i)
        app.processEvents()
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float]) -> str:
    return (f"median {statistics.median(samples) * 1000:.1f} ms, "
            f"max {max(samples) * 1000:.1f} ms ({len(samples)} samples)")


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct", type=Path, default=DEFAULT_CT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drags", type=int, default=100)
    args = parser.parse_args(argv)
    if not args.ct.exists():
        print(f"no CT at {args.ct}; pass --ct PATH")
        return 1
    app, window, controller, volume = open_review(args.ct)
    beat = Heartbeat()
    loading = warm_up_once(app, controller, beat)
    cold = analyse_once(app, controller, beat)
    warm = [analyse_once(app, controller, beat) for _ in range(args.repeat)]
    annotation = controller.annotation
    bodies = len(annotation.vertebrae) if annotation is not None else 0
    planes = sorted({annotation.plane_of(f) for f in annotation.findings} - {None}) \
        if annotation is not None else []
    view = window.image_view
    print(f"CT {args.ct.name} {volume.shape} (slice, row, col), {view.plane_count} sagittal "
          f"planes of {view.radiograph.columns}x{view.radiograph.rows}; {bodies} bodies on "
          f"{len(planes)} planes; {controller.model_text}")
    print(f"models load on a worker (warm-up): {loading[1]:.2f} s, longest event-loop stall "
          f"{loading[0]:.0f} ms")
    print(f"whole-volume analysis, first: wall {cold[1]:.2f} s, longest event-loop stall "
          f"{cold[0]:.0f} ms, result shown in {cold[2]:.0f} ms")
    if warm:
        print(f"whole-volume analysis, warm x{len(warm)}: wall median "
              f"{statistics.median(w[1] for w in warm):.2f} s, longest stall "
              f"{max(w[0] for w in warm):.0f} ms, result shown in median "
              f"{statistics.median(w[2] for w in warm):.0f} ms  [target <= 50 ms]")
    start = view.plane_index
    steps = timed(app, lambda i: view.set_plane(start + (1 if i % 2 == 0 else -1)), 40)
    print(f"plane step with overlays and ghosts: {summary(steps)}")
    if annotation is not None and annotation.findings:
        ids = [f.finding_id for f in annotation.findings]
        jumps = timed(app, lambda i: controller.select(ids[i % len(ids)]), 2 * len(ids))
        print(f"select a body (jumps to its plane): {summary(jumps)}")
    drags = drag_steps(app, controller, args.drags)
    if drags:
        print(f"landmark drag step on the plane on screen: {summary(drags)}")
    controller.saving.ask_unsaved = lambda: "discard"
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

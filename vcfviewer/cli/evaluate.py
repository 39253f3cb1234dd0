"""``vcfviewer evaluate --data DIR [--model ID] [--json]``: score a model on simulated studies."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TARGETS = {  # issue 5 targets on the held-out simulated set
    "whole_column_correct": (">=", 0.97), "dice_mean": (">=", 0.95),
    "height_ratio_mae_points": ("<=", 2.5), "genant_exact": (">=", 0.85),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` parser."""
    p = subparsers.add_parser("evaluate", help="score a model against ground-truth annotations",
                              description="Run the model over a folder written by "
                              "'vcfviewer synth' and print detection, level, Dice, landmark, "
                              "ratio, grade and fracture metrics.")
    p.add_argument("--data", type=Path, required=True, help="folder with images + truth JSONs")
    p.add_argument("--model", default=None, help="model id (default: the shipped model)")
    p.add_argument("--preset", default="balanced", help="threshold preset (balanced, high_ppv)")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    p.add_argument("--limit", type=int, default=None, help="only the first N studies")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--failures", action="store_true",
                   help="also list every image whose column is not entirely right, and why")
    p.add_argument("--update-card", action="store_true",
                   help="store the metrics in the model card as its held-out test figures")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from vcfviewer.models.registry import ModelCardError
    from vcfviewer.models.weights import WeightsError
    from vcfviewer.training.evaluate import EvaluationError, evaluate_folder

    try:
        summary = evaluate_folder(args.data, args.model, args.device, args.preset, args.limit,
                                  say=None if args.json else _say)
    except (EvaluationError, WeightsError, ModelCardError) as exc:
        print(f"vcfviewer evaluate: {exc}")
        return 2
    failures = summary.pop("column_failures")
    if args.update_card:
        _update_card(args.model, summary)
    if args.json:
        print(json.dumps({**summary, **({"column_failures": failures} if args.failures else {})},
                         indent=2))
        return 0
    for key, value in summary.items():
        mark = _target_mark(key, value, summary.get(f"{key}_ci95"))
        print(f"{key:38s} {value}{mark}")
    if args.failures:
        print(f"\ncolumns not entirely right: {len(failures)}")
        for failure in failures:
            print(f"  {failure['image']}: {'; '.join(failure['problems'])}")
    return 0


def _say(text: str) -> None:
    import sys

    print(text, end="", file=sys.stderr, flush=True)


def _target_mark(key: str, value: object, interval: list[float] | None = None) -> str:
    """"(target >= 0.97: NOT met)", plus whether the 95 % interval clears the target or
    straddles it (then another draw of the same size could fall on the other side)."""
    if key not in TARGETS or not isinstance(value, (int, float)):
        return ""
    op, goal = TARGETS[key]
    ok = value >= goal if op == ">=" else value <= goal
    note = ""
    if interval is not None:
        low, high = interval
        note = "; its 95 % interval straddles it" if low < goal < high else \
            "; its whole 95 % interval clears it" if ok else "; its whole 95 % interval misses it"
    return f"   (target {op} {goal}: {'met' if ok else 'NOT met'}{note})"


def _update_card(model_id: str | None, summary: dict) -> None:
    from vcfviewer.models.registry import load_card, write_card

    card = load_card(model_id)
    data = card.to_json()
    data["metrics"] = {**data.get("metrics", {}), "test": summary}
    write_card(data, card.path)

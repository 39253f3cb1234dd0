"""``vcfviewer models``: list the installed models, their presets and headline metrics."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` parser."""
    p = subparsers.add_parser("models", help="list installed models and verify their weights")
    p.add_argument("--verify", action="store_true", help="check each weights file's sha256")
    p.add_argument("--json", action="store_true", help="print the cards as JSON")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from vcfviewer import paths
    from vcfviewer.models.registry import DEFAULT_MODEL_ID, list_models
    from vcfviewer.models.weights import WeightsError, verified_weights

    cards = list_models()
    if not cards:
        print(f"no models in {paths.models_dir()}")
        return 1
    status = 0
    rows = []
    for card in cards:
        state = ""
        if args.verify:
            try:
                verified_weights(card.id)
                state = "sha256 ok"
            except WeightsError as exc:
                state, status = f"BROKEN: {exc}", 1
        rows.append((card, state))
    if args.json:
        print(json.dumps([c.to_json() | {"verify": s} for c, s in rows], indent=2))
        return status
    for card, state in rows:
        test = card.metrics.get("test", {})
        star = "*" if card.id == DEFAULT_MODEL_ID else " "
        print(f"{star} {card.id} {card.version}  presets {card.thresholds}  "
              f"test AUROC {test.get('fracture_body_auroc')}  {state}")
    return status

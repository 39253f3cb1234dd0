"""Simulator case-mix options shared by ``train`` (training films) and ``synth`` (written films).

Both commands let a user ask for more of what the natural rates make rare: transitional anatomy,
severe grades, crush fractures. The argparse names map one to one onto ``SynthOptions`` fields.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser, scope: str) -> None:
    """``--transitional-rate``, ``--flat-back-rate``, ``--grade-weights``, ``--type-weights``;
    ``scope`` prefixes each
    help text (e.g. "training films only: ")."""
    parser.add_argument("--transitional-rate", type=float, default=None, metavar="P",
                        help=f"{scope}share with transitional anatomy (L6 or a sacralised L5; "
                             "the simulator's natural rate is 0.04)")
    parser.add_argument("--flat-back-rate", type=float, default=None, metavar="P",
                        help=f"{scope}share with a flat or kyphotic lumbar spine (lordosis "
                             "-15 to 25 degrees over a sacral slope of 10-30; natural 0)")
    parser.add_argument("--grade-weights", type=float, nargs=3, default=None,
                        metavar=("G1", "G2", "G3"),
                        help=f"{scope}relative frequency of Genant grades 1-3 among fractures "
                             "(natural 0.3 0.4 0.3)")
    parser.add_argument("--type-weights", type=float, nargs=3, default=None,
                        metavar=("WEDGE", "BICONCAVE", "CRUSH"),
                        help=f"{scope}relative frequency of fracture types (natural 0.5 0.3 0.2)")


def chosen(args: argparse.Namespace) -> dict:
    """The case-mix options given on the command line, as ``SynthOptions`` field → value."""
    given = {"transitional_rate": args.transitional_rate, "flat_back_rate": args.flat_back_rate,
             "grade_weights": args.grade_weights,
             "type_weights": args.type_weights}
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in given.items() if v is not None}

"""Command line: ``vcfviewer [PATH | --sample]`` opens the viewer; subcommands run headless jobs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vcfviewer import __version__

# Subcommand → module in vcfviewer.cli exposing ``register(subparsers)``; imported only when used
# so that ``vcfviewer scan`` never pays for torch or Qt.
SUBCOMMANDS: dict[str, str] = {
    "scan": "vcfviewer.cli.scan",
    "synth": "vcfviewer.cli.synth",
    "train": "vcfviewer.cli.train",
    "evaluate": "vcfviewer.cli.evaluate",
    "analyze": "vcfviewer.cli.analyze",
    "models": "vcfviewer.cli.models",
}


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcfviewer",
        description="Reading assistant for vertebral compression fractures. "
        f"Subcommands: {', '.join(SUBCOMMANDS)} (see 'vcfviewer SUBCOMMAND --help').",
    )
    parser.add_argument("--version", action="version", version=f"vcfviewer {__version__}")
    parser.add_argument("path", nargs="?", help="DICOM folder, DICOM file, DICOMDIR or PNG/JPEG")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample study")
    parser.add_argument("--no-analyse", action="store_true", help="do not start the model on open")
    return parser


def _subcommand_parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vcfviewer")
    sub = parser.add_subparsers(dest="command", required=True)
    importlib.import_module(SUBCOMMANDS[name]).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from vcfviewer.privacy import protect_logs

    protect_logs()  # library warnings can quote damaged headers, patient names included
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SUBCOMMANDS:
        args = _subcommand_parser(args_list[0]).parse_args(args_list)
        return int(args.handler(args) or 0)
    args = _gui_parser().parse_args(args_list)
    from vcfviewer.gui.app import run_gui  # Qt is imported only for the viewer

    return run_gui(path=args.path, sample=args.sample, auto_analyse=not args.no_analyse)


if __name__ == "__main__":
    sys.exit(main())

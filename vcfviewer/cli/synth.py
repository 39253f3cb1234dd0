"""``vcfviewer synth OUT --count N --seed S``: write simulated lateral spine films with exact truth.

Each study is a DICOM DX file, its ground-truth annotation JSON and a label-mask PNG (see
``vcfviewer.synth.writer``); ``--raster`` adds web-style 8-bit JPEG copies.
``vcfviewer synth OUT --ct [--nifti]`` writes simulated CT volumes (a DICOM series or NIfTI per
seed, spacing varied by seed, truth in ``OUT/truth/``; see ``vcfviewer.synth.ct_writer``).
``vcfviewer synth --sample-study DIR`` regenerates the bundled sample study.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from vcfviewer.cli import case_mix


def register(subparsers: Any) -> None:
    """Add the ``synth`` subcommand."""
    parser = subparsers.add_parser(
        "synth", help="write simulated lateral spine radiographs with exact ground truth")
    parser.add_argument("out", nargs="?", help="output folder")
    parser.add_argument("--count", type=int, default=1, help="number of studies (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first study (default 0)")
    parser.add_argument("--spacing", type=float, default=None,
                        help="pixel spacing in mm (default: random 0.1–0.2 mm, detector-like)")
    parser.add_argument("--fracture-rate", type=float, default=None,
                        help="probability that a study has a fracture (default 0.6)")
    case_mix.add_arguments(parser, "films only: ")
    parser.add_argument("--raster", action="store_true",
                        help="also write web-style 8-bit JPEG versions (no spacing)")
    parser.add_argument("--compress", action="store_true", help="RLE-compress the DICOM files")
    parser.add_argument("--workers", type=int, default=1, help="processes to use (default 1)")
    parser.add_argument("--ct", action="store_true",
                        help="write simulated CT volumes (DICOM series + truth) instead of films")
    parser.add_argument("--nifti", action="store_true", help="with --ct: write NIfTI instead of DICOM")
    parser.add_argument("--sample-study", metavar="DIR", default=None,
                        help="regenerate the bundled sample study into DIR and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


def _options(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from vcfviewer.synth import SynthOptions

    options = SynthOptions()
    if args.spacing is not None:
        options = replace(options, spacing_mm=args.spacing)
    if args.fracture_rate is not None:
        options = replace(options, fracture_rate=args.fracture_rate)
    return replace(options, **case_mix.chosen(args))


def _one(job: tuple[int, Any, str, bool, bool]) -> tuple[int, str]:
    """Worker: simulate and write one study; returns (seed, DICOM path)."""
    seed, options, out, raster, compress = job
    from vcfviewer.synth import simulate
    from vcfviewer.synth.writer import default_name, write_study

    study = simulate(seed, options)
    paths = write_study(study, Path(out), default_name(seed), raster=raster, compress=compress)
    return seed, str(paths["dicom"])


def _one_ct(job: tuple[int, Any, str, bool, bool]) -> tuple[int, str]:
    """Worker: simulate and write one CT volume (spacing varied by seed)."""
    seed, options, out, nifti, _ = job
    from vcfviewer.synth.ct import simulate_ct_volume
    from vcfviewer.synth.ct_writer import default_ct_name, spacing_for, write_ct_series

    pixel, thickness = spacing_for(seed)
    ct = simulate_ct_volume(seed, options, pixel_mm=pixel, slice_mm=thickness)
    paths = write_ct_series(ct, Path(out), default_ct_name(seed), nifti=nifti)
    return seed, str(paths["nifti" if nifti else "series"])


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core; threads inside would only fight


def _run_jobs(jobs: list[tuple[int, Any, str, bool, bool]], workers: int, quiet: bool,
              ct: bool = False) -> None:
    start = time.monotonic()
    work = _one_ct if ct else _one
    if workers <= 1:
        _init_worker()
        results = map(work, jobs)
        pool = None
    else:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker)
        results = pool.imap_unordered(work, jobs)
    try:
        for done, (seed, _path) in enumerate(results, start=1):
            if not quiet:
                rate = done / max(time.monotonic() - start, 1e-9)
                sys.stderr.write(f"\rsynth: {done}/{len(jobs)} studies ({rate:.2f}/s), last seed {seed}")
                sys.stderr.flush()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if not quiet:
        sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    """Handler of ``vcfviewer synth``."""
    from vcfviewer.synth import SynthError

    try:
        if args.sample_study:
            from vcfviewer.synth.sample import make_sample_study

            written = make_sample_study(Path(args.sample_study))
            for name, paths in written.items():
                print(f"{name}: {paths['dicom']}")
            return 0
        if not args.out:
            print("vcfviewer synth: give an output folder (or --sample-study DIR)", file=sys.stderr)
            return 2
        if args.count < 1 or args.workers < 1 or args.seed < 0:
            print("vcfviewer synth: --count and --workers must be ≥ 1, --seed ≥ 0", file=sys.stderr)
            return 2
        if args.ct and (case_mix.chosen(args) or args.fracture_rate is not None):
            print("vcfviewer synth: --fracture-rate and the case-mix options apply to films, "
                  "not to --ct volumes", file=sys.stderr)
            return 2
        options = _options(args)
        flag = args.nifti if args.ct else args.raster
        jobs = [(args.seed + i, options, args.out, flag, args.compress) for i in range(args.count)]
        _run_jobs(jobs, args.workers, args.quiet, ct=args.ct)
    except SynthError as err:
        print(f"vcfviewer synth: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.count} {'CT volumes' if args.ct else 'studies'} to {args.out}")
    return 0

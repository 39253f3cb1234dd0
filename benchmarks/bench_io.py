"""Loader robustness and speed: corpus outcome, time to first displayed pixel, scan throughput.

    .venv/bin/python benchmarks/bench_io.py [--files 10000] [--repeat 5] [--skip-corpus]
        [--skip-scan] [--corpus ../shared/data/dicom-corpus]

Prints:
* corpus result: every file of the DICOM corpus through ``probe_files`` (child process, per-file
  timeout): loaded / clear LoadError / crashes (other exceptions, dead worker) / hangs;
* time to first displayed pixel (``load_path`` + window to 8-bit) for the largest radiograph in
  the corpus, and for a generated uncompressed 3000 x 2500 MONOCHROME1 CR, each as a ratio to a
  bare ``pydicom.dcmread(path).pixel_array`` of the same file (target <= 1.3x); median of
  ``--repeat`` alternating runs after one warm-up;
* scan throughput in files/s on a generated folder of ``--files`` small DICOM files (100-slice
  CT series of 16 x 16 pixels, written to a temp dir), with the scanning process's peak RSS and
  its RSS before the scan.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "dicom-corpus"


def window_to_uint8(pixels: np.ndarray, low: float, width: float) -> np.ndarray:
    """What the viewer does before the first paint: linear window to 0..255 in float32."""
    out = pixels - np.float32(low)
    out *= np.float32(255.0 / width)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def corpus_result(root: Path) -> None:
    from vcfviewer.io.loader import probe_files

    files = sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)
    start = time.perf_counter()
    outcomes = Counter(outcome for _, outcome, _ in probe_files(files, timeout_s=30))
    seconds = time.perf_counter() - start
    print(f"corpus: {len(files)} files in {seconds:.1f} s: loaded {outcomes['loaded']}, "
          f"clear errors {outcomes['error']}, crashes {outcomes['crash']}, "
          f"hangs {outcomes['hang']}")


def largest_radiograph(root: Path) -> Path:
    """The biggest image (rows x columns) among corpus radiograph series that loads."""
    from vcfviewer.io.discovery import scan_sync
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.io.errors import LoadError

    candidates = sorted(
        (s for s in scan_sync(root).all_series()
         if s.kind == "radiograph" and s.modality in ("CR", "DX", "RG", "") and s.rows),
        key=lambda s: s.rows * s.columns, reverse=True)
    for series in candidates:
        try:
            load_path_sync(series.files[0])
            return Path(series.files[0])
        except LoadError:
            continue
    raise SystemExit("no loadable radiograph in the corpus")


def _time_ours(path: Path) -> float:
    from vcfviewer.io.loader import load_path_sync

    start = time.perf_counter()
    image = load_path_sync(path)
    window_to_uint8(image.pixels, image.window.low, image.window.width)
    return time.perf_counter() - start


def _time_bare(path: Path) -> float:
    import pydicom

    start = time.perf_counter()
    pydicom.dcmread(path).pixel_array
    return time.perf_counter() - start


def first_pixel_ratio(path: Path, repeat: int, label: str) -> None:
    _time_ours(path), _time_bare(path)  # warm-up: imports, plugin discovery, file cache
    ours, bare = [], []
    for _ in range(repeat):
        bare.append(_time_bare(path))
        ours.append(_time_ours(path))
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"first pixel, {label} ({path.name}): ours {o * 1000:.0f} ms, bare pydicom "
          f"{b * 1000:.0f} ms, ratio {o / b:.2f}x (target <= 1.3x)")


def write_uncompressed_cr(folder: Path) -> Path:
    """A 3000 x 2500 12-bit MONOCHROME1 CR with rescale and window: the cheap-decode worst case."""
    sys.path.insert(0, str(REPO / "tests" / "io"))
    from test_io_factory import write_dicom

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 4096, size=(3000, 2500), dtype=np.uint16)
    return write_dicom(folder / "big_cr.dcm", pixels, photometric="MONOCHROME1", bits_stored=12,
                       RescaleSlope=1.0, RescaleIntercept=-1024.0, WindowCenter=1000,
                       WindowWidth=3000, ImagerPixelSpacing=[0.15, 0.15])


def write_scan_folder(folder: Path, count: int) -> None:
    """``count`` small CT slices in series of 100, each file about 1 KB."""
    import pydicom
    from pydicom.uid import generate_uid

    sys.path.insert(0, str(REPO / "tests" / "io"))
    from test_io_factory import make_dataset

    template = make_dataset(np.zeros((16, 16), np.uint16), sop_class="1.2.840.10008.5.1.4.1.1.2",
                            modality="CT", ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                            PixelSpacing=[0.5, 0.5], RescaleIntercept=-1024, RescaleSlope=1)
    for i in range(count):
        if i % 100 == 0:
            template.SeriesInstanceUID = generate_uid()
            series_dir = folder / f"series{i // 100:04d}"
            series_dir.mkdir()
        uid = generate_uid()
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = uid
        template.InstanceNumber, template.ImagePositionPatient = i % 100, [0, 0, (i % 100) * 2.0]
        pydicom.dcmwrite(series_dir / f"{i % 100:03d}.dcm", template, enforce_file_format=True)


# Peak RSS from /proc (VmHWM): ru_maxrss would include the parent's peak inherited across exec.
_SCAN_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from vcfviewer.io.discovery import scan_sync
def rss(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field))
before = rss("VmHWM:")
start, cpu = time.perf_counter(), time.process_time()
result = scan_sync(sys.argv[1])
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "files": result.files_seen, "before_kb": before,
                  "peak_kb": rss("VmHWM:"), "series": len(result.all_series()),
                  "problems": len(result.problems)}))
"""


def scan_throughput(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vcf_scan_bench_") as tmp:
        start = time.perf_counter()
        write_scan_folder(Path(tmp), count)
        print(f"scan: wrote {count} files in {time.perf_counter() - start:.1f} s")
        out = subprocess.run([sys.executable, "-c", _SCAN_CHILD, tmp], capture_output=True,
                             text=True, check=True).stdout
    r = json.loads(out)
    print(f"scan: {r['files']} files, {r['series']} series, {r['problems']} problems in "
          f"{r['seconds']:.1f} s = {r['files'] / r['seconds']:.0f} files/s "
          f"({r['files'] / r['cpu']:.0f} files per CPU second); peak RSS "
          f"{r['peak_kb'] / 1024:.0f} MiB (after imports, before scanning: "
          f"{r['before_kb'] / 1024:.0f} MiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--skip-scan", action="store_true")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")
    if not args.skip_corpus and args.corpus.is_dir():
        corpus_result(args.corpus)
        first_pixel_ratio(largest_radiograph(args.corpus), args.repeat, "largest corpus radiograph")
    elif not args.skip_corpus:
        print(f"corpus: {args.corpus} absent, skipped")
    with tempfile.TemporaryDirectory(prefix="vcf_io_bench_") as tmp:
        first_pixel_ratio(write_uncompressed_cr(Path(tmp)), args.repeat,
                          "uncompressed 3000x2500 MONOCHROME1 CR")
    if not args.skip_scan:
        scan_throughput(args.files)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The one entry point that turns a found series, or a path, into a Radiograph or a Volume.

``load_series`` takes what discovery found; ``load_path`` takes a DICOM/raster/NIfTI file, a
DICOMDIR, or a folder holding exactly one image series. Both are jobs (generators yielding
Progress); the ``*_sync`` twins run them to completion. Whatever goes wrong surfaces as a
``LoadError`` naming the file and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import replace

from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.progress import Job, Progress, run_to_completion
from vcfviewer.io import dicom_image
from vcfviewer.io.discovery import (
    DICOMDIR_SOP_CLASS,
    ENHANCED_VOLUME_CLASSES,
    KIND_OTHER,
    KIND_VOLUME,
    SeriesEntry,
    scan,
)
from vcfviewer.io.errors import LoadError, describe
from vcfviewer.io.raster import is_raster_path, load_raster
from vcfviewer.io.volume_loader import NotAVolume, is_nifti_path, load_dicom_volume, load_nifti

Image = Radiograph | Volume


def _guarded(job: Generator[Progress, None, Image], path: str) -> Job[Image]:
    """Run ``job`` and turn any stray library exception into a LoadError for ``path``."""
    try:
        return (yield from job)
    except LoadError:
        raise
    except MemoryError:
        raise LoadError(path, "not enough memory to load the image") from None
    except Exception as exc:  # last guard: the reader sees a reason, never a traceback
        raise LoadError(path, f"cannot load: {describe(exc)}") from None


def _load_file(path: str) -> Job[Image]:
    """One file: chosen by its name (raster, NIfTI) or its header (DICOM, DICOMDIR)."""
    if is_raster_path(path):
        return (yield from load_raster(path))
    if is_nifti_path(path):
        return (yield from load_nifti(path))
    ds = dicom_image.read_dataset(path, stop_before_pixels=True)
    media_class = str(getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", ""))
    if "DirectoryRecordSequence" in ds or media_class == DICOMDIR_SOP_CLASS:
        return (yield from _load_single_series(path))
    if _is_enhanced_volume(ds):
        return (yield from _volume_or_first_image((path,)))
    return (yield from dicom_image.load_radiograph(path))


def _is_enhanced_volume(ds: object) -> bool:
    sop = str(getattr(ds, "SOPClassUID", "") or "")
    return sop in ENHANCED_VOLUME_CLASSES and dicom_image.number_of_frames(ds) > 1  # type: ignore


def _volume_or_first_image(files: tuple[str, ...]) -> Job[Image]:
    """A Volume when the files (or one multi-frame file) form one stack, else the first image."""
    try:
        return (yield from load_dicom_volume(files))
    except NotAVolume as err:
        image = yield from dicom_image.load_radiograph(files[0])
        note = f"not shown as a volume ({err.reason}): showing the first image"
        return replace(image, notes=(note,) + image.notes)


def _load_single_series(path: str) -> Job[Image]:
    """A folder or DICOMDIR: load it when it holds exactly one image series."""
    result = yield from scan(path)
    images = [s for s in result.all_series() if s.kind != KIND_OTHER]
    if not images:
        problems = "; ".join(p.reason for p in result.problems[:3])
        raise LoadError(path, "no loadable image found" + (f" ({problems})" if problems else ""))
    if len(images) > 1:
        raise LoadError(path, f"holds {len(images)} image series: open one of them "
                              "(see 'vcfviewer scan')")
    return (yield from load_series(images[0]))


def load_series(series: SeriesEntry) -> Job[Image]:
    """Job: load a series found by discovery (a Volume for CT/MR stacks, else its first image)."""
    first = series.files[0]
    if series.kind == KIND_OTHER:
        what = series.modality or "this object"
        return (yield from _refuse(first, f"{what} holds no image to display"))
    if series.kind == KIND_VOLUME:
        if is_nifti_path(first):
            return (yield from _guarded(load_nifti(first), first))
        return (yield from _guarded(_volume_or_first_image(series.files), first))
    image = yield from _guarded(_load_file(first), first)
    if len(series.files) > 1 and isinstance(image, Radiograph):
        note = f"series holds {len(series.files)} images: showing the first"
        image = replace(image, notes=(note,) + image.notes)
    return image


def _refuse(path: str, reason: str) -> Job[Image]:
    raise LoadError(path, reason)
    yield  # pragma: no cover - makes this a generator like every other job


def load_path(path: str | os.PathLike[str]) -> Job[Image]:
    """Job: load a file (DICOM, PNG/JPEG/TIFF, NIfTI), a DICOMDIR, or a one-series folder."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return (yield from _guarded(_load_single_series(path), path))
    if not os.path.exists(path):
        raise LoadError(path, "no such file or folder")
    return (yield from _guarded(_load_file(path), path))


def load_series_sync(series: SeriesEntry) -> Image:
    """``load_series`` run to completion."""
    return run_to_completion(load_series(series))


def load_path_sync(path: str | os.PathLike[str]) -> Image:
    """``load_path`` run to completion."""
    return run_to_completion(load_path(path))


# --- Isolated probing: does each file load, fail clearly, crash or hang? -----------------------
# Used by the corpus test, the benchmark and batch robustness checks. Each load runs in a child
# process so that a decoder segfault or an endless loop costs one file, never the caller.

PROBE_LOADED, PROBE_ERROR, PROBE_CRASH, PROBE_HANG = "loaded", "error", "crash", "hang"


def _probe_worker() -> None:
    """Child side: read JSON paths from stdin, answer one JSON line per path on stdout."""
    import json
    import sys
    import warnings

    warnings.simplefilter("ignore")
    for line in sys.stdin:
        path = json.loads(line)
        try:
            image = load_path_sync(path)
            shape = image.pixels.shape if isinstance(image, Radiograph) else image.voxels.shape
            answer = [PROBE_LOADED, f"{type(image).__name__} {shape}"]
        except LoadError as err:
            answer = [PROBE_ERROR, err.reason]
        except BaseException as exc:  # the point of the probe is to report these
            answer = [PROBE_CRASH, f"{type(exc).__name__}: {describe(exc)}"]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


class _ProbeChild:
    """A worker process and a line reader over its stdout with a timeout."""

    def __init__(self) -> None:
        import subprocess
        import sys

        code = "from vcfviewer.io.loader import _probe_worker; _probe_worker()"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buffer = b""

    def ask(self, path: str, timeout_s: float) -> tuple[str, str]:
        import json
        import select
        import time

        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(path) + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return PROBE_HANG, f"no answer within {timeout_s:.0f} s"
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                code = self.proc.wait()
                return PROBE_CRASH, f"worker died (exit status {code})"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        outcome, detail = json.loads(line)
        return outcome, detail

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def probe_files(paths: list[str], timeout_s: float = 20.0) -> Iterator[tuple[str, str, str]]:
    """Yield (path, outcome, detail) per path, loading each in a child process with a timeout.

    outcome is "loaded", "error" (a LoadError: the clear failure we want), "crash" (any other
    exception, or the process died) or "hang" (no answer within ``timeout_s``).
    """
    child: _ProbeChild | None = None
    try:
        for path in paths:
            if child is None:
                child = _ProbeChild()
            try:
                outcome, detail = child.ask(os.fspath(path), timeout_s)
            except (BrokenPipeError, OSError) as exc:
                outcome, detail = PROBE_CRASH, f"worker unreachable: {exc}"
            if outcome in (PROBE_HANG, PROBE_CRASH):
                child.close()
                child = None
            yield os.fspath(path), outcome, detail
    finally:
        if child is not None:
            child.close()

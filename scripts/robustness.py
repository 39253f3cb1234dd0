"""Robustness run: mutate DICOM files and check that the loader, ``scan`` and ``analyze`` end every
input in a clear per-file error (or load it) — no crash, no hang, no memory blow-up.

    .venv/bin/python scripts/robustness.py --seconds 120 --out /tmp/robustness.json

Seeds are small films written here with pydicom (DX, MONOCHROME1 CR, RLE, implicit VR, big
endian, multi-frame, CT) plus, when present, files of ../shared/data/dicom-corpus. Each mutant
(truncation, flipped bytes, wrong element lengths, missing pixel data, absurd Rows/Columns, huge
declared sizes, wrong transfer syntax, zero-length files, ...) is loaded in a child process under
a memory cap (RLIMIT_AS) with a per-file timeout. Then ``scan`` runs over all mutants in a child,
and ``vcfviewer analyze`` over a sample of them (in-process workers, same caps): every file must
be accounted for as a study or an error. The run stops generating mutants when its time share is
spent. Exit status 0 when nothing crashed, hung or failed unclearly, else 1. Mutants are written
under --work (a temporary folder by default) and never committed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "dicom-corpus"
LOADED, ERROR, CRASH, HANG, UNCLEAR = "loaded", "error", "crash", "hang", "unclear"
GOOD = (LOADED, ERROR)
DX, CR, CT = "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.2"


# --- seeds -----------------------------------------------------------------------------------

def _dataset(sop: str, rows: int, cols: int, frames: int = 1, photometric: str = "MONOCHROME2"):
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.SOPClassUID = sop, sop
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Robust^Seed", "R1", "CT" if sop == CT else "DX"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing, ds.WindowCenter, ds.WindowWidth = [0.5, 0.5], 2048, 4096
    if frames > 1:
        ds.NumberOfFrames = frames
    rng = np.random.default_rng(rows * cols + frames)
    ds.PixelData = rng.integers(0, 4096, (frames, rows, cols), dtype=np.uint16).tobytes()
    return ds


def write_seeds(folder: Path) -> list[Path]:
    """Small valid films in several encodings, written with pydicom."""
    from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian, RLELossless

    folder.mkdir(parents=True, exist_ok=True)
    seeds = {"dx.dcm": _dataset(DX, 96, 64), "cr_mono1.dcm": _dataset(CR, 80, 64,
                                                                       photometric="MONOCHROME1"),
             "multiframe.dcm": _dataset(DX, 48, 32, frames=3), "ct.dcm": _dataset(CT, 32, 32)}
    seeds["ct.dcm"].RescaleSlope, seeds["ct.dcm"].RescaleIntercept = 1, -1024
    rle = _dataset(DX, 64, 48)
    rle.compress(RLELossless)
    seeds["rle.dcm"] = rle
    for name, syntax in (("implicit.dcm", ImplicitVRLittleEndian),
                         ("bigendian.dcm", ExplicitVRBigEndian)):
        ds = _dataset(DX, 40, 40)
        ds.file_meta.TransferSyntaxUID = syntax
        seeds[name] = ds
    paths = []
    for name, ds in seeds.items():
        big = ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
        ds.save_as(folder / name, enforce_file_format=True, little_endian=not big,
                   implicit_vr=ds.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian)
        paths.append(folder / name)
    return paths


def _is_dicomdir(path: Path) -> bool:
    import pydicom

    try:
        meta = pydicom.dcmread(path, stop_before_pixels=True, force=True).file_meta
        return str(meta.get("MediaStorageSOPClassUID", "")) == "1.2.840.10008.1.3.10"
    except Exception:
        return False


def corpus_seeds(rng: random.Random, limit: int, max_bytes: int = 1 << 20) -> list[Path]:
    """Up to ``limit`` small files of the shared DICOM corpus (none when it is absent).

    DICOMDIRs are left out: ``scan`` reads them as an index, not as files to account for.
    """
    if not CORPUS.is_dir():
        return []
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in
                   (".txt", ".tsv", ".md") and 0 < p.stat().st_size <= max_bytes)
    rng.shuffle(files)
    chosen = []
    for path in files:
        if len(chosen) >= limit:
            break
        if not _is_dicomdir(path):
            chosen.append(path)
    return chosen


# --- mutations -------------------------------------------------------------------------------

def _parse(data: bytes):
    import pydicom

    return pydicom.dcmread(io.BytesIO(data), force=True)


def _dump(ds) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def _edit(change: Callable) -> Callable[[bytes, random.Random], bytes]:
    """A header-level mutation: parse, change, write back (byte flip if the seed won't parse)."""
    def mutate(data: bytes, rng: random.Random) -> bytes:
        try:
            ds = _parse(data)
            change(ds, rng)
            return _dump(ds)
        except Exception:
            return flip_bytes(data, rng)
    mutate.__name__ = change.__name__
    return mutate


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, max(1, len(data)))]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 4, 32))):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def zero_length(data: bytes, rng: random.Random) -> bytes:
    return b""


def garbage_tail(data: bytes, rng: random.Random) -> bytes:
    return data + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))


def no_preamble(data: bytes, rng: random.Random) -> bytes:
    return data[132:] if data[128:132] == b"DICM" else data[rng.randrange(0, 16):]


# (group, element) of tags whose explicit-VR length field gets a wrong value
_LENGTH_TAGS = (b"\x28\x00\x10\x00", b"\x28\x00\x11\x00", b"\x10\x00\x10\x00",
                b"\x02\x00\x10\x00", b"\xe0\x7f\x10\x00", b"\x08\x00\x16\x00")


def wrong_length(data: bytes, rng: random.Random) -> bytes:
    """Overwrite an element's length field with a wrong (often huge) value."""
    out = bytearray(data)
    hits = [i for tag in _LENGTH_TAGS for i in [data.find(tag, 128)] if i > 0]
    if not hits:
        return flip_bytes(data, rng)
    at = rng.choice(hits) + 6  # tag (4) + VR (2): short length here, long one after 2 reserved
    value = rng.choice((0, 1, 3, 0xFFFF, 0x7FFF))
    out[at: at + 2] = value.to_bytes(2, "little")
    if data[at - 2: at] in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"OF"):
        out[at + 2: at + 6] = rng.choice((0xFFFFFFF0, 0x7FFFFFFF, 2, 1 << 30)).to_bytes(4, "little")
    return bytes(out)


def missing_pixels(ds, rng: random.Random) -> None:
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            del ds[keyword]


def absurd_dimensions(ds, rng: random.Random) -> None:
    ds.Rows, ds.Columns = rng.choice(((65535, 65535), (0, 0), (1, 1), (0, 512), (65535, 1),
                                      (30000, 30000), (20000, 50000)))


def huge_declared_size(ds, rng: random.Random) -> None:
    choice = rng.randrange(4)
    if choice == 0:
        ds.NumberOfFrames = rng.choice((2**31 - 1, 100000, 0, -5))
    elif choice == 1:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = rng.choice(((64, 64, 63), (1, 1, 0),
                                                                  (32, 40, 39), (0, 0, 0)))
    elif choice == 2:
        ds.SamplesPerPixel = rng.choice((3, 4, 0, 255))
    else:
        ds.Rows, ds.Columns, ds.NumberOfFrames = 40000, 40000, 40


def wrong_transfer_syntax(ds, rng: random.Random) -> None:
    ds.file_meta.TransferSyntaxUID = rng.choice((
        "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99", "1.2.3.4.5.6", ""))


def nonsense_values(ds, rng: random.Random) -> None:
    choice = rng.randrange(4)
    if choice == 0:
        ds.PixelSpacing = rng.choice((["-1", "0"], ["nan", "inf"], ["abc"], ["1e309", "1"]))
    elif choice == 1:
        ds.WindowCenter, ds.WindowWidth = rng.choice((("nan", "0"), ("1", "-5"), ("x", "y")))
    elif choice == 2:
        ds.RescaleSlope, ds.RescaleIntercept = rng.choice((("0", "0"), ("nan", "1"), ("1e308",
                                                                                      "1e308")))
    else:
        ds.PhotometricInterpretation = rng.choice(("PALETTE COLOR", "YBR_FULL", "RGB", "", "XYZ"))


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": truncate, "flip_bytes": flip_bytes, "zero_length": zero_length,
    "garbage_tail": garbage_tail, "no_preamble": no_preamble, "wrong_length": wrong_length,
    "missing_pixels": _edit(missing_pixels), "absurd_dimensions": _edit(absurd_dimensions),
    "huge_declared_size": _edit(huge_declared_size),
    "wrong_transfer_syntax": _edit(wrong_transfer_syntax),
    "nonsense_values": _edit(nonsense_values),
}


# --- the loader in a capped child ------------------------------------------------------------

def _limit_memory(megabytes: int) -> Callable[[], None]:
    def apply() -> None:
        import resource

        cap = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return apply


def child_main() -> None:
    """Child side: one JSON path per stdin line → one JSON [outcome, detail] per stdout line."""
    import warnings

    from vcfviewer.io.errors import LoadError
    from vcfviewer.io.loader import load_path_sync

    warnings.simplefilter("ignore")
    for line in sys.stdin:
        path = json.loads(line)
        try:
            image = load_path_sync(path)
            answer = [LOADED, type(image).__name__]
        except LoadError as err:
            clear = (err.reason and err.reason.isprintable() and len(err.reason) <= 300
                     and "Traceback" not in err.reason)
            answer = [ERROR if clear else UNCLEAR, err.reason[:600]]
        except BaseException as exc:  # exactly what this run looks for
            answer = [CRASH, f"{type(exc).__name__}: {exc}"[:300]]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


class LoaderChild:
    """A persistent child running ``child_main`` under a memory cap, asked one file at a time."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen | None = None
        self.buffer = b""

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, __file__, "--child"], cwd=REPO,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL,
                                         preexec_fn=_limit_memory(self.memory_mb))
            self.buffer = b""
        return self.proc

    def ask(self, path: Path, timeout_s: float) -> tuple[str, str]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write((json.dumps(str(path)) + "\n").encode())
            proc.stdin.flush()
        except OSError:
            self.close()
            return CRASH, "child unreachable"
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                self.close()
                return HANG, f"no answer within {timeout_s:.0f} s"
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                code = proc.wait()
                self.close()
                return CRASH, f"loader process died (status {code})"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        outcome, detail = json.loads(line)
        return outcome, detail

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        self.proc = None


# --- phases ----------------------------------------------------------------------------------

def make_mutant(seed: Path, name: str, rng: random.Random, out: Path, index: int) -> Path:
    """Write one mutant of ``seed`` made by mutation ``name``."""
    data = MUTATIONS[name](seed.read_bytes(), rng)
    path = out / f"{index:05d}_{name}.dcm"
    path.write_bytes(data)
    return path


def loader_phase(seeds: list[Path], work: Path, rng: random.Random, deadline: float,
                 args: argparse.Namespace) -> list[dict]:
    """Make and load mutants until ``deadline``; one record per input."""
    child, records, names = LoaderChild(args.memory_mb), [], list(MUTATIONS)
    try:
        index = 0
        while time.monotonic() < deadline and index < args.max_inputs:
            seed, name = seeds[index % len(seeds)], names[(index // len(seeds)) % len(names)]
            path = make_mutant(seed, name, rng, work, index)
            start = time.monotonic()
            outcome, detail = child.ask(path, args.timeout)
            records.append({"input": path.name, "seed": seed.name, "mutation": name,
                            "outcome": outcome, "detail": detail,
                            "seconds": round(time.monotonic() - start, 3)})
            index += 1
    finally:
        child.close()
    return records


def _capped_run(command: list[str], timeout_s: float, memory_mb: int,
                env: dict | None = None) -> tuple[str, int | None, str, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              cwd=REPO, env=env, preexec_fn=_limit_memory(memory_mb))
    except subprocess.TimeoutExpired:
        return HANG, None, "", ""
    return ("ok" if done.returncode >= 0 else CRASH), done.returncode, done.stdout, done.stderr


def scan_phase(folder: Path, args: argparse.Namespace, timeout_s: float) -> dict:
    """``vcfviewer scan --json`` over every mutant: each file is a series member or a problem."""
    state, code, out, err = _capped_run([sys.executable, "-m", "vcfviewer", "scan", str(folder),
                                         "--json", "--quiet"], timeout_s, args.memory_mb)
    result = {"outcome": state, "exit_status": code}
    if state != "ok" or code != 0:
        result.update(outcome=CRASH if state == "ok" else state, detail=err[-600:])
        return result
    doc = json.loads(out)
    seen = {Path(p["path"]).name for p in doc.get("problems", [])}
    for patient in doc.get("patients", []):
        for study in patient["studies"]:
            for series in study["series"]:
                seen.update(Path(f).name for f in series["files"])
    missing = sorted({p.name for p in folder.iterdir()} - seen)
    result.update(files=len(seen), problems=len(doc.get("problems", [])), unaccounted=missing)
    if missing:
        result["outcome"] = UNCLEAR
    return result


def _sample(folder: Path, records: list[dict], count: int, rng: random.Random) -> Path:
    """Copy up to ``count`` mutants (loadable ones first: they reach the model) to a folder."""
    target = folder.parent / "analyze-in"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    loaded = [r["input"] for r in records if r["outcome"] == LOADED]
    others = [r["input"] for r in records if r["outcome"] != LOADED]
    rng.shuffle(loaded)
    rng.shuffle(others)
    for name in (loaded[: count // 2] + others)[:count]:
        shutil.copy(folder / name, target / name)
    return target


def analyze_phase(folder: Path, records: list[dict], args: argparse.Namespace,
                  timeout_s: float, rng: random.Random) -> dict:
    """``vcfviewer analyze`` over a sample of mutants: every file is a study row or an error."""
    sample = _sample(folder, records, args.analyze_inputs, rng)
    out = folder.parent / "analyze-out"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "vcfviewer", "analyze", str(sample), "--out", str(out),
               "--workers", "0", "--json", "--quiet", "--device", "cpu"]
    state, code, stdout, err = _capped_run(command, timeout_s, args.analyze_memory_mb,
                                           env=os.environ | {"OMP_NUM_THREADS": "1"})
    result = {"outcome": state, "exit_status": code, "inputs": len(list(sample.iterdir()))}
    if state != "ok" or code not in (0, 1):
        result.update(outcome=CRASH if state == "ok" else state, detail=err[-600:])
        return result
    doc = json.loads(stdout)
    unexpected = [e for e in doc["errors"] if e["stage"] in ("worker", "model")]
    unclear = [e for e in doc["errors"] if not e["reason"] or not e["reason"].isprintable()]
    result.update(counts=doc["counts"], files_seen=doc["files_seen"],
                  files_accounted=doc["files_accounted"], unexpected=unexpected[:20],
                  unclear=unclear[:20])
    every_file = doc["files_accounted"] == doc["files_seen"] == result["inputs"]
    if unexpected or unclear or not every_file:
        result["outcome"] = UNCLEAR
    return result


# --- driver ----------------------------------------------------------------------------------

def _model_env(work: Path) -> str | None:
    """Use the shipped model; without one, an untrained toy model (the checks are about I/O)."""
    from vcfviewer.models.weights import WeightsError, verified_weights

    try:
        verified_weights()
        return None
    except WeightsError:
        from vcfviewer.training.trainer import TrainConfig, Trainer

        cfg = TrainConfig(out_dir=work / "model", work_dir=work / "model" / "w", film_size=64,
                          body_size=32, film_widths=(4, 8, 16), body_widths=(4, 8, 16),
                          quiet=True, threads=1)
        Trainer(cfg).export({"balanced": 0.5, "high_ppv": 0.8}, {}, {})
        return str(work / "model")


def summarise(records: list[dict], scan: dict | None, analyze: dict | None) -> dict:
    """The report: totals, outcomes per mutation, and every bad case."""
    by_mutation: dict[str, Counter] = {}
    for r in records:
        by_mutation.setdefault(r["mutation"], Counter())[r["outcome"]] += 1
    bad = [r for r in records if r["outcome"] not in GOOD]
    phases_ok = all(p is None or p["outcome"] == "ok" for p in (scan, analyze))
    return {"inputs": len(records), "outcomes": dict(Counter(r["outcome"] for r in records)),
            "by_mutation": {k: dict(v) for k, v in sorted(by_mutation.items())},
            "slowest_s": max((r["seconds"] for r in records), default=0.0),
            "bad": bad, "scan": scan, "analyze": analyze, "ok": not bad and phases_ok}


def _print(report: dict) -> None:
    print(f"inputs tried: {report['inputs']}  outcomes: {report['outcomes']}  "
          f"slowest load: {report['slowest_s']:.2f} s")
    for name, outcomes in report["by_mutation"].items():
        print(f"  {name:<22} {outcomes}")
    for case in report["bad"][:20]:
        print(f"  BAD {case['outcome']}: {case['input']} ({case['seed']}): {case['detail']}")
    for phase in ("scan", "analyze"):
        if report[phase] is not None:
            print(f"{phase}: {json.dumps(report[phase])[:400]}")
    print("robustness: OK" if report["ok"] else "robustness: PROBLEMS FOUND")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, required=True, help="total time budget")
    p.add_argument("--out", type=Path, required=True, help="JSON report")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="folder for mutants (default: temp)")
    p.add_argument("--timeout", type=float, default=20.0, help="per-file load timeout, s")
    p.add_argument("--memory-mb", type=int, default=2048, help="address-space cap per loader")
    p.add_argument("--analyze-memory-mb", type=int, default=8192, help="cap for analyze")
    p.add_argument("--corpus-seeds", type=int, default=40, help="shared-corpus files to mutate")
    p.add_argument("--analyze-inputs", type=int, default=24, help="mutants given to analyze")
    p.add_argument("--max-inputs", type=int, default=100000)
    p.add_argument("--no-analyze", action="store_true")
    return p


def run(args: argparse.Namespace) -> dict:
    """The whole run; returns the report (also written to ``args.out``)."""
    start, rng = time.monotonic(), random.Random(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="vcfviewer-robustness-"))
    mutants = work / "mutants"
    mutants.mkdir(parents=True, exist_ok=True)
    if not args.no_analyze and (model := _model_env(work)):
        os.environ["VCFVIEWER_MODELS"] = model
    seeds = write_seeds(work / "seeds") + corpus_seeds(rng, args.corpus_seeds)
    share = 0.55 if not args.no_analyze else 0.8
    records = loader_phase(seeds, mutants, rng, start + args.seconds * share, args)
    scan = scan_phase(mutants, args, max(30.0, args.seconds * 0.15))
    left = max(60.0, args.seconds - (time.monotonic() - start))
    analyze = None if args.no_analyze else analyze_phase(mutants, records, args, left, rng)
    report = summarise(records, scan, analyze) | {"seeds": len(seeds),
                                                  "seconds": round(time.monotonic() - start, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line entry: see the module docstring."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--child"]:
        child_main()
        return 0
    report = run(_parser().parse_args(argv))
    _print(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Export of a CT study: time per format, and dciodvfy errors/warnings of its SR and SEG.

    .venv/bin/python benchmarks/bench_export_ct.py [--nifti PATH] [--repeats 3] [--threads 2]
    .venv/bin/python benchmarks/bench_export_ct.py --synthetic 300   # 300 slices of 512 x 512

The real CT (``../shared/data/ct-example/example_ct.nii.gz``) is written as an axial DICOM CT
series into a temporary folder (the shipped DICOM example has no Study/Series UIDs, so nothing
could reference it), loaded back the way the viewer loads it, analysed with the CT model
(``registry.model_id_for("ct")``), then exported with ``export_study(..., volume=...)``.
``--synthetic N`` instead writes an N-slice 512 x 512 series (1 mm slices, 0.7 mm pixels) with 14
hand-placed bodies on 14 planes, to time the export of a full-size CT without the model.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ct-example"


def write_series(volume, folder: Path) -> None:
    """Every axial slice of ``volume`` as a CT Image Storage file (HU + 1024 as int16)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    from vcfviewer.core.reformat import voxel_to_patient

    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    direction = np.asarray(volume.direction, float)
    for k in range(volume.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Bench^Ct", "B1", "", "O"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.StudyID = "20240501", "100000", "", "1"
        ds.ReferringPhysicianName, ds.Manufacturer = "", "bench"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [float(v) for v in voxel_to_patient(volume, (k, 0, 0))]
        ds.ImageOrientationPatient = [float(v) for v in (*direction[:, 0], *direction[:, 1])]
        ds.PixelSpacing = [volume.spacing_mm[1], volume.spacing_mm[2]]
        ds.SliceThickness, ds.PositionReferenceIndicator = volume.spacing_mm[0], ""
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = volume.shape[1:]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.KVP, ds.AcquisitionNumber = -1024, 1, 120, 1
        hu = np.clip(np.rint(volume.voxels[k]) + 1024, -32768, 32767).astype(np.int16)
        ds.PixelData = hu.tobytes()
        ds.save_as(folder / f"ct{k:04d}.dcm", enforce_file_format=True)


def dciodvfy(path: Path) -> tuple[int, int, set[str]]:
    """(errors, warnings, distinct warning texts) of one file."""
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    lines = (result.stdout + result.stderr).splitlines()
    warnings = [x for x in lines if x.startswith("Warning")]
    return sum(x.startswith("Error") for x in lines), len(warnings), set(warnings)


def _export(volume, annotation, out: Path, formats) -> tuple[float, object]:
    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.io.export import export_study

    start = time.perf_counter()
    report = run_to_completion(export_study(volume, annotation, out, formats=formats,
                                            volume=volume))
    return time.perf_counter() - start, report


def synthetic(slices: int, folder: Path):
    """A full-size series written to ``folder`` and a hand-made annotation: (volume, annotation)."""
    from vcfviewer.core import reformat
    from vcfviewer.core.annotation import Provenance, StudyAnnotation, VertebraFinding, image_ref_for
    from vcfviewer.core.image import SourceRef, Volume, Window
    from vcfviewer.io.loader import load_path_sync

    voxels = np.full((slices, 512, 512), -1000, np.float32)
    voxels[:, 200:300, 150:350] = 300
    write_series(Volume(voxels, (1.0, 0.7, 0.7), (0.0, 0.0, 0.0), np.eye(3), Window(400, 1800),
                        SourceRef("synthetic")), folder)
    del voxels
    volume = load_path_sync(folder)
    plane = reformat.sagittal_plane(volume, 256)
    step = max(8, (plane.rows - 40) // 14)
    findings = tuple(
        VertebraFinding(level, [[200, top], [250, top], [300, top], [200, top + step - 5],
                                [250, top + step - 5], [300, top + step - 5]],
                        plane_index=240 + i)
        for i, (level, top) in enumerate(zip(
            [f"T{n}" for n in range(4, 13)] + [f"L{n}" for n in range(1, 6)],
            range(20, plane.rows, step))))
    image = image_ref_for(plane, plane_count=reformat.sagittal_count(volume))
    return volume, StudyAnnotation(image, findings, Provenance("bench"))


def _analysed(args: argparse.Namespace, folder: Path):
    """The real CT written as a series, loaded back and analysed: (volume, annotation)."""
    from vcfviewer.core.progress import run_to_completion
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.models.registry import model_id_for

    write_series(load_path_sync(args.nifti), folder)
    volume = load_path_sync(folder)
    analyzer = Analyzer(model_id=model_id_for("ct"), device="cpu")
    start = time.perf_counter()
    annotation = run_to_completion(analyzer.analyze_volume(volume)).annotation
    print(f"model {analyzer.model_id} {analyzer.model_version}; analysis "
          f"{time.perf_counter() - start:.2f} s")
    return volume, annotation


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nifti", type=Path, default=SHARED / "example_ct.nii.gz")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--synthetic", type=int, default=0, metavar="SLICES")
    args = p.parse_args()
    import resource

    import torch

    from vcfviewer.io.export import FORMATS

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-export-ct-") as tmp:
        series = Path(tmp) / "series"
        volume, annotation = (synthetic(args.synthetic, series) if args.synthetic
                              else _analysed(args, series))
        print(f"volume {volume.shape} {volume.spacing_mm} mm")
        print("bodies: " + ", ".join(f"{f.level}@{annotation.plane_of(f)}"
                                     for f in annotation.findings))
        totals = [_export(volume, annotation, Path(tmp) / f"all{i}", FORMATS)[0]
                  for i in range(args.repeats)]
        print(f"export_study, every format: median {statistics.median(totals):.3f} s "
              f"(runs {', '.join(f'{t:.3f}' for t in totals)})")
        for name in FORMATS:
            times = [_export(volume, annotation, Path(tmp) / f"{name}{i}", (name,))[0]
                     for i in range(args.repeats)]
            print(f"  {name:<13} {statistics.median(times):.3f} s")
        _, report = _export(volume, annotation, Path(tmp) / "check", ("sr", "seg"))
        print(report.summary())
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        if shutil.which("dciodvfy"):
            for name, path in report.written.items():
                errors, count, kinds = dciodvfy(path)
                print(f"dciodvfy {name}: {errors} errors, {count} warnings")
                for kind in sorted(kinds):
                    print(f"    {kind}")


if __name__ == "__main__":
    main()

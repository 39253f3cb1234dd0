"""Study discovery: a folder, DICOMDIR or single file → patients → studies → series, headers only.

No pixel data is decoded or kept: each DICOM file is read with ``stop_before_pixels`` (large
header values deferred) and reduced at once to a small record, so memory grows with the number of
files, not with their pixels. Files that are not images or cannot be read become
``FileProblem`` entries and never stop the scan. PNG/JPEG/TIFF files become one-image radiograph
series and NIfTI files one-file volumes, under a patient named "(no patient data)".
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vcfviewer.core.image import SpacingSource
from vcfviewer.core.progress import Job, Progress, run_to_completion
from vcfviewer.io import dicom_image as dicom
from vcfviewer.io.errors import LoadError, describe
from vcfviewer.io.raster import is_raster_path, raster_size
from vcfviewer.io.volume_loader import is_nifti_path

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

NO_PATIENT = "(no patient data)"
KIND_RADIOGRAPH, KIND_VOLUME, KIND_OTHER = "radiograph", "volume", "other"
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
VOLUME_MODALITIES = frozenset({"CT", "MR", "PT"})
# Enhanced / legacy-converted multi-frame objects that hold a whole stack in one file.
ENHANCED_VOLUME_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2.2",  # enhanced / legacy CT
    "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.4.4",  # enhanced / legacy MR
    "1.2.840.10008.5.1.4.1.1.128.1", "1.2.840.10008.5.1.4.1.1.130",  # legacy / enhanced PET
})
# SOP class families without a displayable image: SR and KO, PR, SEG/registration/raw data,
# waveforms, encapsulated documents, RT structure sets and plans, annotations.
OTHER_CLASS_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.11.", "1.2.840.10008.5.1.4.1.1.66",
    "1.2.840.10008.5.1.4.1.1.9.", "1.2.840.10008.5.1.4.1.1.104.", "1.2.840.10008.5.1.4.1.1.481.3",
    "1.2.840.10008.5.1.4.1.1.481.5", "1.2.840.10008.5.1.4.1.1.91.",
)
OTHER_MODALITIES = frozenset({"SR", "SEG", "PR", "KO", "RTSTRUCT", "RTPLAN", "RTRECORD", "REG",
                              "DOC", "ECG", "ANN", "FID", "RWV", "PLAN", "HD"})
# Header values larger than this are left on disk (private blobs, icons): the scan never needs
# them and memory stays flat. (specific_tags was measured slower than reading every raw element.)
_DEFER_BYTES = 64 * 1024
_PROGRESS_EVERY = 32


@dataclass(frozen=True)
class FileProblem:
    """A file the scan could not use, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class SeriesEntry:
    """One series as found on disk: what it is and which files hold it (sorted)."""

    series_uid: str
    modality: str
    description: str
    number: int | None
    files: tuple[str, ...]
    image_count: int
    spacing_source: str
    kind: str  # "radiograph" | "volume" | "other"
    rows: int | None = None
    columns: int | None = None
    frames: int = 1

    def __post_init__(self) -> None:
        if self.kind not in (KIND_RADIOGRAPH, KIND_VOLUME, KIND_OTHER):
            raise ValueError(f"unknown series kind {self.kind!r}")
        if not self.files:
            raise ValueError("a series needs at least one file")


@dataclass(frozen=True)
class StudyEntry:
    study_uid: str
    date: str
    description: str
    series: tuple[SeriesEntry, ...]


@dataclass(frozen=True)
class PatientEntry:
    patient_id: str
    patient_name: str
    studies: tuple[StudyEntry, ...]


@dataclass(frozen=True)
class ScanResult:
    """Everything a scan found, grouped patient → study → series, plus the files it could not use."""

    root: str
    patients: tuple[PatientEntry, ...]
    problems: tuple[FileProblem, ...]
    files_seen: int

    def all_series(self) -> tuple[SeriesEntry, ...]:
        """Every series of every study of every patient, in browser order."""
        return tuple(s for p in self.patients for st in p.studies for s in st.series)


@dataclass(slots=True)
class _Record:
    """What the scan keeps per image file (small: no pixels, no dataset)."""

    path: str
    patient: tuple[str, str]
    study: tuple[str, ...]
    study_info: tuple[str, str, str]  # uid, date, description
    series: tuple[Any, ...]
    series_info: tuple[str, str, str, int | None]  # uid, modality, description, number
    instance: int | None
    rows: int | None
    columns: int | None
    frames: int
    spacing_source: str
    kind: str  # per-file: "image", "other", "enhanced", "raster", "nifti"
    orientation: tuple[float, ...] | None = None
    has_position: bool = False
    localizer: bool = False


@dataclass
class _Tree:
    records: list[_Record] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    seen: int = 0


# Sidecars that sit beside studies (our own annotation JSON/CSV exports, ground truth, notes) are
# not images: listing each as "not a DICOM file" would bury the real problems.
SIDECAR_SUFFIXES = frozenset({".json", ".csv", ".tsv", ".txt", ".md", ".html", ".xml", ".pdf",
                              ".log", ".py"})


# The simulator's label map (synth.writer) is ground truth written beside its truth JSON; read
# as a film it would be analysed as one.
LABEL_MAP_SUFFIX = "_labels.png"


def _is_sidecar(path: str) -> bool:
    name = os.path.basename(path)
    if name.startswith(".") or os.path.splitext(name)[1].lower() in SIDECAR_SUFFIXES:
        return True
    return (name.endswith(LABEL_MAP_SUFFIX)
            and os.path.isfile(path[: -len(LABEL_MAP_SUFFIX)] + ".json"))


def _walk(root: str, problems: list[FileProblem]) -> Iterator[str]:
    """Files under ``root`` in a stable order; unreadable folders become problems."""
    def on_error(exc: OSError) -> None:
        problems.append(FileProblem(str(exc.filename or root), f"cannot list folder: "
                                                               f"{exc.strerror or exc}"))

    for folder, dirs, names in os.walk(root, onerror=on_error):
        dirs.sort()
        for name in sorted(names):
            yield os.path.join(folder, name)


# Tags of ASCII-only value representations (UI, CS, DA, DS, IS) read straight from the raw
# bytes: pydicom's per-element value conversion is half the cost of a scan otherwise.
_SOP_CLASS, _MODALITY, _STUDY_DATE, _IMAGE_TYPE = 0x00080016, 0x00080060, 0x00080020, 0x00080008
_STUDY_UID, _SERIES_UID, _SERIES_NUMBER = 0x0020000D, 0x0020000E, 0x00200011
_INSTANCE_NUMBER, _POSITION, _ORIENTATION = 0x00200013, 0x00200032, 0x00200037


def _ascii(ds: "Dataset", tag: int) -> str:
    """The value of an ASCII-only element as text ("" when absent), without pydicom conversion."""
    try:
        element = ds.get_item(tag)
    except Exception:  # absent, or a damaged element
        return ""
    value = getattr(element, "value", None)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("ascii", "replace").strip(" \x00")
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _int(value: Any) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _file_kind(ds: "Dataset", modality: str, frames: int) -> str:
    sop = _ascii(ds, _SOP_CLASS)
    if sop.startswith(OTHER_CLASS_PREFIXES) or modality.upper() in OTHER_MODALITIES:
        return "other"
    if "Rows" not in ds or "Columns" not in ds:
        return "other"
    if sop in ENHANCED_VOLUME_CLASSES and frames > 1:
        return "enhanced"
    return "image"


def _orientation(ds: "Dataset") -> tuple[float, ...] | None:
    text = _ascii(ds, _ORIENTATION)
    try:
        values = tuple(round(float(v), 3) for v in text.split("\\")) if text else ()
    except ValueError:
        return None
    return values if len(values) == 6 else None


def _spacing_source(ds: "Dataset", kind: str) -> str:
    if kind == "enhanced":  # spacing sits in the functional groups, not read by the scan
        return SpacingSource.PIXEL_SPACING.value
    if kind == "other":
        return SpacingSource.NONE.value
    return dicom.pixel_spacing(ds)[1].value


def _dicom_record(ds: "Dataset", path: str) -> _Record:
    """Reduce a header to the few facts the browser and the series grouping need."""
    patient = (dicom.header_text(ds, "PatientID"), dicom.header_text(ds, "PatientName"))
    study_uid, date, study_desc = (_ascii(ds, _STUDY_UID), _ascii(ds, _STUDY_DATE),
                                   dicom.header_text(ds, "StudyDescription"))
    folder = os.path.dirname(path)
    study_key = (study_uid,) if study_uid else ("", date, study_desc, folder)
    modality, series_desc = _ascii(ds, _MODALITY), dicom.header_text(ds, "SeriesDescription")
    series_uid, number = _ascii(ds, _SERIES_UID), _int(_ascii(ds, _SERIES_NUMBER))
    series_key = ((series_uid,) if series_uid else ("", folder, modality, number, series_desc))
    frames = dicom.number_of_frames(ds)
    kind = _file_kind(ds, modality, frames)
    return _Record(
        path=path, patient=patient, study=study_key, study_info=(study_uid, date, study_desc),
        series=study_key + series_key, series_info=(series_uid, modality, series_desc, number),
        instance=_int(_ascii(ds, _INSTANCE_NUMBER)), rows=_int(ds.get("Rows")),
        columns=_int(ds.get("Columns")), frames=frames,
        spacing_source=_spacing_source(ds, kind), kind=kind,
        orientation=_orientation(ds), has_position=bool(_ascii(ds, _POSITION)),
        localizer="LOCALIZER" in _ascii(ds, _IMAGE_TYPE).upper(),
    )


def _file_record(path: str, kind: str, rows: int, columns: int, frames: int) -> _Record:
    """Raster and NIfTI files: one series each, grouped by folder under "(no patient data)"."""
    folder = os.path.dirname(path)
    study = ("", "", "", folder)
    name = os.path.basename(path)
    spacing = SpacingSource.VOLUME.value if kind == "nifti" else SpacingSource.NONE.value
    return _Record(
        path=path, patient=("", NO_PATIENT), study=study,
        study_info=("", "", os.path.basename(folder) or folder), series=study + ("file", path),
        series_info=("", "", name, None), instance=None, rows=rows, columns=columns,
        frames=frames, spacing_source=spacing, kind=kind,
    )


def _nifti_record(path: str) -> _Record:
    import nibabel as nib

    try:
        shape = tuple(int(n) for n in nib.load(path).shape)
    except Exception as exc:  # nibabel raises ImageFileError, gzip and struct errors
        raise LoadError(path, f"not a readable NIfTI file: {describe(exc)}") from None
    if len(shape) < 3:
        raise LoadError(path, f"not a 3-D volume (shape {shape})")
    return _file_record(path, "nifti", shape[1], shape[0], shape[2])


def _examine(path: str, tree: _Tree) -> None:
    """Add one file to the tree as a record or a problem."""
    tree.seen += 1
    try:
        if is_raster_path(path):
            rows, columns, frames = raster_size(path)
            tree.records.append(_file_record(path, "raster", rows, columns, frames))
        elif is_nifti_path(path):
            tree.records.append(_nifti_record(path))
        else:
            _examine_dicom(path, tree)
    except LoadError as err:
        tree.problems.append(FileProblem(err.path, err.reason))
    except Exception as exc:  # belt and braces: one odd file never stops a scan
        tree.problems.append(FileProblem(path, f"unreadable file: {describe(exc)}"))


def _examine_dicom(path: str, tree: _Tree) -> None:
    if os.path.getsize(path) == 0:
        raise LoadError(path, "empty file")
    ds = dicom.read_dataset(path, stop_before_pixels=True, defer_size=_DEFER_BYTES)
    media_class = str(getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", ""))
    if media_class == DICOMDIR_SOP_CLASS or os.path.basename(path).upper() == "DICOMDIR":
        return  # an index of the folder we are scanning anyway
    if not any(k in ds for k in ("SOPClassUID", "Modality", "Rows", "PatientID",
                                 "StudyInstanceUID")):
        raise LoadError(path, "not a DICOM image or object (no identifying attributes)")
    tree.records.append(_dicom_record(ds, path))


def _dicomdir_files(path: str, problems: list[FileProblem]) -> list[str] | None:
    """Files referenced by a DICOMDIR, or None when it cannot be read (scan its folder then)."""
    try:
        ds = dicom.read_dataset(path)
        records = ds.DirectoryRecordSequence
    except (LoadError, AttributeError) as exc:
        reason = exc.reason if isinstance(exc, LoadError) else "DICOMDIR without directory records"
        problems.append(FileProblem(path, f"{reason}; scanning its folder instead"))
        return None
    root, files = os.path.dirname(path), []
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        target = os.path.join(root, *parts)
        if os.path.isfile(target):
            files.append(target)
        else:
            problems.append(FileProblem(target, "listed in the DICOMDIR but missing"))
    return files


def _is_dicomdir(path: str) -> bool:
    if os.path.basename(path).upper() == "DICOMDIR":
        return True
    try:
        ds = dicom.read_dataset(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except LoadError:
        return False
    return str(getattr(ds, "file_meta", {}).get("MediaStorageSOPClassUID", "")) == \
        DICOMDIR_SOP_CLASS


def _targets(root: str, tree: _Tree) -> list[str]:
    """The files to examine for ``root`` (folder, DICOMDIR or single file)."""
    if os.path.isdir(root):
        return list(_walk(root, tree.problems))
    if not os.path.exists(root):
        raise LoadError(root, "no such file or folder")
    if _is_dicomdir(root):
        listed = _dicomdir_files(root, tree.problems)
        if listed is not None:
            return listed
        return [p for p in _walk(os.path.dirname(root) or ".", tree.problems)
                if os.path.abspath(p) != os.path.abspath(root)]
    return [root]


def _series_kind(records: list[_Record]) -> str:
    """Volume: a CT/MR/PT stack with positions (or one enhanced file); other: no image at all."""
    first = records[0]
    if all(r.kind == "other" for r in records):
        return KIND_OTHER
    if first.kind == "nifti" or (len(records) == 1 and first.kind == "enhanced"):
        return KIND_VOLUME
    if first.series_info[1].upper() not in VOLUME_MODALITIES:
        return KIND_RADIOGRAPH
    stackable = [r for r in records if r.kind == "image" and r.frames == 1 and r.has_position
                 and r.orientation is not None and not r.localizer]
    return KIND_VOLUME if len(stackable) >= 2 else KIND_RADIOGRAPH


def _series_entry(records: list[_Record]) -> SeriesEntry:
    records = sorted(records, key=lambda r: (r.instance is None, r.instance or 0, r.path))
    first = records[0]
    kind = _series_kind(records)
    uid, modality, description, number = first.series_info
    spacing = SpacingSource.VOLUME.value if kind == KIND_VOLUME else first.spacing_source
    return SeriesEntry(
        series_uid=uid, modality=modality, description=description, number=number,
        files=tuple(r.path for r in records), image_count=sum(max(1, r.frames) for r in records),
        spacing_source=spacing, kind=kind, rows=first.rows, columns=first.columns,
        frames=first.frames,
    )


def _split_other(records: list[_Record]) -> list[list[_Record]]:
    """Non-image objects (SR, SEG...) sharing a series UID with images get their own entry."""
    images = [r for r in records if r.kind != "other"]
    others = [r for r in records if r.kind == "other"]
    return [part for part in (images, others) if part]


def _group(records: list[_Record]) -> tuple[PatientEntry, ...]:
    """Patient → study → series, each level in a stable, reader-friendly order."""
    tree: dict[tuple[str, str], dict[tuple[str, ...], dict[tuple[Any, ...], list[_Record]]]] = {}
    study_info: dict[tuple[str, ...], tuple[str, str, str]] = {}
    for record in records:
        studies = tree.setdefault(record.patient, {})
        studies.setdefault(record.study, {}).setdefault(record.series, []).append(record)
        study_info.setdefault(record.study, record.study_info)
    patients = []
    for (patient_id, name), studies in tree.items():
        entries = []
        for key, series in studies.items():
            uid, date, description = study_info[key]
            ordered = sorted((_series_entry(part) for rs in series.values()
                              for part in _split_other(rs)),
                             key=lambda s: (s.number is None, s.number or 0, s.description,
                                            s.files[0]))
            entries.append(StudyEntry(uid, date, description, tuple(ordered)))
        entries.sort(key=lambda st: (st.date, st.description, st.study_uid))
        patients.append(PatientEntry(patient_id, name, tuple(entries)))
    patients.sort(key=lambda p: (p.patient_name == NO_PATIENT, p.patient_name, p.patient_id))
    return tuple(patients)


def scan(path: str | os.PathLike[str]) -> Job[ScanResult]:
    """Job: discover patients/studies/series under ``path`` from headers only."""
    root = os.fspath(path)
    tree = _Tree()
    yield Progress("scan", math.nan, "finding files")
    targets = _targets(root, tree)
    for i, target in enumerate(targets):
        if _is_sidecar(target) and target != root:
            continue  # hidden files and text sidecars are not studies (a file named directly is)
        _examine(target, tree)
        if i % _PROGRESS_EVERY == 0:
            yield Progress("scan", i / max(1, len(targets)), f"scanned {i}/{len(targets)} files")
    yield Progress("scan", 1.0, f"scanned {len(targets)} files")
    return ScanResult(root=root, patients=_group(tree.records), problems=tuple(tree.problems),
                      files_seen=tree.seen)


def scan_sync(path: str | os.PathLike[str]) -> ScanResult:
    """Run ``scan`` to completion without progress reporting."""
    return run_to_completion(scan(path))

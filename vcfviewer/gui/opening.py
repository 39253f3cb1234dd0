"""What the reader asked to open, and the Open dialogs.

Everything (folders, DICOM files, DICOMDIRs, PNG/JPEG/TIFF pictures, NIfTI volumes) goes through
the discovery scan, so the browser always shows patient / study / series and one code path loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

FILE_FILTERS = ";;".join(
    (
        "All files (*)",  # DICOM files often have no extension at all
        "DICOM (*.dcm *.dicom *.ima DICOMDIR)",
        "Radiograph pictures (*.png *.jpg *.jpeg *.tif *.tiff)",
        "NIfTI volumes (*.nii *.nii.gz)",
    )
)


@dataclass(frozen=True)
class OpenRequest:
    """A checked path to scan, or ``error`` saying why it cannot be opened."""

    path: str
    error: str = ""


def classify_path(path: str) -> OpenRequest:
    """Decide how to open ``path``; a missing or unreadable path becomes a readable error."""
    if not path:
        return OpenRequest("", "No file or folder was given.")
    target = Path(path).expanduser()
    if not target.exists():
        return OpenRequest(str(target), f"{target} does not exist.")
    target = target.resolve()
    if not (target.is_dir() or target.is_file()):
        return OpenRequest(str(target), f"{target} is neither a file nor a folder.")
    if not os.access(target, os.R_OK):
        return OpenRequest(str(target), f"{target} cannot be read (permission denied).")
    return OpenRequest(str(target))


def open_folder_dialog(parent: QWidget, start: str) -> str:
    """Ask for a folder; empty string when the reader cancels."""
    return QFileDialog.getExistingDirectory(parent, "Open folder", start)


def open_file_dialog(parent: QWidget, start: str) -> str:
    """Ask for one file; empty string when the reader cancels."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open file", start, FILE_FILTERS)
    return path

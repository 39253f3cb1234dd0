"""Where a reviewed image's annotation is kept, and finding it again when the image reopens.

An export writes ``<stem>.annotation.json`` into the export folder (``io.export``); reopening the
same image looks there first and restores the corrected annotation instead of re-running the
model. The file is only taken when it names the same image (SOP Instance UID, else the resolved
path, plus size and CT plane), so two films that happen to share a file name never mix. For a CT
volume the whole-volume annotation is taken, or an older one-plane annotation of the same volume.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from vcfviewer import __version__
from vcfviewer.core.annotation import ImageRef, Provenance, StudyAnnotation
from vcfviewer.gui.autosave import same_image, same_volume

log = logging.getLogger(__name__)

JSON_SUFFIX = ".annotation.json"


def exported_json_path(ref: ImageRef, folder: str | Path) -> Path:
    """The annotation file an export of ``ref`` writes into ``folder``."""
    from vcfviewer.io.export import export_stem

    empty = StudyAnnotation(image=ref, findings=(), provenance=Provenance(__version__))
    return Path(folder) / f"{export_stem(empty)}{JSON_SUFFIX}"


def find_exported(ref: ImageRef, folder: str | Path | None) -> StudyAnnotation | None:
    """The exported annotation of ``ref`` in ``folder``, or None (missing, other image, damaged)."""
    from vcfviewer.io.annotation_json import AnnotationFileError, read_annotation

    if not folder:
        return None
    path = exported_json_path(ref, folder)
    if not path.is_file():
        return None
    try:
        annotation = read_annotation(path)
    except AnnotationFileError:
        log.warning("ignoring an unreadable exported annotation file")
        return None
    older_plane = (ref.plane_count is not None and annotation.image.plane_index is not None
                   and same_volume(annotation.image, ref))
    if not (same_image(annotation.image, ref) or older_plane):
        return None
    # The file may have been written from another path to the same image: point at this one.
    return replace(annotation, image=replace(annotation.image, path=ref.path))


def with_reader(annotation: StudyAnnotation, reader: str) -> StudyAnnotation:
    """``annotation`` naming ``reader`` in its provenance when it names nobody yet."""
    if not reader or annotation.provenance.reader:
        return annotation
    return replace(annotation, provenance=replace(annotation.provenance, reader=reader))

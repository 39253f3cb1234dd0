"""Atomic file writes: temp file in the same folder, fsync, ``os.replace`` (ARCHITECTURE rule 7).

A crash or error mid-write never leaves a half-written file and never destroys the previous one:
the target is only ever replaced by a complete, flushed file. Operating-system errors become
``ExportError(path, reason)`` with a reason a reader can act on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the folder is on a read-only file system",
    errno.EACCES: "no permission to write in this folder",
    errno.EPERM: "no permission to write in this folder",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "the path is a folder, not a file",
}


class ExportError(Exception):
    """A file could not be written; ``path`` names it and ``reason`` says why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def describe_os_error(exc: OSError) -> str:
    """A short human reason for an OSError (disk full, read-only folder, ...)."""
    reason = _REASONS.get(exc.errno or -1)
    detail = exc.strerror or exc.__class__.__name__
    return f"{reason} ({detail})" if reason else detail


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not every platform lets a folder be opened.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and moved onto ``path``.

    For libraries that insist on writing to a filename themselves (pydicom, PIL). On any error the
    temporary file is removed and the previous ``path`` is left untouched.
    """
    target = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                        dir=target.parent)
        os.close(fd)
        # mkstemp makes 0600 files; exports are meant to be read by others, like any saved file
        os.chmod(tmp_name, _mode_for(target))
    except OSError as exc:
        raise ExportError(target, describe_os_error(exc)) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise ExportError(target, describe_os_error(exc)) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_folder(target.parent)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
    return target


def write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8, newlines as given); returns the path."""
    return write_bytes(path, text.encode(encoding))


def ensure_folder(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` (and parents) or raise ExportError saying why it cannot be."""
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise ExportError(target, "exists and is not a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(target, describe_os_error(exc)) from None
    if not target.is_dir():
        raise ExportError(target, "exists and is not a folder")
    return target

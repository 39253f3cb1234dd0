"""Atomic writes under fault injection: full disk, read-only folder, a writer that fails."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from vcfviewer.io import atomic
from vcfviewer.io.atomic import ExportError


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_write_replaces_the_file_and_keeps_a_readable_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    atomic.write_text(target, "one")
    assert target.read_text() == "one" and (target.stat().st_mode & 0o777) == 0o644
    target.chmod(0o640)
    atomic.write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and (target.stat().st_mode & 0o777) == 0o640
    assert _leftovers(tmp_path) == []


def test_full_disk_gives_a_clear_error_and_keeps_the_previous_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "a.json"
    target.write_text("previous")

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(ExportError) as info:
        atomic.write_text(target, "new content")
    assert info.value.path == str(target) and "disk is full" in info.value.reason
    assert target.read_text() == "previous" and _leftovers(tmp_path) == []


def test_failure_at_fsync_through_atomic_path_keeps_the_previous_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "b.dcm"
    target.write_bytes(b"old")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(ExportError, match="disk is full"):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"new")  # a library writing by file name
    assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []


def test_a_failing_writer_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "c.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("encoder crashed")
    assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []


def test_read_only_folder_simulated(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(ExportError, match="no permission to write"):
        atomic.write_text(tmp_path / "x.csv", "a")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores folder permissions; the simulated test covers it")
def test_read_only_folder_real(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "x.csv").write_text("previous")
    folder.chmod(0o555)
    try:
        with pytest.raises(ExportError, match="no permission"):
            atomic.write_text(folder / "x.csv", "new")
        assert (folder / "x.csv").read_text() == "previous"
    finally:
        folder.chmod(0o755)


def test_missing_folder_and_folder_that_is_a_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        atomic.write_text(tmp_path / "absent" / "x.txt", "a")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError, match="not a folder"):
        atomic.ensure_folder(blocker / "sub")
    with pytest.raises(ExportError, match="not a folder"):
        atomic.ensure_folder(blocker)

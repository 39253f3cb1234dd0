"""Persisted viewer settings (QSettings, INI format) in one place.

Everything the viewer remembers goes through ``app_settings()``; tests point QSettings at a
temporary folder with ``QSettings.setPath`` so they never touch the user's file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "vcfviewer"
APPLICATION = "vcfviewer"
MAX_RECENT = 8

KEY_RECENT = "files/recent"
KEY_LAST_DIR = "files/last_dir"
KEY_GEOMETRY = "window/geometry"
KEY_STATE = "window/state"


def app_settings() -> QSettings:
    """The viewer's settings file (user scope, INI)."""
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def _as_list(value: object) -> list[str]:
    # QSettings returns a bare string for a one-item list and None for an empty one.
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[union-attr]


def recent_paths(settings: QSettings | None = None) -> list[str]:
    """Recently opened folders/files, newest first, without ones that have disappeared."""
    settings = settings or app_settings()
    return [p for p in _as_list(settings.value(KEY_RECENT)) if Path(p).exists()]


def add_recent_path(path: str, settings: QSettings | None = None) -> list[str]:
    """Put ``path`` first in the recent list (deduplicated, capped) and return the new list."""
    settings = settings or app_settings()
    resolved = str(Path(path).resolve())
    items = [resolved] + [p for p in _as_list(settings.value(KEY_RECENT)) if p != resolved]
    items = items[:MAX_RECENT]
    settings.setValue(KEY_RECENT, items)
    parent = resolved if Path(resolved).is_dir() else str(Path(resolved).parent)
    settings.setValue(KEY_LAST_DIR, parent)
    return items


def clear_recent_paths(settings: QSettings | None = None) -> None:
    """Forget the recent list."""
    (settings or app_settings()).remove(KEY_RECENT)


def last_directory(settings: QSettings | None = None) -> str:
    """Where the open dialogs start: the last folder used, else the home folder."""
    value = (settings or app_settings()).value(KEY_LAST_DIR)
    if isinstance(value, str) and Path(value).is_dir():
        return value
    return str(Path.home())

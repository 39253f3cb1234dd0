"""Undo/redo as a stack of immutable snapshots; one drag coalesces into one entry.

The annotation model is immutable and shares its numpy arrays between versions, so keeping whole
snapshots is cheap and makes undo exact: there is no inverse operation to get wrong.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Generic, TypeVar
from collections.abc import Hashable

T = TypeVar("T")

DEFAULT_LIMIT = 1000
_serials = itertools.count(1)


@dataclass(frozen=True)
class HistoryEntry(Generic[T]):
    """One state in the history and the label of the edit that produced it."""

    state: T
    label: str
    coalesce_key: Hashable | None = None
    serial: int = 0  # unique per entry, so "saved" survives coalescing and trimming


class History(Generic[T]):
    """A linear undo stack of states; a new push after undo discards the redo branch."""

    def __init__(self, initial: T, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("history limit must be at least 1")
        self._entries: list[HistoryEntry[T]] = [HistoryEntry(initial, "open", None, next(_serials))]
        self._index = 0
        self._limit = limit
        self._saved_serial: int | None = self._entries[0].serial
        self._may_coalesce = False

    @property
    def current(self) -> T:
        return self._entries[self._index].state

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._entries) - 1

    @property
    def undo_label(self) -> str | None:
        """Label of the edit that undo would revert (for "Undo move landmark")."""
        return self._entries[self._index].label if self.can_undo else None

    @property
    def redo_label(self) -> str | None:
        return self._entries[self._index + 1].label if self.can_redo else None

    @property
    def dirty(self) -> bool:
        """True when the current state is not the one last marked saved."""
        return self._entries[self._index].serial != self._saved_serial

    def __len__(self) -> int:
        return len(self._entries)

    def push(self, state: T, label: str, coalesce_key: Hashable | None = None) -> None:
        """Record ``state``; with the same non-None key as the previous push, replace that step."""
        top = self._entries[self._index]
        entry = HistoryEntry(state, label, coalesce_key, next(_serials))
        del self._entries[self._index + 1:]
        if coalesce_key is not None and self._may_coalesce and top.coalesce_key == coalesce_key:
            self._entries[self._index] = entry
        else:
            self._entries.append(entry)
            self._index += 1
            self._trim()
        self._may_coalesce = coalesce_key is not None

    def end_coalescing(self) -> None:
        """Close the running drag: the next push starts a new step even with the same key."""
        self._may_coalesce = False

    def undo(self) -> T:
        """Step back one entry and return its state (IndexError when there is nothing to undo)."""
        if not self.can_undo:
            raise IndexError("nothing to undo")
        self._index -= 1
        self._may_coalesce = False
        return self.current

    def redo(self) -> T:
        """Step forward one entry and return its state (IndexError when nothing to redo)."""
        if not self.can_redo:
            raise IndexError("nothing to redo")
        self._index += 1
        self._may_coalesce = False
        return self.current

    def mark_saved(self) -> None:
        self._saved_serial = self._entries[self._index].serial

    def _trim(self) -> None:
        excess = len(self._entries) - (self._limit + 1)
        if excess > 0:
            del self._entries[:excess]
            self._index -= excess

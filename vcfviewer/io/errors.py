"""The one error type the loaders raise for bad input: it names the file and says why."""

from __future__ import annotations

import os


class LoadError(Exception):
    """A file or folder that cannot be opened as an image, with a reason a reader can act on.

    ``str(error) == f"{path}: {reason}"``. Loaders wrap every library exception (pydicom, numpy,
    PIL, nibabel, MemoryError from absurd sizes) in this type so the GUI and CLI never show a
    raw traceback.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = readable(reason)
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Keeps the error picklable across processes (the isolated corpus probe sends it back).
        return (type(self), (self.path, self.reason))


def describe(exc: BaseException, limit: int = 200) -> str:
    """A short one-line description of a library exception, for use inside a LoadError reason."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def readable(text: str, limit: int = 300) -> str:
    """One printable line of at most ``limit`` characters.

    A damaged header can hand over kilobytes of raw bytes as an attribute value (an element
    length that swallows the rest of the file); a reason quoting it must stay readable.
    """
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

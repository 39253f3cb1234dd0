"""Detect a Qt binding that corrupts reference counts when signals are emitted.

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` on every ``Signal.emit``; after a
few thousand emissions (seconds of mouse movement) the interpreter aborts with "bool_dealloc:
deallocating True or False". 6.11.3 is fine; Python ≥ 3.12 (immortal ``True``) is not hurt.
The check measures the behaviour instead of trusting a version number.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

_PROBE_EMITS = 64


class _Probe(QObject):
    ping = Signal()


def emit_loses_references() -> bool:
    """True when emitting a signal leaks a decrement of ``True`` (the binding will crash)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    return lost >= _PROBE_EMITS // 2  # each emit lost one; unrelated churn is far smaller


def binding_warning() -> str:
    """A reader-facing warning when the installed PySide6 is unsafe, else ""."""
    if not emit_loses_references():
        return ""
    import PySide6

    return (
        f"The installed PySide6 {PySide6.__version__} has a known reference-counting bug on "
        f"Python {sys.version_info.major}.{sys.version_info.minor} that makes the viewer crash "
        "after a while. Install PySide6-Essentials 6.11.3: "
        "pip install 'PySide6-Essentials==6.11.3'."
    )

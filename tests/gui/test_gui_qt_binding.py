"""Guard against PySide6 builds that corrupt reference counts on every signal emission."""

from __future__ import annotations

import sys

import PySide6

from vcfviewer.gui.binding_check import binding_warning, emit_loses_references


def test_signal_emission_keeps_reference_counts(qapp) -> None:
    # PySide6 6.12.0 + Python 3.11 loses a reference to True per emit and aborts the interpreter
    # ("bool_dealloc") once the count reaches zero; pin PySide6-Essentials<6.12 if this fails.
    assert not emit_loses_references(), (
        f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} leaks a decref of True "
        "on every Signal.emit; install PySide6-Essentials==6.11.3"
    )
    assert binding_warning() == ""

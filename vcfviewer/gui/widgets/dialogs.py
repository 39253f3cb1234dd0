"""Help ▸ Keyboard shortcuts and Help ▸ About: small non-modal dialogs."""

from __future__ import annotations

import platform

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vcfviewer import __version__


class ShortcutsDialog(QDialog):
    """A table of (menu, action, shortcut) rows."""

    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Shortcut"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setShowGrid(False)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        mouse = QLabel(
            "Mouse: right-drag (or Ctrl+left-drag) = window/level (left/right: width, "
            "up/down: level) · wheel = zoom at cursor · middle- or left-drag = pan",
            self,
        )
        mouse.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(mouse)
        layout.addWidget(buttons)
        self.resize(560, 620)

    def row_count(self) -> int:
        return self.table.rowCount()


def about_text() -> str:
    """Versions of the viewer and the libraries it rests on (no patient data)."""
    import numpy
    import pydicom
    import pyqtgraph
    import PySide6

    return (
        f"<h3>vcfviewer {__version__}</h3>"
        "<p>Reading assistant for osteoporotic vertebral compression fractures.<br>"
        "Research software: not a medical device. Nothing is sent over the network.</p>"
        f"<p>Python {platform.python_version()} · PySide6 {PySide6.__version__} · "
        f"pyqtgraph {pyqtgraph.__version__} · numpy {numpy.__version__} · "
        f"pydicom {pydicom.__version__}</p>"
    )


class AboutDialog(QDialog):
    """Versions and the licence line; issue 6 adds the model card here."""

    def __init__(self, parent: QWidget | None = None, extra_html: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About vcfviewer")
        self.label = QLabel(about_text() + extra_html, self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
        self.resize(460, 220)

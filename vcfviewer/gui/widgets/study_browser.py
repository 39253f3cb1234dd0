"""The study browser: patient → study → series from a folder scan, and the files that failed.

Selecting a series (click, arrow keys, Enter) asks for it to be loaded; unreadable files sit
under a "Problems" node with their reason, so one broken file never hides the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

LOADABLE_KINDS = frozenset({"radiograph", "volume"})
ROLE_ENTRY = Qt.ItemDataRole.UserRole
ROLE_KIND = Qt.ItemDataRole.UserRole + 1  # "patient" | "study" | "series" | "problems" | "problem"
PROBLEMS_SHOWN_EXPANDED = 5
_COLUMNS = ("Patient / study / series", "Mod.", "Images")
_MUTED = QColor("#7d8590")
_PROBLEM = QColor("#f0a35e")


def _format_date(value: str) -> str:
    """DICOM DA (YYYYMMDD) as YYYY-MM-DD; anything else as it came."""
    text = (value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def _person_name(value: str) -> str:
    """DICOM PN components joined with spaces ("DOE^JANE" → "DOE JANE")."""
    return " ".join(part for part in str(value or "").split("^") if part).strip()


def series_caption(series: Any) -> str:
    """'#3 · LAT L-SPINE' style caption for a series entry."""
    number = getattr(series, "number", None)
    description = (getattr(series, "description", "") or "").strip() or "(no description)"
    return f"#{number} · {description}" if number not in (None, "") else description


class StudyBrowser(QTreeWidget):
    """Tree of a ``ScanResult`` with a Problems node; emits the series the reader picks."""

    series_selected = Signal(object)  # SeriesEntry of a radiograph or volume
    message = Signal(str)  # a short note for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studyBrowser")
        self.setColumnCount(len(_COLUMNS))
        self.setHeaderLabels(list(_COLUMNS))
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(False)
        self.setAnimated(False)
        self.setIndentation(14)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.headerItem().setToolTip(1, "Modality")
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self._problems_item: QTreeWidgetItem | None = None
        self.currentItemChanged.connect(self._on_self_current_item_changed)

    # ----------------------------------------------------------------- filling
    def set_scan(self, scan: Any) -> Any | None:
        """Show a ScanResult; returns the first loadable series (radiographs first) or None."""
        self.blockSignals(True)
        try:
            self.clear()
            self._problems_item = None
            for patient in scan.patients:
                item = self._patient_item(patient)
                self.addTopLevelItem(item)
                self._span_headings(item)
            for problem in scan.problems:
                self.add_problem(problem.path, problem.reason)
            self.expandAll()
            if self._problems_item is not None:
                # A few problems are worth seeing at once; a folder full of junk files should
                # not push the series out of sight (the count stays in the node's title).
                self._problems_item.setExpanded(
                    self._problems_item.childCount() <= PROBLEMS_SHOWN_EXPANDED)
        finally:
            self.blockSignals(False)
        return self.first_loadable()

    def _patient_item(self, patient: Any) -> QTreeWidgetItem:
        name = _person_name(patient.patient_name) or "(no name)"
        label = f"{name}  ·  {patient.patient_id}" if patient.patient_id else name
        item = QTreeWidgetItem([label, "", ""])
        item.setData(0, ROLE_KIND, "patient")
        item.setData(0, ROLE_ENTRY, patient)
        item.setToolTip(0, label)
        for study in patient.studies:
            item.addChild(self._study_item(study))
        return item

    @staticmethod
    def _span_headings(patient_item: QTreeWidgetItem) -> None:
        # Patient and study rows have no modality or count: give them the whole width.
        patient_item.setFirstColumnSpanned(True)
        for i in range(patient_item.childCount()):
            patient_item.child(i).setFirstColumnSpanned(True)

    def _study_item(self, study: Any) -> QTreeWidgetItem:
        description = (study.description or "").strip() or "(no study description)"
        date = _format_date(study.date)
        label = f"{description}  ·  {date}" if date else description
        item = QTreeWidgetItem([label, "", ""])
        item.setToolTip(0, label)
        item.setData(0, ROLE_KIND, "study")
        item.setData(0, ROLE_ENTRY, study)
        for series in study.series:
            item.addChild(self._series_item(series))
        return item

    def _series_item(self, series: Any) -> QTreeWidgetItem:
        count = getattr(series, "image_count", 0) or len(getattr(series, "files", ()) or ())
        item = QTreeWidgetItem([series_caption(series), series.modality or "—", str(count)])
        item.setData(0, ROLE_KIND, "series")
        item.setData(0, ROLE_ENTRY, series)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        spacing = getattr(series, "spacing_source", None)
        spacing_text = getattr(spacing, "value", spacing) or "none"
        tip = (f"{series_caption(series)}\n{series.kind} · {count} image(s) · "
               f"pixel spacing: {spacing_text}")
        if series.kind not in LOADABLE_KINDS:
            tip = f"Not an image series ({series.modality or 'unknown'}): nothing to display"
            for column in range(len(_COLUMNS)):
                item.setForeground(column, QBrush(_MUTED))
        for column in range(len(_COLUMNS)):
            item.setToolTip(column, tip)
        return item

    def add_problem(self, path: str, reason: str) -> QTreeWidgetItem:
        """List an unreadable file (or a series that failed to load) under Problems."""
        node = self._ensure_problems_item()
        name = Path(path).name or str(path)
        child = QTreeWidgetItem([f"{name} — {reason}", "", ""])
        child.setData(0, ROLE_KIND, "problem")
        child.setData(0, ROLE_ENTRY, (str(path), reason))
        child.setToolTip(0, f"{path}\n{reason}")
        child.setForeground(0, QBrush(_PROBLEM))
        node.addChild(child)
        child.setFirstColumnSpanned(True)
        node.setText(0, f"Problems ({node.childCount()})")
        return child

    def _ensure_problems_item(self) -> QTreeWidgetItem:
        if self._problems_item is None:
            self._problems_item = QTreeWidgetItem(["Problems", "", ""])
            self._problems_item.setData(0, ROLE_KIND, "problems")
            self._problems_item.setForeground(0, QBrush(_PROBLEM))
            self._problems_item.setToolTip(0, "Files that could not be read, with the reason")
            self.addTopLevelItem(self._problems_item)
            self._problems_item.setFirstColumnSpanned(True)
            self._problems_item.setExpanded(True)
        return self._problems_item

    # ----------------------------------------------------------------- queries
    def problems(self) -> list[tuple[str, str]]:
        """(path, reason) of every listed problem."""
        node = self._problems_item
        if node is None:
            return []
        return [tuple(node.child(i).data(0, ROLE_ENTRY)) for i in range(node.childCount())]

    def series_items(self) -> list[QTreeWidgetItem]:
        """Every series row, in display order."""
        found: list[QTreeWidgetItem] = []
        stack = [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        while stack:
            item = stack.pop(0)
            if item.data(0, ROLE_KIND) == "series":
                found.append(item)
            stack[0:0] = [item.child(i) for i in range(item.childCount())]
        return found

    def first_loadable(self) -> Any | None:
        """The first radiograph series, else the first volume, else None."""
        entries = [item.data(0, ROLE_ENTRY) for item in self.series_items()]
        for kind in ("radiograph", "volume"):
            for entry in entries:
                if entry.kind == kind:
                    return entry
        return None

    def select_series(self, series: Any) -> bool:
        """Make ``series`` current (which asks for it to be loaded); False if it is not listed."""
        for item in self.series_items():
            if item.data(0, ROLE_ENTRY) == series:
                self.setCurrentItem(item)
                return True
        return False

    def current_series(self) -> Any | None:
        item = self.currentItem()
        if item is not None and item.data(0, ROLE_KIND) == "series":
            return item.data(0, ROLE_ENTRY)
        return None

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_self_current_item_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is None:
            return
        kind = current.data(0, ROLE_KIND)
        if kind == "series":
            entry = current.data(0, ROLE_ENTRY)
            if entry.kind in LOADABLE_KINDS:
                self.series_selected.emit(entry)
            else:
                self.message.emit(f"{series_caption(entry)} is not an image series")
        elif kind == "problem":
            path, reason = current.data(0, ROLE_ENTRY)
            self.message.emit(f"{Path(path).name}: {reason}")

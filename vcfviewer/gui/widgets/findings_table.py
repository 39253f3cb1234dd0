"""The findings table: one row per body with its numbers, decided grade and the reader's marks.

Rows follow the annotation cranial → caudal. Fractured bodies are tinted with their grade's
colour, borderline grades are amber, a decided grade that differs from the measured one is
marked ≠, and unmeasurable bodies are greyed with the reason as tooltip. Cells that did not change
are left alone, so a landmark drag updates one row at mouse speed. On a CT a "Plane" column says
which sagittal plane each body is measured on (1-based, as the plane bar counts); the rows of the
plane on screen are marked ▸.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement
from vcfviewer.gui.review import formatting as fmt
from vcfviewer.io.key_image import GRADE_COLOURS

COLUMNS: tuple[tuple[str, str], ...] = (
    ("level", "Level"), ("plane", "Plane"), ("ha", "Ha"), ("hm", "Hm"), ("hp", "Hp"), ("wedge", "Ha/Hp"),
    ("biconcave", "Hm/Hp"), ("crush", "Hp/adj"), ("loss", "Loss"), ("vc", "VC"),
    ("grade", "Grade"), ("type", "Type"), ("p", "P(fx)"), ("edited", "✎"),
)
TIPS = {
    "ha": "Anterior height", "hm": "Middle height", "hp": "Posterior height",
    "wedge": "Wedge ratio Ha/Hp", "biconcave": "Biconcave ratio Hm/Hp",
    "crush": "Crush ratio: Hp / mean Hp of the adjacent (reference) bodies", "loss": "Height loss vs reference",
    "vc": "Vertebral compression vs neighbours (Seo 2021)",
    "grade": "Decided Genant grade; ? = borderline measurement; ≠ = differs from measured",
    "p": "Model's fracture probability (— once the reader decided)",
    "edited": "✎ changed by the reader, + added by the reader",
    "plane": "CT: the sagittal plane the body is measured on (▸ = the plane on screen)",
}
BORDERLINE_COLOUR = QColor("#ffb000")
MUTED_COLOUR = QColor("#7d8590")


def plane_cell(plane: int | None, current: int | None) -> str:
    """ "▸ 31" on the plane on screen, "31" elsewhere, "" off CT (planes count from 1)."""
    if plane is None:
        return ""
    return f"{'▸ ' if plane == current else ''}{plane + 1}"


def row_texts(finding: VertebraFinding, m: VertebraMeasurement | None,
              plane: str = "") -> tuple[str, ...]:
    """The texts of one row, in COLUMNS order (``plane``: the plane cell, see plane_cell)."""
    if finding.is_sacrum:
        return (finding.level, plane, *(fmt.DASH,) * 8, "", "", "", "")
    ok = m is not None and m.measurable
    grade = fmt.grade(finding, m) + (" ≠" if fmt.disagrees(finding, m) else "")
    edited = ("+" if finding.added_by_reader else "") + ("✎" if finding.reader_edited else "")
    values = (m.ha, m.hm, m.hp, m.wedge_ratio, m.biconcave_ratio, m.crush_ratio) if ok else (None,) * 6
    numbers = [fmt.height(v) for v in values[:3]] + [fmt.ratio(v) for v in values[3:]]
    loss = fmt.percent(m.height_loss) if ok else fmt.DASH
    vc = fmt.percent(m.vc) if ok else fmt.DASH
    return (finding.level, plane, *numbers, loss, vc, grade,
            fmt.fracture_type(finding.fracture_type),
            fmt.probability(finding.fracture_probability), edited)


class FindingsTable(QTableWidget):
    """Every body of the study; selecting a row announces ``finding_selected``."""

    finding_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("findingsTable")
        self._ids: list[str] = []
        self._texts: list[tuple[str, ...]] = []
        self._unit = "mm"
        self._set_headers("mm")
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        # Sized to contents when rows are rebuilt, not on every cell change: a drag step must not
        # re-measure the whole table.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.verticalHeader().setDefaultSectionSize(22)
        # Compact: thirteen columns must fit a side dock beside a tall lateral film.
        self.setStyleSheet("QTableWidget#findingsTable { font-size: 9pt; }"
                           " QTableWidget#findingsTable::item { padding: 0px 1px; }"
                           " QTableWidget#findingsTable QHeaderView::section"
                           " { padding: 3px 2px; font-size: 9pt; }")
        self.setColumnHidden([k for k, _ in COLUMNS].index("plane"), True)  # CT only
        self.itemSelectionChanged.connect(self._on_self_item_selection_changed)

    def _set_headers(self, unit: str) -> None:
        self._unit = unit
        for column, (key, title) in enumerate(COLUMNS):
            item = QTableWidgetItem(title)
            tip = TIPS.get(key, title)
            item.setToolTip(f"{tip} ({unit})" if key in ("ha", "hm", "hp") else tip)
            self.setHorizontalHeaderItem(column, item)

    @property
    def finding_ids(self) -> list[str]:
        """Finding ids in row order."""
        return list(self._ids)

    def cell_text(self, finding_id: str, key: str) -> str:
        """The text shown for ``finding_id`` in column ``key`` (e.g. "ha")."""
        column = [k for k, _ in COLUMNS].index(key)
        return self._texts[self._ids.index(finding_id)][column]

    def show_study(self, annotation: StudyAnnotation | None, ms: StudyMeasurements | None,
                   selected: str | None, current_plane: int | None = None) -> None:
        """Show ``annotation`` (None empties the table) and select ``selected``; on a CT,
        ``current_plane`` is the sagittal plane on screen."""
        self.blockSignals(True)
        try:
            self._fill(annotation, ms, current_plane)
            self.select_finding(selected)
        finally:
            self.blockSignals(False)

    def _fill(self, annotation: StudyAnnotation | None, ms: StudyMeasurements | None,
              current_plane: int | None = None) -> None:
        if annotation is None or ms is None:
            self.setRowCount(0)
            self._ids, self._texts = [], []
            return
        ct = annotation.image.is_reformat
        plane_column = [k for k, _ in COLUMNS].index("plane")
        if self.isColumnHidden(plane_column) == ct:
            self.setColumnHidden(plane_column, not ct)
        if ms.unit != self._unit:
            self._set_headers(ms.unit)
        ids = [f.finding_id for f in annotation.findings]
        rebuilt = ids != self._ids
        if rebuilt:
            self.setRowCount(len(ids))
            self._texts = [()] * len(ids)
            self._ids = ids
        for row, finding in enumerate(annotation.findings):
            m = ms.by_id.get(finding.finding_id)
            plane = plane_cell(annotation.plane_of(finding), current_plane) if ct else ""
            texts = row_texts(finding, m, plane)
            if texts != self._texts[row]:
                self._write_row(row, finding, m, texts)
                self._texts[row] = texts
        if rebuilt:
            self.resizeColumnsToContents()

    def _write_row(self, row: int, finding: VertebraFinding, m: VertebraMeasurement | None,
                   texts: tuple[str, ...]) -> None:
        background = _row_background(finding) or QBrush()
        for column, text in enumerate(texts):
            item = self.item(row, column)
            if item is None:
                item = QTableWidgetItem()
                key = COLUMNS[column][0]
                align = Qt.AlignmentFlag.AlignLeft if key in ("level", "type", "edited") else \
                    Qt.AlignmentFlag.AlignRight
                item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, column, item)
            item.setText(text)
            item.setBackground(background)
            _style_cell(item, COLUMNS[column][0], finding, m)

    def select_finding(self, finding_id: str | None) -> None:
        """Select the row of ``finding_id`` (None clears the selection) without announcing it."""
        blocked = self.blockSignals(True)
        try:
            if finding_id in self._ids:
                row = self._ids.index(finding_id)
                self.selectRow(row)
                self.scrollToItem(self.item(row, 0))
            else:
                self.clearSelection()
        finally:
            self.blockSignals(blocked)

    @Slot()
    def _on_self_item_selection_changed(self) -> None:
        rows = {index.row() for index in self.selectedIndexes()}
        if len(rows) == 1:
            row = rows.pop()
            if 0 <= row < len(self._ids):
                self.finding_selected.emit(self._ids[row])


def _row_background(finding: VertebraFinding) -> QBrush | None:
    if not finding.is_fractured:
        return None
    r, g, b = GRADE_COLOURS[int(finding.grade)]
    return QBrush(QColor(r, g, b, 70))


def _style_cell(item: QTableWidgetItem, key: str, finding: VertebraFinding,
                m: VertebraMeasurement | None) -> None:
    # Items are reused across updates: reset what an earlier state may have set.
    item.setForeground(QBrush())
    item.setToolTip("")
    font = QFont(item.font())
    font.setBold(False)
    item.setFont(font)
    if m is not None and not m.measurable and not finding.is_sacrum:
        item.setForeground(MUTED_COLOUR)
        item.setToolTip(f"Not measurable: {m.reason}")
        return
    if key == "level" or (key == "grade" and finding.is_fractured):
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
    if key in ("grade", "loss") and m is not None and m.borderline:
        item.setForeground(BORDERLINE_COLOUR)
        item.setToolTip("Borderline: height loss within 3 points of a grade cut-off")
    if key == "grade" and fmt.disagrees(finding, m):
        item.setForeground(BORDERLINE_COLOUR)
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
        item.setToolTip(f"Decided grade {int(finding.grade)}, measured grade "
                        f"{int(m.measured_grade)} ({fmt.percent(m.height_loss)} loss)")

"""The detail panel: every number of the selected body and the study's summary line.

Shows heights, the three ratios, the reference height and which neighbours set it, height loss,
VC and its neighbours, measured vs decided grade and type, borderline, the model's probability and
whether the reader changed the body; below, the study: SDI, fractures, level-count flags.
``values()`` returns the same texts as a dict, for tests and for copying.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from vcfviewer.core.annotation import StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement
from vcfviewer.gui.review import formatting as fmt
from vcfviewer.gui.review.actions import REVIEW_ACTIONS
from vcfviewer.gui.review.planes import planes_text
from vcfviewer.models.confidence import APART_MARK, EDGE_MARK, TALL_NOTE  # numpy, no torch
from vcfviewer.models.repeats import REPEAT_MARK  # no torch, no cv2
from vcfviewer.models.sacrum_top import NOTE_START as SACRUM_TOP_NOTE  # no torch

FLAG_COLOUR = "#ffb000"
KEY_COLOUR = "#9aa4ae"


def _decision(grade: int, ftype: str) -> str:
    words = f"{grade} {fmt.GRADE_WORDS[grade]}"
    return words if ftype == fmt.DASH else f"{words}, {ftype}"


def body_values(finding: VertebraFinding, m: VertebraMeasurement | None,
                plane: str | None = None) -> dict[str, str]:
    """Label → text for one body, in display order (``plane``: CT, where it is measured)."""
    out = {"Level": fmt.level_text(finding)}
    if plane:
        out["Plane"] = plane
    if finding.is_sacrum:
        out["Note"] = "sacrum: anchors the numbering, not measured"
        return out
    if m is None or not m.measurable:
        out["Not measurable"] = m.reason if m is not None else "no measurement"
    else:
        unit = m.unit
        out.update({
            "Ha": f"{fmt.height(m.ha)} {unit}", "Hm": f"{fmt.height(m.hm)} {unit}",
            "Hp": f"{fmt.height(m.hp)} {unit}",
            "Ha/Hp (wedge)": fmt.ratio(m.wedge_ratio),
            "Hm/Hp (biconcave)": fmt.ratio(m.biconcave_ratio),
            "Hp/neighbours (crush)": fmt.ratio(m.crush_ratio),
            "Reference height": f"{fmt.height(m.reference_height)} {unit} "
                                f"({fmt.neighbours(m.reference_levels)})",
            "Height loss": fmt.percent(m.height_loss) + (
                f" ({fmt.height(m.height_loss_mm)} mm)" if m.height_loss_mm is not None else ""),
            "VC": f"{fmt.percent(m.vc)} (vs {fmt.neighbours(m.vc_levels, 'no neighbour')})",
            "Measured": _decision(int(m.measured_grade), fmt.fracture_type(m.measured_type))
                        + (" — borderline" if m.borderline else ""),
        })
    out["Decided"] = _decision(int(finding.grade), fmt.fracture_type(finding.fracture_type))
    out["Probability"] = (fmt.probability(finding.fracture_probability)
                          if finding.fracture_probability is not None
                          else "— (decided by reader)" if finding.reader_edited else fmt.DASH)
    out["Reader"] = ("added by the reader" if finding.added_by_reader else
                     "changed by the reader" if finding.reader_edited else "as proposed")
    if finding.lookalikes:
        out["Look-alikes"] = ", ".join(sorted(x.value.replace("_", " ") for x in finding.lookalikes))
    return out


MODEL_NOTES = "Model notes"
_UNMEASURABLE = re.compile(r"^(\S+) not measurable: ")


# What the reader can do about a model note, in one keystroke; the keys come from the Review
# menu's own table so the hint cannot drift from the shortcut. Each pattern matches a note's start.
_KEYS = {spec.key: spec.shortcuts[0] for spec in REVIEW_ACTIONS if spec.shortcuts}
_NOTE_HINTS = tuple((re.compile(pattern), hint) for pattern, hint in (
    (r"lumbar count 6", f"{_KEYS['name_l6']} names an L6"),
    (r"L6 named", f"{_KEYS['renumber_up']} undoes it"),
    (r"lumbar count", f"{_KEYS['renumber_up']} / {_KEYS['renumber_down']} renumber the column"),
    (r"gap between", f"{_KEYS['add_body']} adds a missed body"),
    (re.escape(SACRUM_TOP_NOTE), f"{_KEYS['add_body']} adds a body, {_KEYS['renumber_up']} "
                                 "renumbers up"),
    (rf"\S+: {re.escape(REPEAT_MARK)}", f"{_KEYS['add_body']} adds a body, "
                                        f"{_KEYS['renumber_up']} renumbers up"),
    (TALL_NOTE.pattern, f"{_KEYS['add_body']} adds a missed body"),
    (rf"\S+ and \S+: {re.escape(APART_MARK)}", f"{_KEYS['delete_body']} deletes one, "
                                              f"{_KEYS['renumber_down']} renumbers down"),
    (rf"[^:]+: {re.escape(EDGE_MARK)}", f"{_KEYS['delete_body']} deletes a body that is cut "
                                        "off"),
    (r"facing uncertain", f"{_KEYS['analyse_other_way']} analyses it the other way round")))


def model_notes(flags: tuple[str, ...]) -> str:
    """The model's notes one per line, a numbering note with the action that settles it."""
    lines = []
    for note in flags:
        hint = next((h for pattern, h in _NOTE_HINTS if pattern.match(note)), None)
        lines.append(f"{note} [{hint}]" if hint else note)
    return "\n".join(lines) if lines else "none"


def summarise_flags(warnings: tuple[str, ...]) -> str:
    """Study flags one per line; per-body "not measurable" lines become one line of levels
    (each body's reason is in its own detail and the table's tooltip)."""
    levels = [m.group(1) for w in warnings if (m := _UNMEASURABLE.match(w))]
    lines = [w for w in warnings if not _UNMEASURABLE.match(w)]
    if levels:
        lines.append(f"not measurable: {', '.join(levels)}")
    return "\n".join(lines) if lines else "none"


def study_values(annotation: StudyAnnotation, ms: StudyMeasurements, model_text: str
                 ) -> dict[str, str]:
    """Label → text for the study summary."""
    prov = annotation.provenance
    status = (f"accepted by {prov.reader}" if prov.source == "reader" and prov.reader
              else "corrected, not yet accepted" if annotation.reader_edited else "as proposed")
    return {
        "SDI": f"{ms.sdi} (measured {ms.sdi_measured})",
        "Fractures": fmt.fractured_levels(annotation.findings, ms),
        "Flags": summarise_flags(ms.warnings),
        # What the model noted when it proposed (cut bodies left out, no sacrum found, a grade
        # the landmarks disagree with): kept as said, even after the reader's corrections.
        MODEL_NOTES: model_notes(annotation.flags),
        "Model": model_text or fmt.DASH,
        "Status": status,
    }


class _Form(QWidget):
    """A titled list of "label  value" rows in plain-text labels, updated in place (a drag step
    changes a few numbers; re-laying out rich text on every step would stall the drag)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        self.title.setObjectName("detailTitle")
        self.title.setStyleSheet("QLabel#detailTitle { font-weight: bold; font-size: 11pt; }")
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 2, 0, 0)
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(3)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.title)
        column.addLayout(self.form)
        self._keys: list[str] = []
        self._values: list[QLabel] = []

    def show_values(self, title: str, values: dict[str, str], flagged: set[str]) -> None:
        """Show ``values``; rows are rebuilt only when the set of labels changes."""
        self.title.setText(title)
        keys = list(values)
        if keys != self._keys:
            while self.form.rowCount():
                self.form.removeRow(0)
            self._values = []
            for key in keys:
                name = QLabel(key, self)
                name.setStyleSheet(f"color: {KEY_COLOUR};")
                value = QLabel(self)
                value.setWordWrap(True)
                value.setTextFormat(Qt.TextFormat.PlainText)
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.form.addRow(name, value)
                self._values.append(value)
            self._keys = keys
        for key, label in zip(keys, self._values, strict=True):
            if label.text() != values[key]:
                label.setText(values[key])
            style = f"color: {FLAG_COLOUR};" if key in flagged else ""
            if label.styleSheet() != style:
                label.setStyleSheet(style)


class DetailPanel(QScrollArea):
    """Numbers of the selected body and the study (see module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self.setWidgetResizable(True)
        inner = QWidget(self)
        self.hint = QLabel(inner)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(f"color: {KEY_COLOUR}; font-style: italic;")
        self.body_form = _Form(inner)
        self.study_form = _Form(inner)
        column = QVBoxLayout(inner)
        column.setContentsMargins(10, 8, 10, 8)
        column.addWidget(self.hint)
        column.addWidget(self.body_form)
        column.addSpacing(8)
        column.addWidget(self.study_form)
        column.addStretch(1)
        self.setWidget(inner)
        self._body: dict[str, str] = {}
        self._study: dict[str, str] = {}
        self.show_study(None, None, None)

    def values(self) -> dict[str, str]:
        """Everything on display: the body's fields, then the study's."""
        return {**self._body, **{f"Study {k}": v for k, v in self._study.items()}}

    def show_study(self, annotation: StudyAnnotation | None, ms: StudyMeasurements | None,
                   selected: str | None, model_text: str = "") -> None:
        """Show the selected body of ``annotation`` (a hint when none) and the study summary."""
        if annotation is None or ms is None:
            self._body, self._study = {}, {}
            self._set_hint("No findings yet. Open an image and analyse it (A).")
            self.body_form.hide()
            self.study_form.hide()
            return
        self._study = study_values(annotation, ms, model_text)
        flagged = ({"Flags"} if ms.warnings else set()) | ({MODEL_NOTES} if annotation.flags else set())
        self.study_form.show_values("Study", self._study, flagged)
        self.study_form.show()
        finding = next((f for f in annotation.findings if f.finding_id == selected), None)
        if finding is None:
            self._body = {}
            self._set_hint("Click a vertebra (or a row of the table) to see its numbers.")
            self.body_form.hide()
            return
        m = ms.by_id.get(finding.finding_id)
        self._body = body_values(finding, m, planes_text(annotation, finding))
        flagged = {"Measured"} if m is not None and m.borderline else set()
        if fmt.disagrees(finding, m):
            flagged.add("Decided")
        self._set_hint("")
        rows = {k: v for k, v in self._body.items() if k != "Level"}  # the title says it
        self.body_form.show_values(self._body["Level"], rows, flagged)
        self.body_form.show()

    def _set_hint(self, text: str) -> None:
        if self.hint.text() != text:
            self.hint.setText(text)
        self.hint.setVisible(bool(text))

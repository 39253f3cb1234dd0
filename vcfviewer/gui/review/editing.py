"""The reader's corrections, as commands of the review controller (a mixin, so the controller
module stays about wiring). Each goes through ``ReviewSession`` (one undo step, reader-edited mark);
an edit the annotation refuses becomes a message, never an exception in the GUI.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QInputDialog

from vcfviewer.core import levels as _levels
from vcfviewer.core.annotation import FractureType
from vcfviewer.core.session import EditError, ReviewSession
from vcfviewer.gui.review import geometry

TYPE_CYCLE = (FractureType.WEDGE, FractureType.BICONCAVE, FractureType.CRUSH)


class EditCommands:
    """Corrections of the selected body and the column; mixed into ``ReviewController``."""

    def edit(self, change: Callable[[ReviewSession], object]) -> bool:
        """Apply one edit; an edit the annotation refuses becomes a message. True when applied."""
        if self.session is None:
            self.window.show_status("Nothing to correct yet: analyse the image first (A)")
            return False
        try:
            change(self.session)
        except EditError as exc:
            self.window.show_error(str(exc), "warning")
            return False
        return True

    def _selected_or_say(self) -> str | None:
        if self.selected is None:
            self.window.show_status("Select a body first (click it, or N)")
        return self.selected

    def set_grade(self, grade: int) -> None:
        """Decide the selected body's grade (0 clears the fracture; T changes the type)."""
        fid = self._selected_or_say()
        if fid is None:
            return
        if grade == 0:
            self.edit(lambda s: s.clear_fracture(fid))
            return
        ftype = self._type_for(fid)
        if self.edit(lambda s: s.set_grade(fid, grade, ftype)):
            level = self.session.annotation.finding(fid).level
            self.window.show_status(f"{level}: grade {grade}, {ftype.value} (T changes the type)")

    def _type_for(self, finding_id: str) -> FractureType:
        """The type a newly graded body gets: its own, the measured one, else its lowest height's."""
        finding = self.session.annotation.finding(finding_id)
        if finding.fracture_type != FractureType.NONE:
            return finding.fracture_type
        m = self.session.measurements.by_id.get(finding_id)
        if m is not None and m.measured_type != FractureType.NONE:
            return m.measured_type
        by_height = {"anterior": FractureType.WEDGE, "middle": FractureType.BICONCAVE,
                     "posterior": FractureType.CRUSH}
        return by_height.get(getattr(m, "smallest_height", None) or "", FractureType.WEDGE)

    def cycle_type(self) -> None:
        """Wedge → biconcave → crush for the selected fractured body."""
        fid = self._selected_or_say()
        if fid is None:
            return
        finding = self.session.annotation.finding(fid)
        if not finding.is_fractured:
            self.window.show_status(f"{finding.level} is not called fractured; give a grade first")
            return
        index = TYPE_CYCLE.index(finding.fracture_type) if finding.fracture_type in TYPE_CYCLE else -1
        new_type = TYPE_CYCLE[(index + 1) % len(TYPE_CYCLE)]
        self.edit(lambda s: s.set_grade(fid, finding.grade, new_type))

    def relabel(self, level: str | None = None) -> None:
        """Rename the selected body's level (asks which when ``level`` is None)."""
        fid = self._selected_or_say()
        if fid is None:
            return
        current = self.session.annotation.finding(fid).level
        level = level or self.ask_level(f"New level for {current}", _level_choices(current))
        if level:
            self.edit(lambda s: s.relabel(fid, level))

    def renumber(self, steps: int) -> None:
        """Shift every level of the column by ``steps`` (positive = caudal)."""
        self.edit(lambda s: s.renumber_column(steps))

    def name_l6(self) -> None:
        """Transitional anatomy: the body above the sacrum is L6 (one step, undoable)."""
        if self.edit(lambda s: s.name_l6()):
            self.window.show_status("Transitional L6 named; every body above moved one level "
                                    "down (Ctrl+Z undoes)")

    def swap_facing(self) -> None:
        """The model read the patient's facing wrong: swap anterior and posterior everywhere."""
        if self.edit(lambda s: s.swap_anterior_posterior()):
            self.window.show_status("Anterior and posterior swapped on every body (Ctrl+Z undoes)")

    def delete_selected(self) -> None:
        """Remove the selected body."""
        fid = self._selected_or_say()
        if fid is not None:
            self.edit(lambda s: s.delete_finding(fid))

    def begin_add_body(self, level: str | None = None) -> None:
        """Start placing the six points of a missed body."""
        if self.session is None:
            self.window.show_status("Analyse the image first (A); then add missed bodies")
            return
        self.select(None)
        self.placing.start(level)
        self.update_actions()

    def add_body(self, points: np.ndarray, level: str | None = None) -> str | None:
        """Add a body with six ``points``; the level is suggested from its neighbours. On a CT
        the body is measured on the sagittal plane on screen."""
        if self.session is None:
            return None
        if level is None:
            centre_y = float(np.asarray(points, float)[:, 1].mean())
            suggestion = geometry.suggest_level(self.session.annotation, centre_y) or ""
            level = self.ask_level("Level of the new body", _level_choices(suggestion))
        if not level:
            return None
        plane = self.current_plane if self.session.annotation.image.is_reformat else None
        added: list[str] = []
        if self.edit(lambda s: added.append(s.add_finding(level, points, plane_index=plane))):
            self.select(added[0])
            return added[0]
        return None

    @Slot(object)
    def _on_placing_completed(self, points: np.ndarray) -> None:
        self.add_body(points, self.placing.level)
        self.update_actions()

    def accept_all(self) -> None:
        """Sign off every finding as the reader named in Preferences."""
        if not self.prefs.reader:
            self.window.show_error("Set your name in File ▸ Preferences before accepting "
                                   "the findings (it is recorded as the reader).", "warning")
            return
        if self.edit(lambda s: s.accept_all(self.prefs.reader)):
            self.window.show_status("All findings accepted")

    def undo(self) -> None:
        """Undo the last correction (or the last point while adding a body)."""
        if self.placing.take_back():
            return
        if self.session is not None and self.session.undo():
            self.window.show_status("Undone")

    def redo(self) -> None:
        """Redo the last undone correction."""
        if self.session is not None and self.session.redo():
            self.window.show_status("Redone")

    def cancel_tools(self) -> None:
        """Esc: stop placing a body."""
        if self.placing.active:
            self.placing.stop()
            self.window.show_status("Adding a body cancelled")
            self.update_actions()

    def _ask_level(self, title: str, choices: list[str]) -> str | None:
        level, ok = QInputDialog.getItem(self.window, "Level", title, choices, 0, True)
        return level.strip().upper() if ok and level.strip() else None


def _level_choices(first: str) -> list[str]:
    """Every level, ``first`` first (the suggestion or the current name)."""
    names = [n for n in _levels.ALL_LEVELS]
    if first in names:
        names.remove(first)
        names.insert(0, first)
    return names

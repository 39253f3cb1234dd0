"""Status-bar progress for background jobs: what runs, how far, and a Cancel button."""

from __future__ import annotations

import math

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from vcfviewer.core.progress import Progress
from vcfviewer.gui.workers import JobTask


class ProgressPanel(QWidget):
    """Shows the most recently started unfinished task; hidden when nothing runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("progressPanel")
        self.label = QLabel(self)
        self.label.setObjectName("progressLabel")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(160)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop this job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_current)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 6, 0)
        row.setSpacing(8)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        self._tasks: list[JobTask] = []
        self.hide()

    def track(self, task: JobTask) -> None:
        """Follow ``task`` until it finishes; the newest task is the one shown and cancelled."""
        self._tasks.append(task)
        task.progress.connect(self._on_task_progress)
        task.finished.connect(self._on_task_finished)
        self.label.setText(f"{task.label.capitalize()}…")
        self.bar.setRange(0, 0)  # busy until the first report says how far
        self.show()

    @property
    def current(self) -> JobTask | None:
        return self._tasks[-1] if self._tasks else None

    @Slot()
    def cancel_current(self) -> None:
        """Cancel the task on display."""
        if self._tasks:
            self._tasks[-1].cancel()
            self.label.setText("Cancelling…")  # the job stops at its next step

    @Slot(object)
    def _on_task_progress(self, report: Progress) -> None:
        if self.sender() is not self.current:
            return
        if report.message:
            self.label.setText(report.message)
        if math.isnan(report.fraction):
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(round(min(max(report.fraction, 0.0), 1.0) * 1000)))

    @Slot()
    def _on_task_finished(self) -> None:
        task = self.sender()
        self._tasks = [t for t in self._tasks if t is not task]
        if not self._tasks:
            self.hide()
        else:
            self.label.setText(f"{self._tasks[-1].label.capitalize()}…")

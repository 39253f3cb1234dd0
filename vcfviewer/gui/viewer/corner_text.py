"""Reading-room corner annotations (series, window, spacing, plane) laid over the image view.

Plain QLabels on top of the graphics view rather than scene items: they never scale, never
catch the mouse, and never end up in a key image export of the scene.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget

_MARGIN = 10

_ALIGN = {
    "top_left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
    "top_right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
    "bottom_left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
    "bottom_right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
}


class CornerText(QObject):
    """Four corner labels and a centred placeholder that follow the host widget's size."""

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self._host = host
        self.labels: dict[str, QLabel] = {}
        for name, align in _ALIGN.items():
            self.labels[name] = self._make_label("cornerText", align)
        self.placeholder = self._make_label(
            "viewPlaceholder", Qt.AlignmentFlag.AlignCenter
        )
        host.installEventFilter(self)
        self._place()

    def _make_label(self, object_name: str, align: Qt.AlignmentFlag) -> QLabel:
        label = QLabel(self._host)
        label.setObjectName(object_name)
        label.setAlignment(align)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.hide()
        return label

    def set_texts(self, top_left: str, top_right: str, bottom_left: str, bottom_right: str
                  ) -> None:
        """Set all four corners at once; an empty string hides that corner."""
        texts = {"top_left": top_left, "top_right": top_right,
                 "bottom_left": bottom_left, "bottom_right": bottom_right}
        for name, text in texts.items():
            label = self.labels[name]
            label.setText(text)
            label.setVisible(bool(text))
        self._place()

    def text(self, corner: str) -> str:
        """The text in one corner ("top_left", ...)."""
        return self.labels[corner].text()

    def set_placeholder(self, text: str) -> None:
        """A centred hint for the empty view; empty hides it."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text))
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        width, height = self._host.width(), self._host.height()
        for name, label in self.labels.items():
            label.adjustSize()
            x = _MARGIN if name.endswith("left") else width - label.width() - _MARGIN
            y = _MARGIN if name.startswith("top") else height - label.height() - _MARGIN
            label.move(max(x, 0), max(y, 0))
        self.placeholder.setGeometry(0, 0, width, height)

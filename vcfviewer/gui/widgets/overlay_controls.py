"""Display controls for the review overlays (above the findings table): colour scheme and mask
opacity."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from vcfviewer.gui.review.prefs import COLOUR_SCHEMES


class OverlayControls(QWidget):
    """"Colour bodies [By level ▾]  Mask opacity [slider]"; emits when the reader changes either."""

    scheme_changed = Signal(str)
    opacity_changed = Signal(float)

    def __init__(self, scheme: str, opacity: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overlayControls")
        self.scheme_box = QComboBox(self)
        self.scheme_box.setObjectName("colourScheme")
        self.scheme_box.setToolTip("Colour the bodies by level or by decided grade (C)")
        for key, text in COLOUR_SCHEMES.items():
            self.scheme_box.addItem(text, key)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setObjectName("maskOpacity")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setFixedWidth(110)
        self.opacity_slider.setToolTip("Body mask opacity ([ and ])")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 0, 6, 0)
        row.setSpacing(6)
        row.addWidget(QLabel("Colour bodies", self))
        row.addWidget(self.scheme_box)
        row.addSpacing(12)
        row.addWidget(QLabel("Mask opacity", self))
        row.addWidget(self.opacity_slider)
        row.addStretch(1)
        self.set_scheme(scheme)
        self.set_opacity(opacity)
        self.scheme_box.currentIndexChanged.connect(self._on_scheme_box_current_index_changed)
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_value_changed)

    @property
    def scheme(self) -> str:
        return str(self.scheme_box.currentData())

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def set_scheme(self, scheme: str) -> None:
        """Show ``scheme`` without announcing it."""
        blocked = self.scheme_box.blockSignals(True)
        self.scheme_box.setCurrentIndex(max(self.scheme_box.findData(scheme), 0))
        self.scheme_box.blockSignals(blocked)

    def set_opacity(self, opacity: float) -> None:
        """Show ``opacity`` (0..1) without announcing it."""
        blocked = self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(int(round(min(max(opacity, 0.0), 1.0) * 100)))
        self.opacity_slider.blockSignals(blocked)

    @Slot(int)
    def _on_scheme_box_current_index_changed(self, _index: int) -> None:
        self.scheme_changed.emit(self.scheme)

    @Slot(int)
    def _on_opacity_slider_value_changed(self, value: int) -> None:
        self.opacity_changed.emit(value / 100.0)

"""The review workflow's persisted preferences and the small Preferences dialog.

Everything goes through the main window's QSettings (``window.settings``), so tests that point
QSettings at a temporary folder never touch the reader's own file. The reader's name is a
preference (it goes into exports as provenance) but is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

KEY_AUTO_ANALYSE = "review/auto_analyse"
KEY_PRESET = "review/threshold_preset"
KEY_SCHEME = "review/colour_scheme"
KEY_EXPORT_DIR = "review/export_dir"
KEY_READER = "review/reader"
KEY_OPACITY = "review/mask_opacity"

THRESHOLD_PRESETS: dict[str, str] = {
    "balanced": "Balanced (sensitivity ≈ specificity)",
    "high_ppv": "High PPV (fewer false alarms)",
}
COLOUR_SCHEMES: dict[str, str] = {"level": "By level", "grade": "By grade"}


@dataclass(frozen=True)
class ReviewPrefs:
    """What the reader chose; ``export_dir`` "" means "not chosen yet"."""

    auto_analyse: bool = True
    threshold_preset: str = "balanced"
    colour_scheme: str = "level"
    export_dir: str = ""
    reader: str = ""
    mask_opacity: float = 0.35

    def __post_init__(self) -> None:
        if self.colour_scheme not in COLOUR_SCHEMES:
            raise ValueError(f"colour_scheme: unknown scheme {self.colour_scheme!r}")
        if not self.threshold_preset:
            raise ValueError("threshold_preset: empty")
        if not 0.0 <= self.mask_opacity <= 1.0:
            raise ValueError(f"mask_opacity: {self.mask_opacity} outside 0..1")


def _as_bool(value: object, default: bool) -> bool:
    # INI files hand booleans back as the strings "true"/"false".
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _as_float(value: object, default: float, low: float, high: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return min(max(number, low), high)


def load_prefs(settings: QSettings) -> ReviewPrefs:
    """Read the preferences, falling back to defaults for missing or damaged values."""
    defaults = ReviewPrefs()
    scheme = str(settings.value(KEY_SCHEME, defaults.colour_scheme))
    preset = str(settings.value(KEY_PRESET, defaults.threshold_preset) or defaults.threshold_preset)
    return ReviewPrefs(
        auto_analyse=_as_bool(settings.value(KEY_AUTO_ANALYSE), defaults.auto_analyse),
        threshold_preset=preset,
        colour_scheme=scheme if scheme in COLOUR_SCHEMES else defaults.colour_scheme,
        export_dir=str(settings.value(KEY_EXPORT_DIR, "") or ""),
        reader=str(settings.value(KEY_READER, "") or ""),
        mask_opacity=_as_float(settings.value(KEY_OPACITY), defaults.mask_opacity, 0.0, 1.0),
    )


def save_prefs(settings: QSettings, prefs: ReviewPrefs) -> None:
    """Write every preference (and flush, so a crash right after keeps them)."""
    settings.setValue(KEY_AUTO_ANALYSE, prefs.auto_analyse)
    settings.setValue(KEY_PRESET, prefs.threshold_preset)
    settings.setValue(KEY_SCHEME, prefs.colour_scheme)
    settings.setValue(KEY_EXPORT_DIR, prefs.export_dir)
    settings.setValue(KEY_READER, prefs.reader)
    settings.setValue(KEY_OPACITY, round(prefs.mask_opacity, 3))
    settings.sync()


class PreferencesDialog(QDialog):
    """Edit the review preferences; ``prefs()`` returns what the form holds."""

    def __init__(self, prefs: ReviewPrefs, presets: list[str], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle("Preferences")
        self._base = prefs
        self.auto_analyse = QCheckBox("Analyse each image as soon as it opens", self)
        self.auto_analyse.setChecked(prefs.auto_analyse)
        self.preset = QComboBox(self)
        for key in dict.fromkeys(presets + [prefs.threshold_preset]):
            self.preset.addItem(THRESHOLD_PRESETS.get(key, key), key)
        self.preset.setCurrentIndex(max(self.preset.findData(prefs.threshold_preset), 0))
        self.scheme = QComboBox(self)
        for key, text in COLOUR_SCHEMES.items():
            self.scheme.addItem(text, key)
        self.scheme.setCurrentIndex(max(self.scheme.findData(prefs.colour_scheme), 0))
        self.reader = QLineEdit(prefs.reader, self)
        self.reader.setPlaceholderText("Name recorded in exports as the reader")
        self.export_dir = QLineEdit(prefs.export_dir, self)
        self.export_dir.setPlaceholderText("Asked at the first export")
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._choose_export_dir)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.export_dir, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("", self.auto_analyse)
        form.addRow("Fracture threshold", self.preset)
        form.addRow("Colour bodies", self.scheme)
        form.addRow("Reader", self.reader)
        form.addRow("Export folder", folder_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(520, 0)

    def _choose_export_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export folder", self.export_dir.text())
        if path:
            self.export_dir.setText(path)

    def prefs(self) -> ReviewPrefs:
        """The preferences as the form shows them."""
        return replace(
            self._base,
            auto_analyse=self.auto_analyse.isChecked(),
            threshold_preset=str(self.preset.currentData()),
            colour_scheme=str(self.scheme.currentData()),
            reader=self.reader.text().strip(),
            export_dir=self.export_dir.text().strip(),
        )

"""Start-up of the viewer: the QApplication, theme, pyqtgraph configuration and the main window."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from vcfviewer import __version__
from vcfviewer.gui import settings as app_settings_mod
from vcfviewer.gui.binding_check import binding_warning
from vcfviewer.gui.style import apply_theme
from vcfviewer.gui.viewer.pg_setup import configure_pyqtgraph


def create_application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication (reused if it exists), named, themed, pyqtgraph configured."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(app_settings_mod.ORGANIZATION)
    app.setApplicationName(app_settings_mod.APPLICATION)
    app.setApplicationVersion(__version__)
    configure_pyqtgraph()
    apply_theme(app)
    return app  # type: ignore[return-value]


def run_gui(path: str | None, sample: bool, auto_analyse: bool) -> int:
    """Open the viewer (on ``path`` or the sample study) and run until it is closed."""
    app = create_application()
    from vcfviewer.gui.main_window import MainWindow  # after pyqtgraph is configured

    from vcfviewer.gui.review import install_review

    window = MainWindow(auto_analyse=auto_analyse)
    install_review(window)
    window.show()
    warning = binding_warning()
    if warning:
        window.show_error(warning, "warning")
    if sample:
        QTimer.singleShot(0, window.open_sample)
    elif path:
        QTimer.singleShot(0, lambda: window.open_path(path))
    return int(app.exec())

"""Starting the Qt application: `dovecote`, `dovecote gui [FOLDER]` and `make run` come here."""
from __future__ import annotations

import argparse
import sys


def create_window(args: argparse.Namespace):
    """The main window, themed, with args.folder (if given) opened as the project."""
    from PySide6.QtWidgets import QApplication

    from desktop.widgets.icons import app_icon
    from desktop.window.main_window import MainWindow
    from desktop.project.settings import AppSettings
    from desktop.widgets.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Dovecote")
    app.setOrganizationName("Dovecote")
    app.setDesktopFileName("dovecote")
    app.setWindowIcon(app_icon())
    settings = AppSettings()
    apply_theme(app, settings.theme())
    window = MainWindow(settings)
    window.show()
    folder = getattr(args, "folder", None)
    if folder:
        window.opener.open(folder)
    view = getattr(args, "view", None)
    if view:
        window.show_view(view)
    return window


def run_app(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    window = create_window(args)
    code = QApplication.instance().exec()
    del window
    return code

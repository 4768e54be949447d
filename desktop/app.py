"""Starting the Qt application: `dovecote`, `dovecote gui [FOLDER]` and `make run` come here."""
from __future__ import annotations

import argparse
import gc
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
    _freeze_startup_heap()
    folder = getattr(args, "folder", None)
    if folder:
        window.opener.open(folder)
    view = getattr(args, "view", None)
    if view:
        window.show_view(view)
    return window


def _freeze_startup_heap() -> None:
    """What was imported and built by now lives as long as the app: it is moved out of the garbage collector's
    sight, so a full collection walks only what came since. Measured during a 10,000-image import
    (benchmarks/bench_gui_import.py): full collections of ~200,000 such objects found nothing and froze the
    window 100-900 ms each, ~15 times; frozen, they take a few milliseconds."""
    gc.collect()
    gc.freeze()


def run_app(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    window = create_window(args)
    code = QApplication.instance().exec()
    del window
    return code

"""Starting the Qt application."""
from __future__ import annotations

import argparse
import sys


def run_app(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Dovecote")
    window = QLabel("Open a folder of images to start.")
    window.setWindowTitle("Dovecote")
    window.resize(900, 600)
    window.show()
    return app.exec()

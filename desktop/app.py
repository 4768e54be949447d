"""Starting the Qt application: `dovecote`, `dovecote gui [FOLDER]` and `make run` come here."""
from __future__ import annotations

import argparse
import gc
import os
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

    from desktop.window.file_manager_offer import offer_file_manager_entries

    window = create_window(args)
    offer = offer_file_manager_entries(window, window.settings)  # noqa: F841 - kept while it is shown
    code = QApplication.instance().exec()
    del window
    return code


def qt_selftest() -> str:
    """The window's part of `dovecote --selftest`, without a display: Qt starts (offscreen), draws the app's
    icon from the bundled resources, and on Linux the X11 and Wayland platform plugins' libraries all load
    (a bundle built without the xcb libraries would start here and fail on a user's screen) wherever they are
    needed: in a bundle, or where there is a screen."""
    import ctypes
    from pathlib import Path

    from PySide6.QtCore import QCoreApplication, QLibraryInfo, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    from desktop.widgets.icons import resources_dir

    program = sys.argv[0] if sys.argv else "dovecote"
    app = QGuiApplication.instance() or QGuiApplication([program, "-platform", "offscreen"])
    renderer = QSvgRenderer(str(resources_dir() / "icons" / "dovecote.svg"))
    image = QImage(64, 64, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    if not renderer.isValid() or image.pixelColor(32, 32).alpha() == 0:
        raise RuntimeError(f"the app icon in {resources_dir()} did not draw")
    found = [f"Qt {QLibraryInfo.version().toString()} on {app.platformName()}"]
    if sys.platform.startswith("linux"):
        folders = [Path(p) / "platforms" for p in QCoreApplication.libraryPaths()]
        for plugin in ("libqxcb.so", "libqwayland.so"):
            path = next((f / plugin for f in folders if (f / plugin).is_file()), None)
            if path is None:
                if plugin == "libqxcb.so":  # Wayland sessions fall back to X11: the X11 plugin must be there
                    raise RuntimeError(f"Qt's {plugin} is not in {', '.join(map(str, folders))}")
                continue
            try:
                ctypes.CDLL(str(path))  # loads the libraries it needs, or names the one that is missing
            except OSError as error:
                if _platform_plugins_needed():
                    raise RuntimeError(f"Qt's {plugin} cannot load: {error}") from None
                found.append(f"{plugin} cannot load ({error}), unneeded without a screen")
            else:
                found.append(f"{plugin} loads")
    return ", ".join(found)


def _platform_plugins_needed() -> bool:
    """A bundled app must carry every library its screen plugins load; run from source, they come from the
    system's packages, which a machine without a screen (a server, a CI runner) need not have."""
    return bool(getattr(sys, "frozen", False) or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))

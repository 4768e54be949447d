"""Desktop fixtures: an isolated settings file for every test, a main window, and folders to open."""
from __future__ import annotations

from pathlib import Path

import pytest
from imagegen import class_folder
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktop.project import opener as project_opener


@pytest.fixture(autouse=True)
def _isolated_settings(qt_settings):
    return qt_settings


@pytest.fixture(autouse=True)
def _no_prewarmed_worker(monkeypatch):
    """No window starts a worker importing torch ahead of need (seconds of CPU in every test); the tests of
    that turn it back on."""
    from desktop.project import training

    monkeypatch.setattr(training, "PREWARM_AFTER_MS", None)


@pytest.fixture
def window(qtbot):
    from desktop.window.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    return win


@pytest.fixture
def folder(tmp_path) -> Path:
    """cats/0..3.png, dogs/0..3.png and one file that is not an image."""
    root = class_folder(tmp_path / "photos", per_class=4)
    (root / "broken.jpg").write_text("not a picture")
    return root


@pytest.fixture
def open_folder(qtbot, monkeypatch):
    """open_folder(win, path, subfolders_as_classes=False): open `path` and wait for its import to finish."""

    def open_and_wait(win, path: Path, subfolders_as_classes: bool = False) -> None:
        monkeypatch.setattr(project_opener, "ask_subfolder_classes", lambda *_args: subfolders_as_classes)
        with qtbot.waitSignal(win.importer.finished, timeout=20_000):
            assert win.opener.open(path)

    return open_and_wait


@pytest.fixture
def drop():
    """drop(widget, point, mime): a drag entering `widget` and dropping `mime` at `point`."""

    def send(widget, point: QPoint, mime: QMimeData) -> bool:
        actions = Qt.DropAction.CopyAction
        buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        for kind in (QDragEnterEvent, QDragMoveEvent):
            QApplication.sendEvent(widget, kind(point, actions, mime, buttons, modifiers))
        event = QDropEvent(QPointF(point), actions, mime, buttons, modifiers)
        QApplication.sendEvent(widget, event)
        return event.isAccepted()

    return send

"""Opening a folder: from the command line, a drop, the menu; what the window shows before and after."""
from __future__ import annotations

import argparse
import subprocess
import sys

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl

from desktop.project import opener as project_opener
from desktop.gallery.model import ERROR_ROLE, STATUS_ROLE
from desktop.window.main_window import MainWindow


def test_a_new_window_tells_the_user_what_to_do(window):
    assert window.pages.currentWidget() is window.empty_state
    assert window.windowTitle() == "Dovecote"
    assert window.empty_state.title.text() == "Open a folder of images to start"


def test_opening_a_folder_shows_its_images_classes_and_counts(qtbot, window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    assert window.pages.currentWidget() is window.views
    assert window.windowTitle() == "photos — Dovecote"
    assert window.model.rowCount() == 9
    assert {c.name: c.count for c in window.context.classes} == {"cats": 4, "dogs": 4}
    qtbot.waitUntil(lambda: "9 images" in window.status.counts.text())
    assert "8 labelled" in window.status.counts.text() and "1 unreadable" in window.status.counts.text()
    broken = next(window.model.index(r) for r in range(9) if window.model.index(r).data(STATUS_ROLE) == "unreadable")
    assert "not an image" in broken.data(ERROR_ROLE)
    assert "Unreadable: not an image" in broken.data(Qt.ItemDataRole.ToolTipRole)  # the tooltip says why


def test_the_command_line_folder_is_opened(qtbot, folder, monkeypatch):
    from desktop.app import create_window

    monkeypatch.setattr(project_opener, "ask_subfolder_classes", lambda *_args: False)
    win = create_window(argparse.Namespace(folder=str(folder)))
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not win.importer.running, timeout=20_000)
    assert win.context.project.root == folder.resolve()
    assert win.model.rowCount() == 9 and "photos" in win.windowTitle()


def test_dropping_a_folder_on_the_window_opens_it(qtbot, window, folder, drop, monkeypatch):
    monkeypatch.setattr(project_opener, "ask_subfolder_classes", lambda *_args: False)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    with qtbot.waitSignal(window.importer.finished, timeout=20_000):
        assert drop(window.empty_state, QPoint(50, 50), mime)
    assert window.context.project.root == folder.resolve()
    assert window.model.rowCount() == 9


def test_a_folder_that_cannot_be_opened_gets_a_message(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(project_opener, "show_error", lambda _parent, title, message: shown.append(message))
    assert not window.opener.open(tmp_path / "no such folder")
    assert shown and "is not a folder" in shown[0]
    assert window.pages.currentWidget() is window.empty_state


def test_an_import_can_be_cancelled_from_the_status_bar(qtbot, window, folder, monkeypatch):
    monkeypatch.setattr(project_opener, "ask_subfolder_classes", lambda *_args: False)
    with qtbot.waitSignal(window.importer.finished, timeout=20_000) as finished:
        window.opener.open(folder)
        assert window.status.cancel.isVisible()
        window.status.cancel.click()
    assert finished.args == [None]
    assert "Import stopped" in window.status.currentMessage()
    qtbot.waitUntil(lambda: not window.status.cancel.isVisible())


def test_recent_projects_and_layout_are_remembered(qtbot, window, open_folder, folder):
    open_folder(window, folder)
    window.filter_bar.zoom.setValue(200)
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert [a.text() for a in again.menus.recent.actions()] == [str(folder.resolve())]
    assert again.grid.thumb_side == 200


def test_the_window_starts_without_torch():
    code = "import sys, desktop.app, desktop.window.main_window; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

"""Opening a folder as the project: from the menu, a drop, a recent project or the command line. Shows
what the store has at once and rescans in the background; problems become a message saying what to do."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.errors import DovecoteError
from core.project import STORE_NAME
from core.storage import gallery
from desktop.project.import_controller import ImportController
from desktop.project.context import ProjectContext
from desktop.project.settings import AppSettings
from desktop.widgets.error_dialog import show_error


class ProjectOpener(QObject):
    recent_changed = Signal(list)  # folders, newest first

    def __init__(self, context: ProjectContext, importer: ImportController, settings: AppSettings,
                 window: QWidget):
        super().__init__(window)
        self._context = context
        self._importer = importer
        self._settings = settings
        self._window = window

    def choose(self) -> None:
        start = str(self._context.project.root.parent) if self._context.project else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self._window, "Open a Folder of Images", start)
        if folder:
            self.open(folder)

    def open(self, folder: str | os.PathLike) -> bool:
        # Asked before anything changes on screen: the answer decides how the new store is filled.
        from_subfolders = self._new_project_with_subfolders(Path(folder))
        try:
            project = self._context.open(folder)
        except DovecoteError as error:
            show_error(self._window, "Cannot open this folder", str(error))
            if str(folder) in self._settings.recent_projects():
                self._settings.remove_recent(str(folder))
                self.recent_changed.emit(self._settings.recent_projects())
            return False
        self._settings.add_recent(project.root)
        self.recent_changed.emit(self._settings.recent_projects())
        self._importer.start(labels_from_subfolders=from_subfolders and self._still_empty())
        return True

    def rescan(self) -> None:
        if self._context.project is not None:
            self._importer.start(labels_from_subfolders=False)

    def _new_project_with_subfolders(self, folder: Path) -> bool:
        """For a folder opened for the first time, offer its subfolders' names as classes."""
        if not folder.is_dir() or (folder / STORE_NAME).exists():
            return False
        names = subfolder_names(folder)
        return bool(names) and ask_subfolder_classes(self._window, names)

    def _still_empty(self) -> bool:
        """No images and no classes yet (another window may have filled the store meanwhile)."""
        return not self._context.read(gallery.counts).images and not self._context.classes


def subfolder_names(root: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def ask_subfolder_classes(parent: QWidget, names: list[str]) -> bool:
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    answer = QMessageBox.question(
        parent, "Use Subfolders as Classes?",
        f"This folder has {len(names)} subfolder(s): {shown}.\n\n"
        "Label the images in each subfolder with the subfolder's name? "
        "(Choose No if the subfolders are not classes, e.g. dates or albums.)",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


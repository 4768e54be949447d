"""The right-click menu on thumbnails: Label as ▸ (each class, Clear Label), Open, Show in Folder, Copy Path.
It acts on the selection; a right-click on an unselected tile selects that tile first, as file managers do."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu, QWidget

from core.storage import gallery
from core.storage.paths import shown
from desktop.actions.label_actions import LabelActions
from desktop.gallery.view import GalleryView
from desktop.project.context import ProjectContext

MAX_OPEN = 20  # opening more viewers than this at once is never what was meant


class ImageMenu:
    def __init__(self, context: ProjectContext, grid: GalleryView, label_actions: LabelActions, parent: QWidget):
        self._context, self._grid, self._labels, self._parent = context, grid, label_actions, parent
        grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        grid.customContextMenuRequested.connect(self.show_at)

    def build(self, point: QPoint) -> QMenu | None:
        """The menu for a right-click at `point` (viewport coordinates); None off the tiles."""
        index = self._grid.indexAt(point)
        if not index.isValid() or self._context.project is None:
            return None
        if not self._grid.selectionModel().isSelected(index):
            self._grid.select_row(index.row())
        ids = self._grid.selected_ids()
        menu = QMenu(self._parent)
        label_as = menu.addMenu("Label as")
        for info in self._context.classes:
            action = label_as.addAction(info.name)
            action.triggered.connect(lambda _checked=False, c=info.id: self._labels.label_selection(c))
        if self._context.classes:
            label_as.addSeparator()
        label_as.addAction(self._labels.clear)
        menu.addSeparator()
        count = len(ids)
        open_action = menu.addAction("Open" if count == 1 else f"Open {min(count, MAX_OPEN)} Images")
        open_action.triggered.connect(lambda: self.open_files(ids[:MAX_OPEN]))
        folder = menu.addAction("Show in Folder")
        folder.triggered.connect(lambda: self.show_in_folder(ids[0]))
        copy = menu.addAction("Copy Path" if count == 1 else f"Copy {count:,} Paths")
        copy.triggered.connect(lambda: self.copy_paths(ids))
        return menu

    def show_at(self, point: QPoint) -> None:
        menu = self.build(point)
        if menu is not None:
            menu.exec(self._grid.viewport().mapToGlobal(point))
            menu.deleteLater()

    def paths(self, ids: list[int]) -> list[Path]:
        cards = self._context.read(gallery.cards, ids)
        return [self._context.project.root / cards[i].path for i in ids if i in cards]

    def open_files(self, ids: list[int]) -> None:
        for path in self.paths(ids):
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def show_in_folder(self, image_id: int) -> None:
        """The folder that holds the image, in the system's file manager."""
        for path in self.paths([image_id]):
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))

    def copy_paths(self, ids: list[int]) -> None:
        """Full paths, one a line (undecodable bytes as U+FFFD: the clipboard holds text)."""
        QGuiApplication.clipboard().setText("\n".join(shown(str(p)) for p in self.paths(ids)))

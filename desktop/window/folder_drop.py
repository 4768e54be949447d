"""Dropping a folder from the file manager onto the window opens it."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QWidget


def dropped_folder(mime) -> Path | None:
    """The first local folder in a drag's data (a dropped file opens the folder that holds it)."""
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.is_dir():
                return path
            if path.is_file():
                return path.parent
    return None


class FolderDrop(QObject):
    """An event filter for a window: accepts drags that carry a folder and reports the drop."""

    folder_dropped = Signal(object)  # a Path

    def __init__(self, window: QWidget):
        super().__init__(window)
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if dropped_folder(event.mimeData()) is not None:
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            folder = dropped_folder(event.mimeData())
            if folder is not None:
                event.acceptProposedAction()
                self.folder_dropped.emit(folder)
                return True
        return False

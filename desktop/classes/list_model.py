"""The classes of the open project, in sidebar order, as a list model (a thin adapter over ClassInfo)."""
from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt

from desktop.project.context import HOTKEYS, ProjectContext

CLASS_ID_ROLE = Qt.ItemDataRole.UserRole + 1
COLOUR_ROLE = Qt.ItemDataRole.UserRole + 2  # "#rrggbb"
COUNT_ROLE = Qt.ItemDataRole.UserRole + 3  # images with this label
HOTKEY_ROLE = Qt.ItemDataRole.UserRole + 4  # 1..9, or None past the ninth class


class ClassListModel(QAbstractListModel):
    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._classes = []
        context.classes_changed.connect(self.reload)
        context.opened.connect(lambda _project: self.reload())
        context.closed.connect(self.reload)

    def reload(self) -> None:
        self.beginResetModel()
        self._classes = list(self._context.classes)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._classes)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._classes):
            return None
        info = self._classes[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return info.name
        if role == Qt.ItemDataRole.ToolTipRole:
            key = f"Press {index.row() + 1} to label the selected images. " if index.row() < HOTKEYS else ""
            return f"{info.name}: {info.count:,} image(s). {key}Drop images here to label them."
        if role == CLASS_ID_ROLE:
            return info.id
        if role == COLOUR_ROLE:
            return info.colour
        if role == COUNT_ROLE:
            return info.count
        if role == HOTKEY_ROLE:
            return index.row() + 1 if index.row() < HOTKEYS else None
        return None

    def row_of(self, class_id: int) -> int | None:
        return next((row for row, c in enumerate(self._classes) if c.id == class_id), None)

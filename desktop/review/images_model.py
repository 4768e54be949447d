"""The images of one confusion cell (or row, or column) as a list model: a thin adapter over their ids in the
order given (by the model's confidence), with each image's given class, predicted class, confidence, and its
label now when it was relabelled since the run. Images can be dragged onto a class like the main grid's."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QObject, Qt

from core.storage import gallery
from desktop.project.context import ProjectContext
from desktop.widgets.image_drag import IMAGE_IDS_MIME, image_ids_mime

IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
CONTENT_HASH_ROLE = Qt.ItemDataRole.UserRole + 3
ITEM_ROLE = Qt.ItemDataRole.UserRole + 4  # the ReviewItem


@dataclass(frozen=True)
class ReviewItem:
    image_id: int
    given: int  # class index at the run
    predicted: int  # class index the model says
    confidence: float  # its probability for the predicted class


class ReviewImagesModel(QAbstractListModel):
    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._items: list[ReviewItem] = []
        self._rows: dict[int, int] = {}
        self._cards: dict[int, gallery.ImageCard] = {}
        self.class_names: list[str] = []
        self.class_ids: list[int] = []
        self.now: dict[int, int | None] = {}  # image id -> its label now, for images relabelled since the run

    def set_items(self, items: list[ReviewItem], class_names: list[str], class_ids: list[int]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self._rows = {item.image_id: row for row, item in enumerate(self._items)}
        self.class_names, self.class_ids = class_names, class_ids
        ids = [item.image_id for item in self._items]
        self._cards = self._context.read(gallery.cards, ids) if ids and self._context.project else {}
        self.endResetModel()

    def set_relabelled(self, now: dict[int, int | None]) -> None:
        self.now = dict(now)
        if self._items:
            self.dataChanged.emit(self.index(0), self.index(len(self._items) - 1))

    def ids(self) -> list[int]:
        return [item.image_id for item in self._items]

    def row_of(self, image_id: int) -> int | None:
        return self._rows.get(image_id)

    def changed_label(self, item: ReviewItem) -> str | None:
        """The image's label now, when it differs from the one the run trained on ("unlabelled" if cleared)."""
        if item.image_id not in self.now:
            return None
        info = self._context.class_by_id(self.now[item.image_id])
        return info.name if info else "unlabelled"

    # -- Qt model interface ----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self._items[index.row()]
        card = self._cards.get(item.image_id)
        if role == IMAGE_ID_ROLE:
            return item.image_id
        if role == ITEM_ROLE:
            return item
        if role == PATH_ROLE:
            return card.path if card else ""
        if role == CONTENT_HASH_ROLE:
            return card.content_hash if card else None
        if role == Qt.ItemDataRole.DisplayRole:
            return PurePosixPath(card.path).name if card else ""
        if role == Qt.ItemDataRole.ToolTipRole:
            given, predicted = self.class_names[item.given], self.class_names[item.predicted]
            text = (f"{card.path if card else ''}\nLabelled {given} when the run trained; the model says "
                    f"{predicted} ({item.confidence:.0%})")
            now = self.changed_label(item)
            return text + (f"\nChanged since this run: now {now}" if now else "")
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return [IMAGE_IDS_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        return image_ids_mime(self._items[i.row()].image_id for i in indexes if i.isValid())

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

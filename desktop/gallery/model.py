"""The grid's model: a thin adapter over the ids a GalleryQuery selects. The id list is fetched whole (cheap:
ints; in a large project on a thread of its own, while the grid shows what it had); the few fields a thumbnail
shows are fetched a page at a time when first painted, and kept in a bounded cache. Refreshes become row
insertions/removals when they can, so scroll and selection stay put."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import PurePosixPath

import numpy as np
from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QObject, Qt, Signal

from core.storage import gallery
from core.storage.gallery import GalleryQuery, ImageCard
from core.storage.paths import shown
from desktop.project.background_reader import BackgroundReader
from desktop.project.context import ProjectContext
from desktop.widgets.image_drag import IMAGE_IDS_MIME, image_ids_mime

IMAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
CONTENT_HASH_ROLE = Qt.ItemDataRole.UserRole + 3
STATUS_ROLE = Qt.ItemDataRole.UserRole + 4  # "ok" or "unreadable"
ERROR_ROLE = Qt.ItemDataRole.UserRole + 5  # why an unreadable image cannot be read
CLASS_ID_ROLE = Qt.ItemDataRole.UserRole + 6
CLASS_NAME_ROLE = Qt.ItemDataRole.UserRole + 7
CLASS_COLOUR_ROLE = Qt.ItemDataRole.UserRole + 8  # "#rrggbb" or None
# An unlabelled image's prediction by the newest model: (class name, "#rrggbb", confidence, stale) or None.
PREDICTION_ROLE = Qt.ItemDataRole.UserRole + 9

PAGE = 200
MAX_CARDS = 20_000
MAX_RANGES = 64  # more separate insertions/removals than this: a reset is cheaper
# From this many images the id list is read off the GUI thread: at 100,000 a sorted or filtered read takes
# 50-150 ms, too long for the window to freeze; below, it takes a few and is shown at once.
BACKGROUND_AT = 20_000


class GalleryModel(QAbstractListModel):
    # Any row's data may have changed: views repaint what they show. (dataChanged over 100,000 rows makes
    # an icon-mode QListView visit every item.)
    cards_reset = Signal()

    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._query = GalleryQuery()
        self._ids: list[int] = []
        # The ids as an array, made when a row is first looked up: a scan of it finds a row in ~0.3 ms at
        # 100,000 images, and making it costs a third of an id -> row dict (9 ms against 27 on the GUI thread).
        self._id_array: np.ndarray | None = None
        self._cards: OrderedDict[int, ImageCard] = OrderedDict()
        self._stale = False  # labels changed since the model that predicted the unlabelled images
        self._reader = BackgroundReader(context, self)
        self._reset_pending = False  # a background read asked for with reset=True has not landed yet
        context.opened.connect(lambda _project: self.refresh(reset=True))
        context.runs_changed.connect(self._on_predictions_changed)
        context.closed.connect(self._clear)
        context.images_changed.connect(self._on_images_changed)
        context.labels_changed.connect(self._on_labels_changed)
        context.runs_changed.connect(self._on_runs_changed)

    # -- what is shown ----------------------------------------------------------------------------------
    @property
    def query(self) -> GalleryQuery:
        return self._query

    def set_query(self, query: GalleryQuery) -> None:
        if query != self._query:
            self._query = query
            self.refresh(reset=True)

    def refresh(self, reset: bool = False) -> None:
        """Re-read which images the query selects (in a large project: shown when the read lands)."""
        if self._context.project is None:
            self._show([], False, reset)
        elif self._context.counts().images < BACKGROUND_AT:
            self._show(*self._context.read(_read_selection, self._query), reset)
        else:
            self._reset_pending |= reset
            self._reader.ask(_read_selection, self._query, then=lambda found: self._show(*found, self._reset_pending))

    @property
    def reading(self) -> bool:
        """A background read of the id list is under way: what the grid shows is about to change."""
        return self._reader.waiting

    def _show(self, new_ids: list[int], stale: bool, reset: bool) -> None:
        self._stale, self._reset_pending = stale, False
        if reset or not self._apply_as_edits(new_ids):
            self.beginResetModel()
            self._ids, self._id_array = new_ids, None
            self._cards.clear()
            self.endResetModel()

    def image_id(self, row: int) -> int:
        return self._ids[row]

    def ids(self) -> list[int]:
        return self._ids

    def row_of(self, image_id: int) -> int | None:
        found = np.flatnonzero(self._ids_as_array() == image_id)
        return int(found[0]) if found.size else None

    def rows_of(self, image_ids: list[int]) -> list[int]:
        """The rows of those of `image_ids` shown, in order."""
        if not image_ids:
            return []
        return np.flatnonzero(np.isin(self._ids_as_array(), np.asarray(image_ids, dtype=np.int64))).tolist()

    def _ids_as_array(self) -> np.ndarray:
        if self._id_array is None:
            self._id_array = np.asarray(self._ids, dtype=np.int64)
        return self._id_array

    def card(self, row: int) -> ImageCard | None:
        image_id = self._ids[row]
        card = self._cards.get(image_id)
        if card is None:
            self._fetch_page(row)
            card = self._cards.get(image_id)
        else:
            self._cards.move_to_end(image_id)
        return card

    # -- Qt model interface ----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._ids):
            return None
        if role == IMAGE_ID_ROLE:
            return self._ids[index.row()]
        card = self.card(index.row())
        if card is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return shown(PurePosixPath(card.path).name)
        if role == Qt.ItemDataRole.ToolTipRole:
            if card.status == "unreadable":
                return f"{shown(card.path)}\nUnreadable: {card.error}"
            guess = self._prediction(card)
            if guess is None:
                return shown(card.path)
            name, _colour, confidence, stale = guess
            older = "\nFrom a model older than your latest labels: retrain to update it." if stale else ""
            return f"{shown(card.path)}\nThe model predicts {name} ({confidence:.0%}); Enter accepts it.{older}"
        if role == PATH_ROLE:
            return card.path
        if role == CONTENT_HASH_ROLE:
            return card.content_hash
        if role == STATUS_ROLE:
            return card.status
        if role == ERROR_ROLE:
            return card.error
        if role == CLASS_ID_ROLE:
            return card.class_id
        if role == PREDICTION_ROLE:
            return self._prediction(card)
        label = self._context.class_by_id(card.class_id)
        if role == CLASS_NAME_ROLE:
            return label.name if label else None
        if role == CLASS_COLOUR_ROLE:
            return label.colour if label else None
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return [IMAGE_IDS_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        return image_ids_mime(self._ids[i.row()] for i in indexes if i.isValid())

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def _prediction(self, card: ImageCard) -> tuple[str, str, float, bool] | None:
        if card.predicted_class_id is None or self._context.class_by_id(card.class_id) is not None:
            return None  # labelled images show their label; their held-out guesses are the Review view's
        guess = self._context.class_by_id(card.predicted_class_id)
        return (guess.name, guess.colour, card.confidence, self._stale) if guess else None

    # -- keeping up with the store ------------------------------------------------------------------------------
    def _on_predictions_changed(self) -> None:
        """A run ended (or its predictions of unlabelled images were stored): show the newest model's."""
        self._cards.clear()
        self.refresh()
        self.cards_reset.emit()

    def _clear(self) -> None:
        self._reset_pending = False
        self.beginResetModel()
        self._ids, self._id_array = [], None
        self._cards.clear()
        self.endResetModel()

    def _on_images_changed(self) -> None:
        self._cards.clear()  # paths, statuses and labels may all have changed
        self.refresh()
        self.cards_reset.emit()

    def _on_runs_changed(self) -> None:
        """A run ended (or was deleted): the prediction filters now read another run's predictions."""
        if self._query.show in gallery.PREDICTION_SHOWS:
            self.refresh()

    def _on_labels_changed(self, image_ids: list[int]) -> None:
        was_stale = self._stale
        self._stale = self._context.predictions_stale  # as the change left the store
        if self._stale != was_stale:
            self.cards_reset.emit()  # every predicted thumbnail now shows (or drops) its "older model" mark
        many = len(image_ids) > PAGE
        if many:
            self._cards.clear()  # cheaper than finding thousands of ids; visible pages reload on paint
        else:
            for image_id in image_ids:
                self._cards.pop(image_id, None)
        if self._query.depends_on_labels:
            self.refresh()
        rows = [] if many else self.rows_of(image_ids)
        if many:
            self.cards_reset.emit()
        elif rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def _fetch_page(self, row: int) -> None:
        start = row - row % PAGE
        wanted = [i for i in self._ids[start : start + PAGE] if i not in self._cards]
        if self._context.project is None or not wanted:
            return
        self._cards.update(self._context.read(gallery.cards, wanted))
        while len(self._cards) > MAX_CARDS:
            self._cards.popitem(last=False)

    def _apply_as_edits(self, new_ids: list[int]) -> bool:
        """Turn old → new ids into row removals then insertions, when the kept rows keep their order."""
        old_ids = self._ids
        if new_ids == old_ids:
            return True
        new_set, old_set = set(new_ids), set(old_ids)
        kept = [i for i in old_ids if i in new_set]
        if kept != [i for i in new_ids if i in old_set]:
            return False
        removed = row_runs([row for row, i in enumerate(old_ids) if i not in new_set])
        added = row_runs([row for row, i in enumerate(new_ids) if i not in old_set])
        if len(removed) + len(added) > MAX_RANGES:
            return False
        for first, last in reversed(removed):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._ids[first : last + 1]
            self._id_array = None
            self.endRemoveRows()
        for first, last in added:  # ascending: each run lands where it is in new_ids
            self.beginInsertRows(QModelIndex(), first, last)
            self._ids[first:first] = new_ids[first : last + 1]
            self._id_array = None
            self.endInsertRows()
        return True


def _read_selection(session, query: GalleryQuery) -> tuple[list[int], bool]:
    """The ids `query` selects and whether the predictions shown are from a model older than the labels."""
    return gallery.image_ids(session, query), _stale(gallery.unlabelled_prediction_source(session))


def _stale(source: gallery.PredictionSource | None) -> bool:
    return bool(source and source.stale)


def row_runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted rows → (first, last) of each consecutive run."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs

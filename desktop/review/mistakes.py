"""The queue of suspected mistakes, most suspicious first, each with the class the model suggests instead.
Enter accepts the suggestion, K keeps the label as it is (not asked again for this run), Space shows the
image large. Rows are thin: the SuspectRows from core and a thumbnail from the window's loader."""
from __future__ import annotations

from pathlib import PurePosixPath

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from core.evaluation.run_evaluation import SuspectRow
from desktop.widgets.thumbnail_loader import ThumbnailLoader

ICON = 40
ID_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Image", "Label", "Model", "Sure")  # short: the list is often a narrow column
HEADER_TIPS = ("", "The class the image is labelled", "The class the model suggests instead",
               "How sure the model is of its suggestion (calibrated: 90 % is right about 90 % of the time)")


class MistakesModel(QAbstractTableModel):
    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None):
        super().__init__(parent)
        self._loader = loader
        self.rows: list[SuspectRow] = []
        self._hashes: dict[int, str | None] = {}
        self._rows: dict[int, int] = {}
        loader.loaded.connect(self._thumbnail_arrived)

    def set_rows(self, rows: list[SuspectRow], hashes: dict[int, str | None]) -> None:
        self._hashes = dict(hashes)
        keep = {row.image_id for row in rows}
        if [row for row in self.rows if row.image_id in keep] == list(rows):
            # Some were dealt with (relabelled, kept): remove just those rows, so the queue stays put.
            for number in reversed(range(len(self.rows))):
                if self.rows[number].image_id not in keep:
                    self.beginRemoveRows(QModelIndex(), number, number)
                    del self.rows[number]
                    self.endRemoveRows()
        else:
            self.beginResetModel()
            self.rows = list(rows)
            self.endResetModel()
        self._rows = {row.image_id: number for number, row in enumerate(self.rows)}

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section] or None
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == ID_ROLE:
            return row.image_id
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (PurePosixPath(row.path).name, row.given, row.suggested, f"{row.confidence:.0%}")[column]
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            pixmap = self._loader.pixmap(row.image_id, self._hashes.get(row.image_id), row.path, ICON * 2)
            return QIcon(pixmap) if pixmap is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{row.path}\nLabelled {row.given}; the model says {row.suggested} ({row.confidence:.0%}).\n"
                    "Enter: relabel as suggested · K: keep the label · Space: show large")
        return None

    def _thumbnail_arrived(self, image_id: int) -> None:
        number = self._rows.get(image_id)
        if number is not None:
            self.dataChanged.emit(self.index(number, 0), self.index(number, 0), [Qt.ItemDataRole.DecorationRole])


class MistakesQueue(QTableView):
    accept_requested = Signal(object)  # SuspectRows whose suggestion to accept (a list: see context.labels_changed)
    keep_requested = Signal(object)  # SuspectRows whose label to keep (a list)
    show_large = Signal(int)  # image id
    selection_changed = Signal()

    def __init__(self, model: MistakesModel, parent=None):
        super().__init__(parent)
        self.setObjectName("mistakesQueue")
        self.setModel(model)
        self._model = model
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(ICON, ICON))
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(ICON + 6)
        # The thumbnail keeps its width and the two class names share the rest (elided when long), so a narrow
        # column still shows every image. "Sure" is sized once per fill (model_reset), not per change: sizing
        # to contents visits every row each time.
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(0, ICON + 12)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        model.modelReset.connect(lambda: self.resizeColumnToContents(len(COLUMNS) - 1))
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setToolTip("Enter: relabel as suggested · K: keep the label · Space: show large")
        self.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())
        self.selectionModel().currentChanged.connect(lambda *_: self.selection_changed.emit())

    def selected_rows(self) -> list[SuspectRow]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self._model.rows[r] for r in rows if r < len(self._model.rows)]

    def selected_ids(self) -> list[int]:
        return [row.image_id for row in self.selected_rows()]

    def current_id(self) -> int | None:
        index = self.currentIndex()
        return index.data(ID_ROLE) if index.isValid() else None

    def select_row(self, row: int) -> None:
        if self._model.rowCount():
            row = max(0, min(row, self._model.rowCount() - 1))
            self.selectRow(row)
            self.setCurrentIndex(self._model.index(row, 0))

    def keyPressEvent(self, event) -> None:
        key = event.key()
        chosen = self.selected_rows()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and chosen:
            self.accept_requested.emit(chosen)
        elif key == Qt.Key.Key_K and chosen:
            self.keep_requested.emit(chosen)
        elif key == Qt.Key.Key_Space and self.current_id() is not None:
            self.show_large.emit(self.current_id())
        else:
            super().keyPressEvent(event)

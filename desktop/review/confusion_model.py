"""The confusion matrix as a table model: rows are the class each image was labelled as when the run trained,
columns the class the model (out of fold) says, plus a Total row and column. Cells know their images, how
many of them were relabelled since the run, and say so in a tooltip."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt

from core.evaluation.metrics import Confusion

COUNT_ROLE = Qt.ItemDataRole.UserRole + 1  # int: images in the cell
SHARE_ROLE = Qt.ItemDataRole.UserRole + 2  # float: the cell's share of its row (0..1)
KIND_ROLE = Qt.ItemDataRole.UserRole + 3  # "right" (diagonal), "wrong" (a mistake cell) or "total"
CHANGED_ROLE = Qt.ItemDataRole.UserRole + 4  # int: images of the cell relabelled since the run


class ConfusionModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.confusion: Confusion | None = None
        self.percent = False  # show row percentages instead of counts
        self._changed: dict[tuple[int, int], int] = {}

    # -- what is shown --------------------------------------------------------------------------------
    def set_confusion(self, confusion: Confusion | None, changed: dict[tuple[int, int], int] | None = None) -> None:
        self.beginResetModel()
        self.confusion = confusion
        self._changed = dict(changed or {})
        self.endResetModel()

    def set_changed(self, changed: dict[tuple[int, int], int]) -> None:
        """How many images of each cell were relabelled since the run."""
        self._changed = dict(changed)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def set_percent(self, on: bool) -> None:
        self.percent = on
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    @property
    def classes(self) -> int:
        return len(self.confusion.class_names) if self.confusion else 0

    def cell_of(self, index: QModelIndex) -> tuple[int | None, int | None]:
        """(given, predicted) class indices of a cell; None for the Total row or column (any class)."""
        n = self.classes
        return (index.row() if index.row() < n else None, index.column() if index.column() < n else None)

    # -- Qt model interface ---------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() or not self.classes else self.classes + 1

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return self.rowCount(parent)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if self.confusion is None:
            return None
        name = self.confusion.class_names[section] if section < self.classes else "Total"
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == Qt.ItemDataRole.ToolTipRole:
            if section >= self.classes:
                return None
            if orientation == Qt.Orientation.Vertical:
                return f"Click to see every image labelled {name}"
            return f"Click to see every image the model calls {name}"
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.confusion is None:
            return None
        given, predicted = self.cell_of(index)
        count = self._count(given, predicted)
        row_total = self._count(given, None)
        if role == COUNT_ROLE:
            return count
        if role == SHARE_ROLE:
            return count / row_total if row_total else 0.0
        if role == KIND_ROLE:
            if given is None or predicted is None:
                return "total"
            return "right" if given == predicted else "wrong"
        if role == CHANGED_ROLE:
            return self._changed_in(given, predicted)
        if role == Qt.ItemDataRole.DisplayRole:
            if self.percent and given is not None:
                return f"{count / row_total:.0%}" if row_total else "–"
            return f"{count:,}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(given, predicted, count, row_total)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignCenter
        return None

    # -- helpers ----------------------------------------------------------------------------------------------
    def _count(self, given: int | None, predicted: int | None) -> int:
        counts = self.confusion.counts
        rows = range(self.classes) if given is None else [given]
        columns = range(self.classes) if predicted is None else [predicted]
        return sum(counts[r][c] for r in rows for c in columns)

    def _changed_in(self, given: int | None, predicted: int | None) -> int:
        return sum(n for (g, p), n in self._changed.items()
                   if (given is None or g == given) and (predicted is None or p == predicted))

    def _tooltip(self, given: int | None, predicted: int | None, count: int, row_total: int) -> str:
        names = self.confusion.class_names
        images = f"{count:,} image{'s' if count != 1 else ''}"
        if given is None and predicted is None:
            text = f"{images} in all, each predicted by a model that never saw it"
        elif given is None:
            text = f"{images} the model calls {names[predicted]}"
        elif predicted is None:
            text = f"{images} labelled {names[given]}"
        elif given == predicted:
            text = f"{images} labelled {names[given]} that the model also calls {names[given]}"
        else:
            text = f"{images} labelled {names[given]} that the model calls {names[predicted]}"
        if given is not None and predicted is not None and row_total:
            text += f" ({count / row_total:.0%} of {names[given]})"
        changed = self._changed_in(given, predicted)
        if changed:
            text += f"\n{changed:,} of them relabelled since this run"
        return text + "\nClick to see them"

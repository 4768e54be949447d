"""The confusion matrix on screen: a table over ConfusionModel painted as a heat map, axis titles, a toggle
for row percentages. Clicking a cell, a row header (a given class) or a column header (a predicted class)
chooses those images."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel, QTableView,
                               QVBoxLayout, QWidget)

from core.evaluation.metrics import Confusion
from desktop.review.confusion_delegate import ConfusionDelegate
from desktop.review.confusion_model import ConfusionModel

CELL = 58  # pixels: square-ish cells that fit a four-digit count
MIN_WIDTH = 300  # pixels: about four classes' columns


class ConfusionMatrixWidget(QWidget):
    # (given, predicted) class indices; None means any (a header or a Total was clicked)
    cell_chosen = Signal(object, object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = ConfusionModel(self)
        self.table = QTableView()
        self.table.setObjectName("confusionMatrix")
        self.table.setModel(self.model)
        self.table.setItemDelegate(ConfusionDelegate(self.table))
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setMouseTracking(True)
        self.table.setCornerButtonEnabled(False)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            header.setDefaultSectionSize(CELL)
            header.setSectionsClickable(True)
            header.setHighlightSections(True)
        self.table.verticalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.horizontalHeader().setMinimumSectionSize(CELL)
        self.table.clicked.connect(self._clicked)
        self.table.verticalHeader().sectionClicked.connect(lambda row: self._header(row, None))
        self.table.horizontalHeader().sectionClicked.connect(lambda column: self._header(None, column))

        self.percent = QCheckBox("Row %")
        self.percent.setToolTip("Show each cell as a share of its row (of the images labelled that class)")
        self.percent.toggled.connect(self.model.set_percent)
        columns = QLabel("Model says →")
        rows = QLabel("↓ Labelled as")
        for label in (columns, rows):
            label.setStyleSheet("color: palette(placeholder-text);")
        top = QHBoxLayout()
        top.addWidget(rows)
        top.addStretch(1)
        top.addWidget(columns)
        top.addStretch(1)
        top.addWidget(self.percent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def set_confusion(self, confusion: Confusion | None, changed: dict | None = None) -> None:
        self.model.set_confusion(confusion, changed)
        self.show_only(None)
        self.table.resizeColumnsToContents()
        self.table.verticalHeader().setMinimumWidth(0)
        # Scrolls when narrower: many classes must not squeeze the images and the suspects beside it to nothing
        self.table.setMinimumWidth(min(self.needed_width(), MIN_WIDTH))
        header = self.table.horizontalHeader().sizeHint().height()
        rows = sum(self.table.rowHeight(r) for r in range(self.model.rowCount()))
        self.table.setMinimumHeight(min(header + rows + 2 * self.table.frameWidth() + 4, 480))

    def needed_width(self) -> int:
        """Wide enough to show every column without scrolling (at most a screenful)."""
        header = self.table.verticalHeader()
        columns = sum(self.table.columnWidth(c) for c in range(self.model.columnCount()))
        return header.sizeHint().width() + columns + 2 * self.table.frameWidth() + 4

    def set_changed(self, changed: dict) -> None:
        self.model.set_changed(changed)

    def show_only(self, class_index: int | None) -> None:
        """Filter to one class (its row: how the images labelled it were predicted), or show all (None)."""
        for row in range(self.model.classes):
            self.table.setRowHidden(row, class_index is not None and row != class_index)

    def choose(self, given: int | None, predicted: int | None) -> None:
        """Select the cell (or row / column) as a click would, and announce it."""
        n = self.model.classes
        row = n if given is None else given
        column = n if predicted is None else predicted
        index = self.model.index(row, column)
        if index.isValid():
            self.table.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.cell_chosen.emit(given, predicted)

    def _clicked(self, index) -> None:
        given, predicted = self.model.cell_of(index)
        self.cell_chosen.emit(given, predicted)

    def _header(self, given: int | None, predicted: int | None) -> None:
        n = self.model.classes
        if (given is not None and given >= n) or (predicted is not None and predicted >= n):
            given = predicted = None  # the Total header: every image
        self.choose(given, predicted)

"""Per-class precision, recall, F1 and support from the out-of-fold predictions. Clicking a class's row
filters the matrix to it (clicking it again shows every class)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.evaluation.metrics import Metrics

COLUMNS = ("Class", "Precision", "Recall", "F1", "Images")
TIPS = ("", "Of the images the model calls this class, the share labelled so",
        "Of the images labelled this class, the share the model finds", "The balance of precision and recall",
        "Labelled images of this class in the run")


class ClassMetricsTable(QTableWidget):
    class_chosen = Signal(object)  # class index, or None for all

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("classMetrics")
        self.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(TIPS):
            self.horizontalHeaderItem(column).setToolTip(tip)
        # The figures as wide as they need, the class names the rest: sized by hand after each fill, a second
        # fill (another run) pushed the last column out of sight behind a scroll bar.
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setShowGrid(False)
        self._chosen: int | None = None
        self.cellClicked.connect(self._clicked)

    def set_metrics(self, metrics: Metrics | None) -> None:
        self._chosen = None
        rows = metrics.per_class if metrics else []
        self.setRowCount(len(rows) + (1 if metrics else 0))
        for r, m in enumerate(rows):
            self._fill(r, [m.name, f"{m.precision:.0%}", f"{m.recall:.0%}", f"{m.f1:.2f}", f"{m.support:,}"])
        if metrics:
            macro = metrics.macro
            self._fill(len(rows), ["Average (macro)", f"{macro.precision:.0%}", f"{macro.recall:.0%}",
                                   f"{macro.f1:.2f}", f"{metrics.n_images:,}"], bold=True)

    def _fill(self, row: int, values: list[str], bold: bool = False) -> None:
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.setItem(row, column, item)

    def _clicked(self, row: int, _column: int) -> None:
        chosen = row if row < self.rowCount() - 1 and row != self._chosen else None
        self._chosen = chosen
        if chosen is None:
            self.clearSelection()
        self.class_chosen.emit(chosen)

"""Two runs side by side: their figures in two columns, and what changed image by image between them (the
images the later run fixed, those it newly gets wrong, those wrong in both), each with a button that shows
those images in the grid. The per-image comparison is read in a background thread."""
from __future__ import annotations

from typing import Iterator

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.durations import elapsed_text
from core.evaluation.comparison import RunComparison, compare_runs
from core.storage import runs
from core.storage.runs import RunInfo
from desktop.project.context import ProjectContext
from desktop.train.runs_model import percent, status_text

VERDICTS = (("fixed", "Fixed"), ("newly wrong", "Newly wrong"), ("still wrong", "Still wrong"))


def _compare(project, earlier: int, later: int) -> Iterator[RunComparison]:
    yield compare_runs(project, earlier, later)


def _figures(run: RunInfo) -> list[tuple[str, str]]:
    m, oof = run.metrics, run.metrics.get("oof") or {}
    images = (m.get("train_images") or 0) + (m.get("val_images") or 0)
    return [
        ("Status", status_text(run)),
        ("Network", run.backbone + (f" + {run.network}" if run.network else "")),
        ("Device", run.device),
        ("Duration", elapsed_text(run.duration_s)),
        ("Images", f"{images:,}" if images else ""),
        ("Accuracy on all images", percent(oof.get("accuracy"))),
        ("Balanced accuracy", percent(oof.get("balanced_accuracy"))),
        ("Macro F1", percent(oof.get("macro_f1"))),
        ("Validation accuracy", percent(m.get("val_acc"))),
        ("Validation loss", f"{m['val_loss']:.3f}" if m.get("val_loss") is not None else ""),
        ("Best epoch", str(m.get("best_epoch") or "")),
    ]


class ComparisonPanel(QWidget):
    show_images = Signal(str, object)  # a title for the grid's Show box, the image ids (a list)

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self._context = context
        self.table = QTableWidget(0, 2)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, title in VERDICTS:
            button = QPushButton(title)
            button.setEnabled(False)
            button.clicked.connect(lambda _checked=False, key=key: self._show(key))
            self.buttons[key] = button
            row.addWidget(button)
        row.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 1)
        column.addWidget(self.summary)
        column.addLayout(row)
        self.result: RunComparison | None = None
        self._pair: tuple[int, int] | None = None
        self._task = None

    def compare(self, run_a: int, run_b: int) -> None:
        earlier, later = sorted((run_a, run_b))
        self._pair, self.result = (earlier, later), None
        first, second = (self._context.read(runs.get_run, i) for i in (earlier, later))
        figures = list(zip(_figures(first), _figures(second)))
        self.table.setRowCount(len(figures))
        self.table.setHorizontalHeaderLabels([first.title, second.title])
        self.table.setVerticalHeaderLabels([name for (name, _), _ in figures])
        for row, ((_, a), (_, b)) in enumerate(figures):
            for col, text in enumerate((a, b)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, col, item)
        for button in self.buttons.values():
            button.setEnabled(False)
        self.summary.setText("Comparing the images…")
        task = self._task = self._context.tasks.run("Comparing runs", _compare, self._context.project, earlier, later,
                                                    child=False)
        task.event.connect(lambda result: self._compared(task, result))
        task.failed.connect(lambda error: task is self._task and self.summary.setText(str(error)))

    def groups(self) -> dict[str, list[int]]:
        """verdict -> image ids, from the last comparison."""
        found = {key: [] for key, _ in VERDICTS}
        for change in (self.result.changed_predictions if self.result else []):
            found[change.verdict].append(change.image_id)
        return found

    def _compared(self, task, result: RunComparison) -> None:
        if task is not self._task or (result.earlier, result.later) != self._pair:
            return
        self.result = result
        earlier, later = f"run {result.earlier}", f"run {result.later}"
        if result.compared == 0:
            self.summary.setText("No images to compare: one of the runs has no held-out predictions "
                                 "(a cancelled or failed run is not evaluated).")
            return
        groups = self.groups()
        changed = len(result.changed_predictions)
        text = (f"{changed:,} of {result.compared:,} images changed predicted class from {earlier} to {later}: "
                f"{len(groups['fixed']):,} fixed, {len(groups['newly wrong']):,} newly wrong, "
                f"{len(groups['still wrong']):,} still wrong.")
        if result.label_edits:
            text += f" {len(result.label_edits):,} labels were edited between the two runs."
        self.summary.setText(text)
        for key, title in VERDICTS:
            self.buttons[key].setText(f"Show {title.lower()} ({len(groups[key]):,})")
            self.buttons[key].setEnabled(bool(groups[key]))

    def _show(self, key: str) -> None:
        ids = self.groups()[key]
        if ids and self.result:
            title = dict(VERDICTS)[key]
            self.show_images.emit(f"{title} in run {self.result.later}", ids)

"""The small window of "Classify with Dovecote" (a folder's right-click menu, or `dovecote classify --gui`):
pick a model, optionally sort into class folders, watch the progress, then read a summary and open the
results. The work is core.classify.inference.classify_folder, a task of this window's own TaskRunner (it
runs without a main window): in a child process, where it cannot stall the window (see
benchmarks/bench_gui_classify.py). Closing the window stops the run within seconds; its rows are kept."""
from __future__ import annotations

import argparse
import sys
import time
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication, QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
    QMessageBox, QProgressBar, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from core.durations import elapsed_text
from core.classify.inference import (
    DEFAULT_OUTPUT, UNREADABLE, ClassifyFinished, ClassifyRequest, ClassifyStarted, classify_folder,
)
from core.classify.results_csv import partial_path
from core.classify.sorting import UNSURE, UndoFinished, default_destination, undo_moves
from core.errors import DovecoteError
from core.importing.walk import describe_skipped
from core.storage.paths import shown
from core.events import Progress
from desktop.classify.model_picker import ModelPicker
from desktop.tasks import Task, TaskRunner
from desktop.widgets.error_dialog import describe_failure, show_failure

RESUME, REPLACE = "resume", "overwrite"


def ask_existing_results(parent: QWidget, output: Path) -> str | None:
    """RESUME, REPLACE or None (cancel) when results of an earlier run are in the way."""
    partial = partial_path(output)
    box = QMessageBox(QMessageBox.Icon.Question, "Earlier results", "", parent=parent)
    if partial.exists():
        box.setText(f"A stopped run left its results in {partial.name}.")
        box.setInformativeText("Continue it (only images not classified yet), or start again?")
    else:
        box.setText(f"{output.name} already exists in this folder.")
        box.setInformativeText("Add the images it does not list yet, or replace it?")
    resume = box.addButton("Continue" if partial.exists() else "Add new images", QMessageBox.ButtonRole.AcceptRole)
    replace = box.addButton("Start again" if partial.exists() else "Replace", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return RESUME if box.clickedButton() is resume else REPLACE if box.clickedButton() is replace else None


class ClassifyWindow(QWidget):
    def __init__(self, target: Path, model: str | None = None, output: Path | None = None,
                 sort: str | None = None, into: Path | None = None, min_confidence: float | None = None):
        super().__init__()
        self.target = Path(target).expanduser().resolve()
        self.output = output or self.target / DEFAULT_OUTPUT
        self.tasks = TaskRunner(self)
        self.task: Task | None = None  # the classification or undo running
        self.summary = None
        self._undone = None
        self._rate_start: tuple[float, int] | None = None
        self._start_when_ready = False
        self.setWindowTitle(f"Classify {self.target.name} — Dovecote")
        self.picker = ModelPicker(self.target.parent, self.tasks, model)
        self.picker.changed.connect(self._model_changed)
        self._build(sort, into, min_confidence)

    # ---- layout

    def _build(self, sort, into, min_confidence) -> None:
        folder = QLabel(f"<b>{escape(self.target.name)}</b>")
        folder.setToolTip(str(self.target))
        where = QLabel(f"in {self.target.parent}")
        where.setEnabled(False)  # greyed: context, not something to act on

        self.sort_box = QCheckBox("Also put each image into a folder per class")
        self.sort_mode = QComboBox()
        self.sort_mode.addItem("Copy images", "copy")
        self.sort_mode.addItem("Move images (can be undone)", "move")
        self.sort_mode.setCurrentIndex(1 if sort == "move" else 0)
        self.sort_box.setChecked(sort is not None)
        self.into = into or default_destination(self.target)
        self.into_button = QPushButton()
        self.into_button.clicked.connect(self._choose_into)
        self._show_into()
        self.unsure = QSpinBox()
        self.unsure.setRange(0, 99)
        self.unsure.setSuffix(" %")
        self.unsure.setSpecialValueText("off")
        self.unsure.setValue(round((min_confidence or 0) * 100))
        self.unsure.setToolTip("Images whose most likely class has a lower probability are counted as "
                               "'unsure' (and go to the unsure folder) instead of a class that may be wrong.")
        self.sort_box.toggled.connect(self._sync_sort)
        self._sync_sort(self.sort_box.isChecked())

        form = QFormLayout()
        form.addRow("Folder:", folder)
        form.addRow("", where)
        form.addRow("Model:", self.picker)
        form.addRow("", self.sort_box)
        form.addRow("", self.sort_mode)
        form.addRow("Into:", self.into_button)
        form.addRow("Unsure below:", self.unsure)

        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel(f"The results go to {self.output.name} in this folder.")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Group", "Images"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.hide()

        self.start_button = QPushButton("Classify")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton("Open results")
        self.open_button.clicked.connect(lambda: self._open(self.output))
        self.open_sorted_button = QPushButton("Open sorted folder")
        self.open_sorted_button.clicked.connect(lambda: self._open(self.summary.into))
        self.undo_button = QPushButton("Put images back")
        self.undo_button.setToolTip("Undo the move: every image goes back where it was")
        self.undo_button.clicked.connect(self.undo_move)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.open_sorted_button)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        for button in (self.cancel_button, self.start_button, self.close_button):
            buttons.addWidget(button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._set_running(False)
        self.setMinimumWidth(560)

    def _sync_sort(self, on: bool) -> None:
        self.sort_mode.setEnabled(on)
        self.into_button.setEnabled(on)

    def _show_into(self) -> None:
        self.into_button.setText(str(self.into))

    def _ready(self) -> bool:
        return self.picker.model is not None and self.task is None

    def start_when_ready(self) -> None:
        """Start as soon as the chosen model has been read (`dovecote classify --gui --model M`)."""
        self._start_when_ready = True
        self._model_changed()

    def _model_changed(self) -> None:
        self.start_button.setEnabled(self._ready())
        if self._start_when_ready and not self.picker.loading:
            self._start_when_ready = False
            self.start()

    def _choose_into(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Put the class folders into", str(self.into.parent))
        if path:
            self.into = Path(path)
            self._show_into()

    # ---- running

    def request(self, again: str | None) -> ClassifyRequest:
        sort = self.sort_mode.currentData() if self.sort_box.isChecked() else None
        return ClassifyRequest(self.target, model=self.picker.path, output=self.output,
                               overwrite=again == REPLACE, resume=again == RESUME, sort=sort,
                               into=self.into if sort else None,
                               min_confidence=self.unsure.value() / 100 if self.unsure.value() else None)

    def start(self) -> None:
        if not self._ready():
            return
        again = None
        if self.output.exists() or partial_path(self.output).exists():
            again = ask_existing_results(self, self.output)
            if again is None:
                return
        request = self.request(again)
        self.picker.remember()
        self.summary = None
        self._rate_start = None
        self.table.hide()
        self.progress.show()
        self.progress.setRange(0, 0)
        self.status.setStyleSheet("")
        self.status.setText("Loading the model…")
        self._watch(self.tasks.run("Classifying", classify_folder, request), self._on_finished)

    def undo_move(self) -> None:
        """Put the moved images back where they were (the run's journal says where)."""
        if self.task is not None or self.summary is None or self.summary.journal is None:
            return
        journal = self.summary.journal
        self.table.hide()
        self.progress.setRange(0, 0)
        self.status.setText("Putting the images back…")
        self._watch(self.tasks.run("Putting images back", undo_moves, journal), self._on_undone)

    def _watch(self, task: Task, on_finished) -> None:
        """Show `task` (a child process: see the module's note) until it is done."""
        self.task = task
        task.event.connect(self._on_event)
        task.succeeded.connect(on_finished)
        task.cancelled.connect(self._on_aborted)
        task.failed.connect(self._on_error)
        task.done.connect(self._on_done)
        self._set_running(True)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Stopping after this batch…")

    def _on_event(self, event) -> None:
        if isinstance(event, ClassifyStarted):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(0)
            self.status.setText(f"{event.total} images to classify on {event.device}"
                                + (f" ({event.already_done} done before)." if event.already_done else "."))
        elif isinstance(event, Progress) and event.phase == "Classifying" and event.total:
            now = time.monotonic()
            if self._rate_start is None:
                self._rate_start = (now, event.done)
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.status.setText(self._rate_text(now, event.done, event.total))
        elif isinstance(event, Progress):
            self.status.setText(f"{event.phase}…")
        elif isinstance(event, ClassifyFinished):
            self.summary = event.summary
        elif isinstance(event, UndoFinished):
            self._undone = event.summary

    def _rate_text(self, now: float, done: int, total: int) -> str:
        since, first = self._rate_start
        text = f"{done} of {total} images"
        if now - since > 0.5 and done > first:
            rate = (done - first) / (now - since)
            text += f" · {rate:.1f} images/s · about {elapsed_text((total - done) / rate)} left"
        return text

    def _on_finished(self) -> None:
        summary = self.summary
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        skipped = describe_skipped(summary.skipped)  # hidden files, FIFOs named like images, link loops...
        self.status.setText(f"Done: {summary.classified} images classified in {elapsed_text(summary.seconds)}"
                            + (f" ({summary.already_done} before)" if summary.already_done else "")
                            + (f"; {skipped}" if skipped else "") + ".")
        self.status.setToolTip(f"Results: {summary.output}"
                               + (f"\nNetwork: {summary.precision} ({summary.precision_note})"
                                  if summary.precision_note else ""))
        rows = [*summary.counts.items(), (UNSURE, summary.unsure), (UNREADABLE, summary.unreadable)]
        self.table.setRowCount(len(rows))
        for row, (name, count) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            number = QTableWidgetItem(str(count))
            number.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 1, number)
        if summary.unreadable_files:
            self.table.item(len(rows) - 1, 0).setToolTip(
                "\n".join(f"{shown(path)}: {reason}" for path, reason in summary.unreadable_files[:30]))
        self._fit_table(len(rows))
        self.table.show()
        self.adjustSize()

    def _fit_table(self, rows: int) -> None:
        """Tall enough for every group (up to a dozen; more scroll), so that no count hides below the fold."""
        table = self.table
        table.resizeRowsToContents()
        visible = min(rows, 12)
        height = table.horizontalHeader().height() + sum(table.rowHeight(r) for r in range(visible))
        table.setFixedHeight(height + 2 * table.frameWidth())

    def _on_undone(self) -> None:
        undone, self.summary = self._undone, None
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        text = f"Put {undone.restored} images back where they were."
        if undone.conflicts or undone.missing:
            text += (f" {len(undone.conflicts) + len(undone.missing)} could not be: a file now has their old "
                     "name, or they were moved since. Nothing was overwritten.")
            self.status.setStyleSheet("color: #c0392b")
        self.status.setText(text)

    def _on_aborted(self) -> None:
        partial = partial_path(self.output)
        self.status.setText(f"Stopped. The images classified so far are in {partial.name}; press Classify to "
                            "continue where it stopped." if partial.exists() else "Stopped.")

    def _on_error(self, error: BaseException) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setStyleSheet("color: #c0392b")
        self.status.setText(describe_failure(error)[0])
        if not isinstance(error, DovecoteError) and self.isVisible():  # a bug: the Details go with it
            show_failure(self, "Classification stopped", error)

    def _on_done(self) -> None:
        self.task = None
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        finished = self.summary is not None and not running
        self.start_button.setEnabled(not running and self.picker.model is not None)
        self.start_button.setText("Classify again" if finished else "Classify")
        self.cancel_button.setEnabled(running)
        self.cancel_button.setVisible(running)
        self.open_button.setVisible(finished)
        self.open_sorted_button.setVisible(finished and self.summary.into is not None)
        self.undo_button.setVisible(finished and self.summary.journal is not None)
        for widget in (self.picker, self.sort_box, self.unsure):
            widget.setEnabled(not running)
        self._sync_sort(self.sort_box.isChecked() and not running)

    def _open(self, path: Path | None) -> None:
        if path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def closeEvent(self, event) -> None:
        """Closing while classifying stops the run first, within a few seconds (its rows are kept for a
        later resume; a move is journalled file by file, so it can still be undone)."""
        if self.tasks.tasks:
            self.status.setText("Stopping…")
            self.repaint()
        self.tasks.shutdown()
        super().closeEvent(event)


def run_classify_window(args: argparse.Namespace) -> int:
    """`dovecote classify --gui TARGET [--model M] ...`: with a model given, classification starts at once."""
    from desktop.widgets.icons import app_icon
    from desktop.project.settings import AppSettings
    from desktop.widgets.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Dovecote")
    app.setOrganizationName("Dovecote")
    app.setWindowIcon(app_icon())
    apply_theme(app, AppSettings().theme())
    window = ClassifyWindow(Path(args.target), args.model, Path(args.output) if args.output else None,
                            args.sort, Path(args.into) if args.into else None, args.min_confidence)
    window.show()
    if args.model:
        window.start_when_ready()
    return app.exec()

"""Every run of the project (those from `dovecote train` too) in a table: select one to see its charts,
two to compare them. Rename, note, export (ONNX, TorchScript, the model bundle) and delete (after asking)."""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QItemSelection, QPoint, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QMenu,
    QMessageBox,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import DovecoteError
from core.storage import runs
from core.training.run_files import SUFFIXES, RunExported, delete_run, export_run
from desktop.project.context import ProjectContext
from desktop.widgets.error_dialog import show_error, show_failure
from desktop.tasks.jobs import in_project
from desktop.train.runs_model import RunsModel
from desktop.widgets.icons import icon
from desktop.widgets.when_shown import WhenShown

EXPORTS = (("onnx", "ONNX network (.onnx)…"), ("torchscript", "TorchScript network (.pt)…"),
           ("bundle", "Dovecote model (.safetensors)…"))
FORMAT_TITLES = {"onnx": "ONNX", "torchscript": "TorchScript", "bundle": "a Dovecote model"}


class RunsPanel(QWidget):
    selection_changed = Signal(list)  # the selected run ids, newest first

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self._context = context
        self.model = RunsModel(context, self)
        self._refresh = WhenShown(self, self.model.refresh)
        context.runs_changed.connect(self._refresh)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.model.modelAboutToBeReset.connect(self._remember_selection)
        self.model.modelReset.connect(self._restore_selection)

        self.rename_button = _button("rename", "Rename…", "Give the selected run a name")
        self.note_button = _button("note", "Note…", "Write a note about the selected run")
        self.export_button = _button("export", "Export", "Write the selected run's model as a file to use elsewhere")
        export_menu = QMenu(self)
        for fmt, title in EXPORTS:
            export_menu.addAction(title, lambda fmt=fmt: self.ask_export(fmt))
        self.export_button.setMenu(export_menu)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.delete_button = _button("delete", "Delete…", "Delete the selected runs and their models")
        self.rename_button.clicked.connect(self.ask_rename)
        self.note_button.clicked.connect(self.ask_note)
        self.delete_button.clicked.connect(self.ask_delete)
        buttons = QHBoxLayout()
        for button in (self.rename_button, self.note_button, self.export_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(buttons)
        column.addWidget(self.table, 1)
        self._kept: list[int] = []
        self._ticker = QTimer(self)  # a running run's duration keeps counting
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start()
        self._selection_changed()

    # -- selection ----------------------------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.run(row).id for row in rows]

    def select(self, run_ids: list[int]) -> None:
        """Select these runs in one change: clearing, then adding row by row, told the view of each step,
        and it redrew the charts each time."""
        self._refresh.flush()  # a run that started while the list was out of sight
        wanted = QItemSelection()
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            if row is not None:
                wanted.select(self.model.index(row, 0), self.model.index(row, 0))
        selection = self.table.selectionModel()
        selection.select(wanted, selection.SelectionFlag.ClearAndSelect | selection.SelectionFlag.Rows)
        if run_ids and self.model.row_of(run_ids[0]) is not None:
            self.table.scrollTo(self.model.index(self.model.row_of(run_ids[0]), 0))

    def _remember_selection(self) -> None:
        self._kept = self.selected_ids()

    def _restore_selection(self) -> None:
        """After the list was re-read: the same runs selected, and the view told once."""
        with QSignalBlocker(self.table.selectionModel()):
            self.select([run_id for run_id in self._kept if self.model.row_of(run_id) is not None])
        self.table.viewport().update()
        self._selection_changed()

    def _selection_changed(self) -> None:
        ids = self.selected_ids()
        one = len(ids) == 1
        self.rename_button.setEnabled(one)
        self.note_button.setEnabled(one)
        self.export_button.setEnabled(one and bool(self._run(ids[0]).model_path))
        self.delete_button.setEnabled(bool(ids) and all(self._run(i).status != "running" for i in ids))
        self.selection_changed.emit(ids)

    def _run(self, run_id: int) -> runs.RunInfo:
        return self.model.run(self.model.row_of(run_id))

    def _tick(self) -> None:
        running = [row for row in range(self.model.rowCount()) if self.model.run(row).status == "running"]
        for row in running:
            index = self.model.index(row, 5)
            self.model.dataChanged.emit(index, index)

    # -- actions --------------------------------------------------------------------------------------------------
    def rename(self, run_id: int, name: str) -> bool:
        run = self._run(run_id)
        ok, _ = self._context.write(runs.set_name, run_id, name, run.note)
        if ok:
            self._context.runs_changed.emit()
        return ok

    def set_note(self, run_id: int, note: str) -> bool:
        run = self._run(run_id)
        ok, _ = self._context.write(runs.set_name, run_id, run.name, note)
        if ok:
            self._context.runs_changed.emit()
        return ok

    def delete(self, run_ids: list[int]) -> None:
        project = self._context.project
        for run_id in run_ids:
            try:
                delete_run(project, run_id)
            except (DovecoteError, OSError) as error:  # one line for the user
                show_error(self, "Not deleted", str(error))
                break
        self._context.runs_changed.emit()
        self._context.message.emit(f"Deleted {len(run_ids)} run{'s' if len(run_ids) != 1 else ''}")

    def export(self, run_id: int, fmt: str, out: str):
        """Export in the background (the exporters load torch); the status bar says where it went."""
        project = self._context.project
        task = self._context.tasks.run(f"Exporting run {run_id}", in_project, str(project.root),
                                       str(project.store_dir), export_run, run_id, fmt, out)
        task.event.connect(self._exported)
        task.failed.connect(lambda error: show_failure(self, "Not exported", error))
        return task

    def _exported(self, event: object) -> None:
        if isinstance(event, RunExported):
            self._context.message.emit(f"Exported run {event.run_id} as {FORMAT_TITLES[event.fmt]}: {event.path}")

    # -- asking -----------------------------------------------------------------------------------------------------
    def ask_rename(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return
        run = self._run(ids[0])
        name, ok = QInputDialog.getText(self, "Rename run", f"Name of run {run.id} (empty: “Run {run.id}”):",
                                        text=run.name or "")
        if ok:
            self.rename(run.id, name)

    def ask_note(self) -> None:
        ids = self.selected_ids()
        if len(ids) != 1:
            return
        run = self._run(ids[0])
        note, ok = QInputDialog.getMultiLineText(self, "Note", f"A note about {run.title}:", run.note or "")
        if ok:
            self.set_note(run.id, note)

    def ask_export(self, fmt: str) -> None:
        ids = self.selected_ids()
        if len(ids) != 1 or self._context.project is None:
            return
        run = self._run(ids[0])
        stem = re.sub(r"[^\w.-]+", "-", f"{self._context.project.root.name}-{run.title}").strip("-")
        suggested = str(Path.home() / f"{stem}{SUFFIXES[fmt]}")
        out, _ = QFileDialog.getSaveFileName(self, f"Export {run.title}", suggested, f"*{SUFFIXES[fmt]}")
        if out:
            self.export(run.id, fmt, out)

    def ask_delete(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        names = ", ".join(self._run(i).title for i in ids)
        answer = QMessageBox.question(
            self, "Delete runs", f"Delete {names}? Their models, charts and predictions are removed; this "
            "cannot be undone. Your images and labels are not touched.",
            QMessageBox.StandardButton.Cancel | QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(ids)

    def _context_menu(self, point: QPoint) -> None:
        if not self.selected_ids():
            return
        menu = QMenu(self)
        for button in (self.rename_button, self.note_button):
            menu.addAction(button.icon(), button.text(), button.click).setEnabled(button.isEnabled())
        exports = menu.addMenu(icon("export"), "Export")
        exports.setEnabled(self.export_button.isEnabled())
        for fmt, title in EXPORTS:
            exports.addAction(title, lambda fmt=fmt: self.ask_export(fmt))
        menu.addSeparator()
        menu.addAction(icon("delete"), "Delete…", self.ask_delete).setEnabled(self.delete_button.isEnabled())
        menu.exec(self.table.viewport().mapToGlobal(point))


def _button(name: str, text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(icon(name))
    button.setText(text)
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setAutoRaise(True)
    return button

"""Choosing the model that classifies: a project folder (its latest finished run) or an exported model
file, with the ones used before offered first (remembered in the app's settings file). The chosen model's
file is read by a task (never on the GUI thread), to say what it classifies or why it cannot be used."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from desktop.tasks import Task, TaskRunner
from desktop.widgets.error_dialog import describe_failure

RECENT_KEY = "classify/recent_models"
MAX_RECENT = 8


class RecentModels:
    """The models used last, newest first; those that no longer exist are left out."""

    def __init__(self) -> None:
        self._store = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Dovecote", "Dovecote")

    def paths(self) -> list[str]:
        value = self._store.value(RECENT_KEY, [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [p for p in paths if p and Path(p).exists()]

    def add(self, path: str) -> None:
        self._store.setValue(RECENT_KEY, ([path] + [p for p in self.paths() if p != path])[:MAX_RECENT])
        self._store.sync()


@dataclass(frozen=True)
class ModelInfo:
    path: str
    classes: tuple[str, ...]
    description: str  # one line for a person


def describe_model(path: str) -> Iterator[ModelInfo]:
    """The model in a project folder or model file, as a task; raises DovecoteError when it cannot be used.
    A thread job: reading a bundle's JSON and head weights is brief I/O (benchmarks/bench_gui_classify.py
    measures the window's stalls while it runs)."""
    from core.models.bundles import load_model

    bundle = load_model(path)
    run = bundle.metadata.get("run_id")
    classes = ", ".join(bundle.classes)
    yield ModelInfo(path, tuple(bundle.classes),
                    f"{len(bundle.classes)} classes: {classes}" + (f" · run {run}" if run else ""))


class ModelPicker(QWidget):
    """A list of models with a Choose… menu, and a line saying what the chosen one classifies (or why it
    cannot be used). Only the model's description is read here: the network is built when classifying."""

    changed = Signal()  # `model` and `path` changed (`model` is None while loading and when unusable)

    def __init__(self, start_folder: Path, tasks: TaskRunner, wanted: str | None = None):
        super().__init__()
        self.start_folder = start_folder
        self.recent = RecentModels()
        self.model: ModelInfo | None = None
        self._tasks = tasks
        self._loading: Task | None = None
        self.box = QComboBox()
        self.box.setMinimumContentsLength(28)
        self.box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.box.currentIndexChanged.connect(self._selected)
        self.choose_button = QPushButton("Choose…")
        menu = QMenu(self.choose_button)
        menu.addAction("Project folder…", self._choose_project)
        menu.addAction("Model file…", self._choose_file)
        self.choose_button.setMenu(menu)
        self.info = QLabel()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.box, 1)
        row.addWidget(self.choose_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.info)
        self._fill(wanted)

    @property
    def path(self) -> str | None:
        return self.box.currentData()

    @property
    def loading(self) -> bool:
        return self._loading is not None

    def remember(self) -> None:
        if self.path:
            self.recent.add(self.path)

    def _fill(self, wanted: str | None) -> None:
        paths = self.recent.paths()
        if wanted:
            wanted = str(Path(wanted).expanduser().resolve())
            paths = [wanted] + [p for p in paths if p != wanted]
        self.box.blockSignals(True)
        self.box.clear()
        for path in paths:
            kind = "project" if Path(path).is_dir() else "model file"
            self.box.addItem(f"{Path(path).name}  ({kind})", path)
            self.box.setItemData(self.box.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        self.box.blockSignals(False)
        if paths:
            self._selected(0)
        else:
            self.info.setText("Choose a Dovecote project or an exported model file.")
            self.changed.emit()

    def _choose_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a Dovecote project folder", str(self.start_folder))
        if path:
            self.recent.add(path)
            self._fill(path)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a Dovecote model file", str(self.start_folder),
                                              "Dovecote models (*.safetensors);;All files (*)")
        if path:
            self.recent.add(path)
            self._fill(path)

    def _selected(self, index: int) -> None:
        self.model = None
        if self._loading is not None:
            self._loading.cancel()
        path = self.box.itemData(index)
        self.info.setStyleSheet("")
        self.info.setText("Reading the model…")
        task = self._tasks.run("Reading the model", describe_model, path, child=False)
        task.event.connect(lambda info: self._loaded(task, info))
        task.failed.connect(lambda error: self._unusable(task, error))
        task.done.connect(lambda: self._finished(task))
        self._loading = task
        self.changed.emit()

    def _loaded(self, task: Task, info: ModelInfo) -> None:
        if task is self._loading:
            self.model = info
            self.info.setText(info.description)

    def _unusable(self, task: Task, error: BaseException) -> None:
        if task is self._loading:
            self.info.setStyleSheet("color: #c0392b")
            self.info.setText(describe_failure(error)[0])  # a bug's traceback is in the log

    def _finished(self, task: Task) -> None:
        if task is self._loading:
            self._loading = None
            self.changed.emit()

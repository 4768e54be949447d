"""Importing (or rescanning) the open folder in the background (a task of context.tasks), with progress and
cancel. The grid shows what the store has at once; as chunks of images are committed, the views are told (at
most twice a second, and less often when re-reading takes long, so the window stays responsive and a 100,000-image
import does not spend its time redrawing)."""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from core.events import Progress
from core.importing.scanning import ImportFinished, ImportSummary, import_folder
from core.storage.summary import StoreSummary
from desktop.project.context import ProjectContext
from desktop.tasks import Task
from desktop.tasks.jobs import in_project_summarised

REFRESH_MS = 500
BUSY_SHARE = 0.1  # of the window's time, at most, spent re-reading what an import has landed so far


class ImportController(QObject):
    started = Signal(object)  # the Task
    finished = Signal(object)  # the ImportSummary; None when cancelled or failed
    failed = Signal(object)  # the exception (DovecoteError: a message for the user; anything else: a bug)

    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._task: Task | None = None
        self._next: bool | None = None  # labels_from_subfolders of an import waiting for the current to stop
        self._summary: ImportSummary | None = None
        self._left: StoreSummary | None = None  # the store as the finished import left it, read by its child
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self._landed)

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, labels_from_subfolders: bool = False) -> None:
        """Import the open project's folder. A running import (of this or another project) is cancelled
        first, and the new one starts once it has stopped: two imports never write one store at once."""
        if self._context.project is None:
            return
        if self._task is not None:
            self._next = labels_from_subfolders
            self._task.cancel()
            return
        project = self._context.project
        task = self._context.tasks.run("Importing", in_project_summarised, str(project.root), str(project.store_dir),
                                       import_folder, labels_from_subfolders)
        task.event.connect(self._on_event)
        task.failed.connect(self.failed)
        task.done.connect(self._done)
        self._task, self._summary, self._left = task, None, None
        self.started.emit(task)

    def cancel(self) -> None:
        self._next = None
        if self._task is not None:
            self._task.cancel()

    def _on_event(self, event: object) -> None:
        if isinstance(event, Progress) and event.total and not self._refresh.isActive():
            self._refresh.start()
        elif isinstance(event, ImportFinished):
            self._summary = event.summary
        elif isinstance(event, StoreSummary):
            self._left = event

    def _landed(self, left: StoreSummary | None = None) -> None:
        if self._context.project is not None:
            started = time.perf_counter()
            self._context.images_changed.emit()
            self._context.refresh_summary(left)
            spent_ms = (time.perf_counter() - started) * 1000
            self._refresh.setInterval(max(REFRESH_MS, round(spent_ms / BUSY_SHARE)))

    def _done(self) -> None:
        self._task = None
        self._refresh.stop()
        self._landed(self._left)
        self._refresh.setInterval(REFRESH_MS)
        if self._next is not None:  # superseded: the one asked for since starts now
            labels_from_subfolders, self._next = self._next, None
            self.start(labels_from_subfolders)
            return
        self.finished.emit(self._summary)

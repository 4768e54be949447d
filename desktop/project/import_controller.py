"""Importing (or rescanning) the open folder in the background, with progress and cancel. The grid shows
what the store has at once; as chunks of images are committed, the views are told (at most a few times a
second, so a 100,000-image import does not spend its time redrawing)."""
from __future__ import annotations

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from core.events import Progress
from core.importing.scanning import ImportFinished, ImportSummary
from desktop.tasks.child_process import run_in_child
from desktop.project.context import ProjectContext
from desktop.tasks.worker import GeneratorWorker

REFRESH_MS = 500


class ImportController(QObject):
    worker_started = Signal(object)  # the GeneratorWorker, for progress displays
    finished = Signal(object)  # the ImportSummary; None when cancelled or failed
    failed = Signal(str)

    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._worker: GeneratorWorker | None = None
        self._summary: ImportSummary | None = None
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self._landed)

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, labels_from_subfolders: bool = False) -> GeneratorWorker | None:
        """Import the open project's folder. A running import (of another project) is cancelled first;
        the pool's single thread runs the new one once the old one has stopped."""
        project = self._context.project
        if project is None:
            return None
        self.cancel()
        # In a child process: see desktop/child_process.py for why a thread is not enough.
        args = (str(project.root), str(project.store_dir), labels_from_subfolders)
        worker = GeneratorWorker(lambda: run_in_child("desktop.tasks.child_process:import_project", *args))
        worker.signals.yielded.connect(lambda event: worker is self._worker and self._on_event(event))
        worker.signals.errored.connect(lambda message: worker is self._worker and self.failed.emit(message))
        worker.signals.done.connect(lambda: self._done(worker))
        self._worker, self._summary = worker, None
        self._pool.start(worker)
        self.worker_started.emit(worker)
        return worker

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the worker has stopped (used when the window closes, after cancel())."""
        return self._pool.waitForDone(msecs)

    def _on_event(self, event: object) -> None:
        if isinstance(event, Progress) and event.total and not self._refresh.isActive():
            self._refresh.start()
        elif isinstance(event, ImportFinished):
            self._summary = event.summary

    def _landed(self) -> None:
        if self._context.project is not None:
            self._context.images_changed.emit()
            self._context.refresh_classes()

    def _done(self, worker: GeneratorWorker) -> None:
        if worker is not self._worker:
            return
        self._worker = None
        self._refresh.stop()
        self._landed()
        self.finished.emit(self._summary)

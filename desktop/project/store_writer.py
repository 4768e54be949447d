"""Writes that may take seconds (labelling 100,000 images, undoing that, merging a big class) run here,
one at a time, in a child process (see desktop/child_process.py: a thread would hold the interpreter lock
and make the window stutter), so the window never freezes. The caller's `done` runs on the GUI thread
after the commit: nothing is shown as done before it is stored."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from core.project import Project
from desktop.tasks.child_process import StoreActionDone, run_in_child
from desktop.tasks.worker import GeneratorWorker


class StoreWriter(QObject):
    started = Signal(str, object)  # title, GeneratorWorker: for progress displays
    finished = Signal()  # the write committed or failed
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._worker: GeneratorWorker | None = None

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def write(self, project: Project, title: str, function: str, args: tuple,
              done: Callable[[object], None]) -> None:
        """Call `function` ("package.module:name", as name(session, *args)) in one session of `project`,
        in the background; then done(its result) here."""
        paths = (str(project.root), str(project.store_dir))
        worker = GeneratorWorker(
            lambda: run_in_child("desktop.tasks.child_process:store_action", *paths, function, args))
        results: list[object] = []
        worker.signals.yielded.connect(
            lambda event: isinstance(event, StoreActionDone) and results.append(event.result))
        worker.signals.errored.connect(self.failed)
        worker.signals.done.connect(lambda: self._finish(results, done))
        self._worker = worker
        self._pool.start(worker)
        self.started.emit(title, worker)

    def wait(self, msecs: int = 120_000) -> bool:
        return self._pool.waitForDone(msecs)

    def _finish(self, results: list[object], done: Callable[[object], None]) -> None:
        self._worker = None
        if results:
            done(results[0])
        self.finished.emit()

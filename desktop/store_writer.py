"""Writes that may take seconds (labelling 100,000 images, undoing that, merging a big class) run here,
one at a time, in a thread with its own session, so the window never freezes. The caller's `done` runs on
the GUI thread after the commit: nothing is shown as done before it is stored."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal

from core.events import Progress
from core.project import Project
from desktop.worker import GeneratorWorker


@dataclass(frozen=True)
class _Committed:
    result: object


class StoreWriter(QObject):
    started = Signal(str, object)  # title, GeneratorWorker: for progress displays
    finished = Signal()  # the write committed, failed, or its project was closed meanwhile
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._worker: GeneratorWorker | None = None

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def write(self, project: Project, title: str, action: Callable, done: Callable[[object], None]) -> None:
        """Run action(session) in the background; then done(result) here, if `project` is still current."""
        def job():
            yield Progress(title, 0, None)
            with project.session() as session:
                result = action(session)
            yield _Committed(result)

        worker = GeneratorWorker(job)
        results: list[object] = []
        worker.signals.yielded.connect(lambda event: isinstance(event, _Committed) and results.append(event.result))
        worker.signals.errored.connect(self.failed)
        worker.signals.done.connect(lambda: self._finish(results, done))
        self._worker = worker
        self._pool.start(worker)
        self.started.emit(title, worker)

    def wait(self, msecs: int = 60_000) -> bool:
        return self._pool.waitForDone(msecs)

    def _finish(self, results: list[object], done: Callable[[object], None]) -> None:
        self._worker = None
        if results:
            done(results[0])
        self.finished.emit()

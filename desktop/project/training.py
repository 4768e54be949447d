"""Training runs started from the window, one at a time, through the task runner (in a child process).

Shared by the Train view (a run the user starts) and the Review view (retraining the head after relabels,
by hand or by itself): both start runs here, so there is never more than one, and everybody hears when a
run starts and ends (context.runs_changed)."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from core.training.runner import RunFinished, RunStarted, TrainConfig, train
from desktop.project.context import ProjectContext
from desktop.tasks import Task
from desktop.tasks.jobs import in_project

PREWARM_AFTER_MS: int | None = 1500  # once the window is up, a worker with torch imported (None: on demand)


class TrainingService(QObject):
    started = Signal(object, object)  # the Task, its TrainConfig
    run_started = Signal(int)  # the run id, once the run is stored
    finished = Signal(object)  # RunFinished, or None when it was cancelled or failed before the end
    failed = Signal(object)  # the exception

    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self.task: Task | None = None
        self.config: TrainConfig | None = None
        self.run_id: int | None = None
        if PREWARM_AFTER_MS is not None:  # the first run then starts at once, not after seconds of imports
            QTimer.singleShot(PREWARM_AFTER_MS, context.tasks.prewarm)

    @property
    def running(self) -> bool:
        return self.task is not None

    @property
    def fine_tuning(self) -> bool:
        return self.task is not None and self.config is not None and self.config.fine_tune is not None

    def start(self, config: TrainConfig, title: str = "Training") -> Task | None:
        """Start a run with `config`; None when no project is open or a run is already going."""
        project = self._context.project
        if project is None or self.task is not None:
            return None
        task = self._context.tasks.run(title, in_project, str(project.root), str(project.store_dir), train, config)
        self.task, self.config, self.run_id = task, config, None
        finished: list[RunFinished] = []
        task.event.connect(lambda event: self._on_event(event, finished))
        task.failed.connect(self.failed)
        task.done.connect(lambda: self._done(task, finished))
        self.started.emit(task, config)
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_event(self, event: object, finished: list) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            self.run_started.emit(event.run_id)
            self._context.runs_changed.emit()
        elif isinstance(event, RunFinished):
            finished.append(event)

    def _done(self, task: Task, finished: list) -> None:
        if task is not self.task:
            return
        self.task = None
        self.finished.emit(finished[0] if finished else None)
        self._context.runs_changed.emit()

"""Training runs started from the window, one at a time, through the task runner (in a child process).

Shared by the Train view (a run the user starts) and the Review view (retraining the head after relabels,
by hand or by itself): both start runs here, so there is never more than one, and everybody hears when a
run starts and ends (context.runs_changed)."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from core.storage import runs
from core.training.runner import RunFinished, RunStarted, TrainConfig, train
from desktop.project.context import ProjectContext
from desktop.tasks import Task
from desktop.tasks.jobs import in_project

PREWARM_AFTER_MS: int | None = 1500  # once the window is up, a worker with torch imported (None: on demand)


# Stop: the run stops at its next step (a batch); one that has not stopped by then (a long batch on a busy
# CPU) is ended. Its best model is on disk already: saved after the head and after each better epoch.
STOP_GRACE_MS = 1500
PROGRAM = "the window"  # what a `dovecote train` in a terminal is told is training the project


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

    def evaluates(self, run_id: int) -> bool:
        """Whether the run going now is `run_id`: its child stores the run's out-of-fold evaluation itself,
        after the run's model (a view that evaluated it as well would take the cores from that child)."""
        return self.task is not None and self.run_id == run_id

    @property
    def fine_tuning(self) -> bool:
        return self.task is not None and self.config is not None and self.config.fine_tune is not None

    def start(self, config: TrainConfig, title: str = "Training") -> Task | None:
        """Start a run with `config`; None when no project is open or a run is already going."""
        project = self._context.project
        if project is None or self.task is not None:
            return None
        task = self._context.tasks.run(title, in_project, str(project.root), str(project.store_dir), train, config,
                                       PROGRAM)
        self.task, self.config, self.run_id = task, config, None
        finished: list[RunFinished] = []
        task.event.connect(lambda event: self._on_event(event, finished))
        task.failed.connect(self.failed)
        task.done.connect(lambda: self._done(task, finished))
        self.started.emit(task, config)
        return task

    def cancel(self) -> None:
        task = self.task
        if task is not None:
            task.cancel()
            # A step longer than the grace (a big fine-tuning batch on a slow CPU): interrupt the child, which
            # still records the run as cancelled; one that ignores even that is ended a second later.
            QTimer.singleShot(STOP_GRACE_MS, lambda: task.running and task.interrupt())
            QTimer.singleShot(STOP_GRACE_MS + 1000, lambda: task.running and task.kill())

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
        if self.run_id is not None and self._context.project is not None:
            if task.cancelling:  # ended before it could record it: it is cancelled, its saved model kept
                self._context.write(runs.end_if_running, self.run_id, "cancelled", None)
            self._context.message.emit(outcome_message(self._context.read(runs.get_run, self.run_id)))
        self.finished.emit(finished[0] if finished else None)
        self._context.runs_changed.emit()


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def outcome_message(run: runs.RunInfo) -> str:
    """One line for the status bar when a run ends: "Model 4 ready: 93.1 % on all labelled images"."""
    if run.status == "finished":
        if run.oof_acc is not None:
            return f"Model {run.id} ready: {_percent(run.oof_acc)} on all labelled images"
        if run.val_acc is not None:
            return f"Model {run.id} ready: {_percent(run.val_acc)} on the validation images"
        return f"Model {run.id} ready"
    if run.status == "cancelled":
        if run.model_path:
            kept = f" ({_percent(run.val_acc)} on the validation images)" if run.val_acc is not None else ""
            return f"Run {run.id} stopped; its best model so far is kept{kept}"
        return f"Run {run.id} stopped before its first model was saved"
    return f"Run {run.id} {run.status}" + (f": {run.error}" if run.error else "")

"""Retraining from the Review view: the head alone on the cached embeddings, with the last run's settings
(never fine-tuning; after a fine-tuned run, on its network: core.training.retrain), by hand or by itself a few
seconds after the last label change ("Keep the model up to date while I label"), one run at a time through
the window's TrainingService, never while another run (a fine-tuning one, say) is going. After every finished
run the unlabelled images get the new model's predictions, in the background; so do those a run made
elsewhere (`dovecote train`) or before a rescan did not predict, once the window sees them."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from core.evaluation.unlabelled import predict_unlabelled
from core.storage import gallery, runs
from core.training.estimate import estimate_run
from core.training.retrain import retrain_config
from core.training.runner import RunFinished, TrainConfig
from desktop.project.context import ProjectContext
from desktop.project.settings import AppSettings
from desktop.project.training import TrainingService
from desktop.tasks.jobs import in_project

DELAY_MS = 3000  # after the last label change: a burst of keys makes one run


class RetrainController(QObject):
    state_changed = Signal(str)  # a short line for the status bar ("" when there is nothing to say)
    run_stored = Signal(int)  # a retrain started here has stored its run (model and evaluation)
    estimated = Signal(float)  # about how many seconds the next retrain takes here, from its plan
    failed = Signal(str)

    def __init__(self, context: ProjectContext, training: TrainingService, settings: AppSettings,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._context, self._training, self._settings = context, training, settings
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DELAY_MS)
        self.timer.timeout.connect(self._auto)
        self._pending = False  # labels changed while a run was going: retrain once it ends
        self._ours = False  # the running run was started here
        self.predicting = None  # the Task predicting unlabelled images
        self.started_runs = 0  # retrains started here (automatic and by hand)
        self._estimating = None  # the Task planning the next retrain
        self._tried: set[tuple[int, int]] = set()  # (run, unpredicted images) catch_up has asked predictions for
        context.labels_changed.connect(lambda _ids: self.schedule())
        context.opened.connect(lambda _project: self.catch_up())
        context.runs_changed.connect(self.catch_up)
        context.closed.connect(self._stop)
        training.finished.connect(self._finished)
        training.failed.connect(self._failed)

    @property
    def auto(self) -> bool:
        return self._settings.auto_retrain()

    def set_auto(self, on: bool) -> None:
        self._settings.set_auto_retrain(on)
        if not on:
            self.timer.stop()
            self._pending = False
            self.state_changed.emit("")

    def base_run(self) -> runs.RunInfo | None:
        """The run whose settings a retrain reuses: the latest one with a model."""
        return self._context.read(runs.latest_model_run) if self._context.project is not None else None

    def schedule(self) -> None:
        """A label changed: retrain a few seconds after the last change, when that is wanted and possible."""
        if not self.auto or self._context.project is None:
            return
        if self.base_run() is None:
            return
        if self._training.running:
            self._pending = True
            self.state_changed.emit("Labels changed: the model updates after the current run")
            return
        self.timer.start()
        self.state_changed.emit(f"Labels changed: updating the model in {DELAY_MS // 1000} s")

    def retrain(self) -> bool:
        """Train the head again now with the last run's settings; False (with a note) when it cannot."""
        self.timer.stop()
        if self._context.project is None:
            return False
        if self._training.running:
            self._pending = True
            what = "fine-tuning run" if self._training.fine_tuning else "run"
            self.state_changed.emit(f"A {what} is going: the model updates after it")
            return False
        base = self.base_run()
        config = retrain_config(base) if base else TrainConfig()
        self._pending = False
        task = self._training.start(config, "Updating the model")
        if task is None:
            return False
        # The new run is stored before its process exits: show it at once, not when the process is gone.
        task.event.connect(lambda event: isinstance(event, RunFinished) and self.run_stored.emit(event.run_id))
        self._ours = True
        self.started_runs += 1
        self.state_changed.emit("Updating the model…")
        return True

    def estimate(self) -> None:
        """Plan the next retrain as training would (core.training.estimate: the speeds measured here, what is
        cached, what the int8 check has left to do), in a child process; `estimated` gives its seconds."""
        project, base = self._context.project, self.base_run()
        if project is None or base is None or self._estimating is not None or self._training.running:
            return
        # Its embeddings are cached: the head is fitted on the CPU, as training does (runner._device).
        task = self._estimating = self._context.tasks.run(
            "Estimating the retrain", in_project, str(project.root), str(project.store_dir), estimate_run,
            retrain_config(base), "cpu", read_only=True)
        task.event.connect(lambda plan: self.estimated.emit(plan.seconds))
        # A failure (the labels cannot be trained on as they are, say) is logged; the retrain itself says why.
        task.done.connect(lambda: setattr(self, "_estimating", None))

    def _auto(self) -> None:
        if self.auto:
            self.retrain()

    def _finished(self, result: RunFinished | None) -> None:
        ours, self._ours = self._ours, False
        if result is not None and result.status == "finished":
            if self._context.counts().unlabelled:  # the shared counts: no query on the window's thread
                self._predict(result.run_id)
            else:  # every image is labelled: loading the model to predict none, and a store change, for nothing
                self._up_to_date(result.run_id)
        elif ours:
            self.state_changed.emit("The model update stopped before the end")
        if self._pending:
            self._pending = False
            self.schedule()

    def _failed(self, error: BaseException) -> None:
        if self._ours:
            self.failed.emit(_error_text(error))
            self.state_changed.emit("The model could not be updated")

    def catch_up(self) -> None:
        """Unlabelled images the newest model has not predicted (it was trained by `dovecote train`, or they
        were added since): have it predict them now. Tried once per run and number of such images, so an image
        that cannot be read is not asked about again and again."""
        if self._context.project is None or self.predicting is not None or self._training.running:
            return
        run = self.base_run()
        if run is None:
            return
        missing = self._context.read(gallery.unpredicted_unlabelled, run.id)
        if missing and (run.id, missing) not in self._tried:
            self._tried.add((run.id, missing))
            self._predict(run.id)

    def _predict(self, run_id: int) -> None:
        project = self._context.project
        if project is None:
            return
        self.state_changed.emit("Predicting the unlabelled images…")
        task = self._context.tasks.run("Predicting unlabelled images", in_project, str(project.root),
                                       str(project.store_dir), predict_unlabelled, run_id)
        self.predicting = task
        task.succeeded.connect(lambda: self._predicted(run_id))
        task.failed.connect(self._predict_failed)
        task.done.connect(lambda: setattr(self, "predicting", None))

    def _predict_failed(self, error: BaseException) -> None:
        self.failed.emit(_error_text(error))
        # Not "Predicting…" for ever: the status bar's message fades, this line stays.
        self.state_changed.emit("The unlabelled images could not be predicted (the log says why)")

    def _predicted(self, run_id: int) -> None:
        self._up_to_date(run_id)
        self._context.runs_changed.emit()  # the grid shows the new predictions

    def _up_to_date(self, run_id: int) -> None:
        self.state_changed.emit(f"Model {run_id} is up to date")

    def _stop(self) -> None:
        self.timer.stop()
        self._pending = False
        self._tried.clear()
        self.state_changed.emit("")


def _error_text(error: BaseException) -> str:
    return str(error) or type(error).__name__

"""The Train view: what a run will do and about how long it takes, its settings, the run going now (phases,
ETA, live charts, Stop), and every run of the project, one to look at or two to compare.

Runs start and stop through the window's TrainingService (shared with the Review view); the estimate, the
device list and comparisons are read in the background, so the window never waits for them."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from core.models.heads import EpochEnded
from core.storage import runs
from core.training import lock
from core.training.devices import DevicesFound, detect_devices
from core.training.estimate import estimate_run
from core.training.plan import TrainingPlan
from core.training.readiness import readiness
from core.training.runner import RunStarted
from desktop.project.context import ProjectContext
from desktop.project.settings import AppSettings
from desktop.project.training import TrainingService, outcome_message
from desktop.tasks.jobs import in_project
from desktop.train.charts import RunCharts
from desktop.train.choices import TrainChoices
from desktop.train.comparison import ComparisonPanel
from desktop.train.progress_panel import ProgressPanel, duration_text
from desktop.train.runs_panel import RunsPanel
from desktop.train.settings_panel import TrainSettingsPanel
from desktop.widgets.error_dialog import describe_failure, show_failure

ESTIMATE_DELAY_MS = 300  # settings clicked through quickly make one estimate


def _best(run: runs.RunInfo) -> tuple[str, int] | None:
    epoch = run.metrics.get("best_epoch")
    if not epoch:
        return None
    return ("fine-tune" if run.metrics.get("model") == "fine-tuned" else "head"), int(epoch)


class TrainView(QWidget):
    show_images = Signal(str, object)  # show these images in the grid (title, a list of ids)

    def __init__(self, context: ProjectContext, training: TrainingService, settings: AppSettings,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._context, self._training, self._settings = context, training, settings
        self.settings_panel = TrainSettingsPanel()
        self.progress = ProgressPanel()
        self.heading = QLabel()
        self.heading.setObjectName("chartsHeading")
        self.heading.setWordWrap(True)
        self.charts = RunCharts()
        self.comparison = ComparisonPanel(context)
        self.comparison.hide()
        self.runs = RunsPanel(context)

        scroll = QScrollArea()
        scroll.setWidget(self.settings_panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.progress)
        column.addWidget(self.heading)
        column.addWidget(self.charts, 3)
        column.addWidget(self.comparison, 2)
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 6, 6)
        left_column.addWidget(scroll, 1)
        left_column.addWidget(self.settings_panel.train_button)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(left)
        top.addWidget(right)
        top.setStretchFactor(1, 1)
        top.setSizes([330, 900])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.runs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

        self.plan: TrainingPlan | None = None  # the estimate for the current settings
        self.devices: DevicesFound | None = None
        self._live: list[EpochEnded] = []  # the running run's epochs, shown while it is selected
        self._live_run: int | None = None
        self._estimating = None
        # An estimate is wanted once the view is seen (things changed while it was hidden) or once the
        # running one ends (they changed meanwhile).
        self._estimate_due = False
        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(ESTIMATE_DELAY_MS)
        self._estimate_timer.timeout.connect(self._estimate)

        self.settings_panel.changed.connect(self._choices_changed)
        self.settings_panel.train_requested.connect(self.start)
        self.progress.cancel_requested.connect(training.cancel)
        self.runs.selection_changed.connect(self._show_selected)
        self.comparison.show_images.connect(self.show_images)
        training.started.connect(self._run_started)
        training.run_started.connect(self._run_stored)
        training.finished.connect(self._run_finished)
        training.failed.connect(self._run_failed)
        context.opened.connect(self._opened)
        context.closed.connect(self._closed)
        for signal in (context.classes_changed, context.labels_changed, context.images_changed, context.runs_changed):
            signal.connect(lambda *_: self.refresh())
        self._closed()

    # -- the project ---------------------------------------------------------------------------------------------
    def _opened(self, project) -> None:
        self.settings_panel.set_choices(TrainChoices.from_dict(self._settings.train_settings(project.root)))
        if self.isVisible():
            self._detect_devices()
        self.refresh()
        self._show_selected(self.runs.selected_ids())

    def _closed(self) -> None:
        if self._context.project is None:
            self._estimating = None  # what it says is of the project that closed
            self.plan = None
            self.settings_panel.set_summary("Open a folder of images to train a classifier on it.")
            self.settings_panel.set_problem("No project is open.")
            self.charts.clear()
            self.heading.setText("")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._context.project is not None:
            self._detect_devices()
            if self._estimate_due and self.devices is not None:  # else once the devices are known
                self._estimate_timer.start()

    def _detect_devices(self) -> None:
        """Once per window, when the view is first seen: importing torch takes seconds, so it happens in a
        child process."""
        if self.devices is not None or getattr(self, "_detecting", None) is not None:
            return
        task = self._detecting = self._context.tasks.run("Looking for GPUs", detect_devices, read_only=True)
        task.event.connect(self._devices_found)
        task.failed.connect(lambda _error: self._devices_found(DevicesFound((), "PyTorch could not be loaded.")))

    def _devices_found(self, found: DevicesFound) -> None:
        self.devices = found
        self.settings_panel.set_devices(found)
        self.refresh()

    # -- readiness and the estimate ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Whether Train can start (and why not), and a new estimate for the settings."""
        if self._context.project is None:
            return
        if self._training.running:
            self.settings_panel.set_running(True)
            return
        self.settings_panel.set_running(False)
        counts = {c.name: c.count for c in self._context.classes}
        state = readiness(counts)
        blocked = state.blocked
        holder = lock.holder(self._context.project.store_dir)
        if holder is not None:
            blocked = holder.message()
        self.settings_panel.set_problem(blocked, state.warnings)
        if state.blocked:
            self.plan = None
            self.settings_panel.set_summary("Nothing to train yet.")
            return
        labelled, classes = sum(n for n in counts.values() if n > 0), sum(1 for n in counts.values() if n > 0)
        if self.plan is None:
            self.settings_panel.set_summary(f"Train on {labelled:,} labelled images in {classes} classes.")
        # Only for eyes that see it: labelling in the grid would otherwise re-estimate after every key.
        self._estimate_due = not self.isVisible()
        if not self._estimate_due:
            self._estimate_timer.start()

    def _device_for_estimate(self) -> str:
        wanted = self.settings_panel.choices().device
        if wanted != "auto":
            return wanted
        gpus = self.devices.gpus if self.devices is not None else ()
        return gpus[0].name if gpus else "cpu"

    def _estimate(self) -> None:
        if self._context.project is None or self._training.running:
            return
        if self._estimating is not None:  # one at a time (each in a child process); the next when it ends
            self._estimate_due = True
            return
        config, project = self.settings_panel.choices().config(), self._context.project
        # In a child: the estimate reads every labelled image's row, and at 100,000 images the objects that
        # makes cost the window's thread 100 ms garbage collections (and the interpreter lock) here.
        task = self._estimating = self._context.tasks.run(
            "Estimating", in_project, str(project.root), str(project.store_dir), estimate_run, config,
            self._device_for_estimate(), read_only=True)
        task.event.connect(lambda plan: task is self._estimating and self._estimated(plan))
        task.failed.connect(lambda error: task is self._estimating and self.settings_panel.set_summary(str(error)))
        task.done.connect(lambda: task is self._estimating and self._estimate_ended())

    def _estimate_ended(self) -> None:
        self._estimating = None
        if self._estimate_due and self.isVisible():
            self._estimate_due = False
            self._estimate_timer.start()

    def _estimated(self, plan: TrainingPlan) -> None:
        self.plan = plan
        where = "this computer" if plan.device == "cpu" else "this computer's GPU"
        how = "" if plan.measured else " (a first guess until a run has measured this computer)"
        text = (f"Train on {plan.images:,} labelled images in {plan.classes} classes; "
                f"{duration_text(plan.seconds)} on {where}{how}.")
        if plan.cached:
            text += f" Features of {plan.cached:,} images are already computed."
        self.settings_panel.set_summary(text)

    def _choices_changed(self) -> None:
        if self._context.project is not None:
            self._settings.set_train_settings(self._context.project.root, self.settings_panel.choices().to_dict())
        self.refresh()

    # -- a run ---------------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._context.project is None or self._training.running:
            return
        self._training.start(self.settings_panel.choices().config())

    def _run_started(self, task, config) -> None:
        """Any run from this window (also the Review view's retraining) shows here."""
        self._live, self._live_run = [], None
        kind = "Fine-tuning" if config.fine_tune is not None else "Training"
        self.progress.begin(f"{kind}…")
        self.settings_panel.set_running(True)
        self.charts.start_live("")
        self.heading.setText("The run starting now")
        task.event.connect(self._on_event)

    def _run_stored(self, run_id: int) -> None:
        self._live_run = run_id
        self.progress.title.setText(f"Run {run_id}")
        self.runs.model.refresh()
        self.runs.select([run_id])

    def _on_event(self, event: object) -> None:
        self.progress.on_event(event)
        if isinstance(event, RunStarted):
            self.progress.title.setText(f"Run {event.run_id}: {event.images:,} images, {len(event.classes)} "
                                        f"classes, on {event.device}")
        if isinstance(event, EpochEnded):
            self._live.append(event)
            if self._showing_live():
                self.charts.add_epoch(event)

    def _showing_live(self) -> bool:
        selected = self.runs.selected_ids()
        return not selected or selected == [self._live_run]

    def _run_finished(self, _finished) -> None:
        run_id = self._live_run
        run = self._context.read(runs.get_run, run_id) if run_id is not None and self._context.project else None
        self.progress.end(outcome_message(run) if run else "Stopped before the run was stored.",
                          completed=run is not None and run.status == "finished")
        self.settings_panel.set_running(False)
        self.refresh()
        if run is not None and self.runs.selected_ids() == [run_id]:
            self._show_selected([run_id])

    def _run_failed(self, error) -> None:
        message, details = describe_failure(error)
        self.progress.end(f"Stopped: {message}", completed=False)
        if details:  # a bug, not a refusal: offer the traceback and the log
            show_failure(self, "Training stopped", error)

    # -- runs shown --------------------------------------------------------------------------------------------------
    def _show_selected(self, ids: list[int]) -> None:
        self.comparison.setVisible(len(ids) == 2)
        if not self._training.running and ids != [self._live_run]:
            self.progress.hide()  # the last run's outcome gives way to the runs chosen
        if self._context.project is None:
            return
        if not ids:
            if self._training.running:
                self._show_live()
            else:
                self.charts.clear()
                self.heading.setText("Select a run below to see its charts, or two runs to compare them.")
            return
        if len(ids) > 2:
            self.charts.clear()
            self.heading.setText("Select one run to see its charts, or two to compare them.")
            return
        if ids == [self._live_run] and self._training.running:
            self._show_live()
            return
        shown = [self._context.read(runs.get_run, i) for i in sorted(ids)]
        self.charts.show_runs([(run.title, self._context.read(runs.epochs, run.id), _best(run)) for run in shown])
        if len(shown) == 1:
            run = shown[0]
            note = f" — {run.note}" if run.note else ""
            if ids == [self._live_run] and self.progress.isVisible():  # the panel above says how it ended
                self.heading.setText(f"{run.title}: loss and accuracy per epoch, ★ the epoch kept{note}")
            else:
                named = f"{run.title}: " if run.name else ""
                self.heading.setText(f"{named}{outcome_message(run)}{note}")
        else:
            self.heading.setText(f"Comparing {shown[0].title} (blue) and {shown[1].title} (orange)")
            self.comparison.compare(shown[0].id, shown[1].id)

    def _show_live(self) -> None:
        self.charts.show_runs([("", list(self._live), None)])
        self.heading.setText(f"Run {self._live_run}, live" if self._live_run else "The run starting now")

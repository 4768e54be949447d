"""The Review view: the latest (or a chosen) run's confusion matrix, whose cells open their images beside it
to be relabelled there with the grid's keys; the queue of suspected mistakes; per-class metrics and ROC
curves; and retraining in seconds, by hand or by itself.

The run is judged on the labels it trained on: a relabelled image stays in its cell, marked "changed since
this run", and the matrix counts the changes per cell until the next run."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from core.evaluation.comparison import confusion_changes
from core.evaluation.review import ReviewData, ReviewLoaded, current_labels, review_job
from core.evaluation.run_evaluation import is_evaluated
from core.storage import gallery, labels, runs
from desktop.project.context import ProjectContext
from desktop.project.settings import AppSettings
from desktop.project.training import TrainingService
from desktop.review.confusion_widget import MIN_WIDTH, ConfusionMatrixWidget
from desktop.review.images_grid import ReviewImagesGrid
from desktop.review.images_model import ReviewImagesModel, ReviewItem
from desktop.review.large_image import LargeImage
from desktop.review.metrics_table import ClassMetricsTable
from desktop.review.mistakes import MistakesModel, MistakesQueue
from desktop.review.retrain import RetrainController
from desktop.review.retrain_bar import RetrainBar
from desktop.review.roc_plot import RocPlot
from desktop.review.run_box import RunBox
from desktop.tasks.jobs import in_project
from desktop.widgets.thumbnail_loader import ThumbnailLoader
from desktop.widgets.when_shown import WhenShown

TITLE = "Review"
_READABLE = 220  # pixels: about the narrowest the cell's images or the list of suspects are of use at


class ReviewView(QWidget):
    current_image_changed = Signal(object, int)  # image id (or None), how many are selected
    loaded = Signal(int)  # the run shown, once its review data is on screen

    def __init__(self, context: ProjectContext, thumbnails: ThumbnailLoader, training: TrainingService,
                 settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("reviewView")
        self._context, self._thumbnails, self._training = context, thumbnails, training
        self.data: ReviewData | None = None
        self.now: dict[int, int | None] = {}  # image id -> label now, for images relabelled since the run
        self.cell: tuple[int | None, int | None] | None = None
        self._selections: dict[tuple, list[int]] = {}  # per cell, kept while switching
        self._cell_of: dict[int, tuple[int, int]] = {}
        self._active = None  # the grid or the queue: whose selection the label keys use
        self._chosen_run: int | None = None  # None: follow the latest run
        self._reload = WhenShown(self, self.reload)  # call when what is shown is older than the store's runs
        self.loading = None  # the Task loading review data
        self._loading_run: tuple[str, int] | None = None  # the project and run it reads
        self.retrainer = RetrainController(context, training, settings, self)
        self.retrainer.run_stored.connect(lambda _run_id: self._invalidate())
        self._large: LargeImage | None = None
        self._hashes: dict[int, str | None] = {}  # the suspects' content hashes, for their thumbnails

        self.run_box = RunBox()
        self.run_box.run_chosen.connect(self._run_chosen)
        self.summary = QLabel("Train a model to see where it goes wrong.")
        self.summary.setObjectName("reviewSummary")
        self.summary.setWordWrap(True)
        self.bar = RetrainBar()
        self.bar.auto.setChecked(self.retrainer.auto)
        self.bar.auto.toggled.connect(self.retrainer.set_auto)
        self.bar.button.clicked.connect(self.retrainer.retrain)
        self.retrainer.estimated.connect(self.bar.set_estimate)

        self.matrix = ConfusionMatrixWidget()
        self.matrix.cell_chosen.connect(self.choose_cell)
        self.metrics = ClassMetricsTable()
        self.metrics.class_chosen.connect(self._class_chosen)
        self.roc = RocPlot()
        side_tabs = QTabWidget()
        side_tabs.addTab(self.metrics, "Per class")
        side_tabs.addTab(self.roc, "ROC")

        self.images = ReviewImagesModel(context, self)
        self.grid = ReviewImagesGrid(self.images, thumbnails, context)
        self.grid.selection_changed.connect(lambda: self._selection_changed(self.grid))
        self.cell_title = QLabel("Click a cell of the matrix to see its images.")
        self.cell_title.setWordWrap(True)

        self.mistakes_model = MistakesModel(thumbnails, self)
        self.queue = MistakesQueue(self.mistakes_model)
        self.queue.selection_changed.connect(lambda: self._selection_changed(self.queue))
        self.queue.accept_requested.connect(self.accept_suggestions)
        self.queue.keep_requested.connect(self.keep_labels)
        self.queue.show_large.connect(self._show_large)
        self.queue_title = QLabel("Suspected mistakes")
        self.queue_title.setWordWrap(True)

        left = _column(self.matrix, side_tabs)
        middle = _column(self.cell_title, self.grid)
        right = _column(self.queue_title, self.queue)
        split = self.split = QSplitter(Qt.Orientation.Horizontal)
        for part, stretch in ((left, 1), (middle, 8), (right, 2)):  # a wider window widens the images most
            split.addWidget(part)
            split.setStretchFactor(split.count() - 1, stretch)
        self._sized = False
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.run_box)
        top.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(split, 1)

        context.opened.connect(lambda _project: self._invalidate(reset=True))
        context.closed.connect(self._clear)
        context.runs_changed.connect(self._invalidate)
        context.labels_changed.connect(self._labels_changed)
        context.classes_changed.connect(self._classes_changed)
        self._clear()
        self._reload()  # a project opened before this view was made is read when the view is first shown

    # -- for the window's label actions ----------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        return (self._active or self.grid).selected_ids()

    # -- loading ------------------------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.data is not None:
            self._size_columns()

    def _invalidate(self, reset: bool = False) -> None:
        if reset:
            self._chosen_run = None
        elif self.data is not None and self._chosen_run is None and self._context.project is not None:
            if (self._context.read(_latest_run_id) == self.data.run.id
                    and not self.run_box.outdated(self._context.read(runs.list_runs))):
                return  # a run started (or was renamed): what this view shows has not changed
        self._reload()

    def reload(self) -> None:
        """Read the chosen (or latest) run's review data in the background and show it."""
        project = self._context.project
        if project is None:
            return
        self.run_box.fill(self._context.read(runs.list_runs), self._chosen_run)
        run_id = self._chosen_run or self._context.read(_latest_run_id)
        if run_id is None:
            self._show_nothing("No trained model yet: train one (Train view, or 'dovecote train FOLDER'), then "
                               "its mistakes show here.")
            return
        if self.loading is not None:
            # A run ends in steps (stored, done, its predictions made), each a change of the store; what this
            # view reads of a run is final once its evaluation is stored, so the read under way is kept, and not
            # made again after it either (a second read took the window's cores while it drew the first).
            if self._loading_run == (str(project.root), run_id):
                return
            self.loading.cancel()
            self.loading = None  # what it still sends is not shown
        evaluated = is_evaluated(project, run_id)
        if not evaluated and self._training.evaluates(run_id):
            # Its training computes the evaluation now (its model is stored first): read it once it is stored,
            # rather than compute it a second time beside it, on the same 2 cores: waiting took Retrain -> new
            # matrix from 4.9-5.5 s to 2.0-2.5 s (folds one at a time; a timeline of bench_review_loop.py).
            self.summary.setText(f"Run {run_id} is being evaluated out of fold…")
            return
        # Reading a stored evaluation is light numpy work: a thread. Computing one trains k heads: a child.
        child = not evaluated
        self.summary.setText(f"Loading run {run_id}…" if not child else f"Evaluating run {run_id} out of fold…")
        task = self._context.tasks.run(f"Reading run {run_id}", in_project, str(project.root),
                                       str(project.store_dir), review_job, run_id, child=child)
        self.loading, self._loading_run = task, (str(project.root), run_id)
        task.event.connect(lambda event: isinstance(event, ReviewLoaded) and task is self.loading
                           and self._context.project is project and self._show(event.data))  # not after a close
        task.failed.connect(lambda error: task is self.loading and self._show_nothing(str(error)))
        task.done.connect(lambda: task is self.loading and setattr(self, "loading", None))

    def _show(self, data: ReviewData) -> None:
        previous = self.data
        self.data = data
        evaluation = data.evaluation
        self.now = dict(evaluation.relabelled)
        self._cell_of = {c.image_id: cell for cell, images in evaluation.confusion.cells.items() for c in images}
        if previous is None or previous.run.id != data.run.id:
            self._selections.clear()
        kind = data.run.network or "quick (head on cached embeddings)"
        self.summary.setText(
            f"Run {data.run.id}, {kind}: all {len(evaluation.image_ids):,} labelled images, each predicted by a "
            f"model that never saw it ({evaluation.folds}-fold out of fold). Accuracy "
            f"{evaluation.metrics.accuracy:.1%}, balanced {evaluation.metrics.balanced_accuracy:.1%}.")
        self.matrix.set_confusion(evaluation.confusion, self._changed_counts())
        self._size_columns()
        self.metrics.set_metrics(evaluation.metrics)
        colours = {c.name: c.colour for c in self._context.classes}
        self.roc.set_curves(data.roc, colours)
        self.retrainer.estimate()
        self.bar.button.setEnabled(True)
        if previous is not None and previous.run.id < data.run.id:
            self.bar.show_changes(previous.run.id, data.run.id,
                                  confusion_changes(previous.evaluation.confusion, evaluation.confusion))
        self._fill_queue()
        cell = self.cell if self.cell is not None and previous is not None else _first_mistake(evaluation.confusion)
        self.matrix.choose(*cell)
        self.loaded.emit(data.run.id)

    def _size_columns(self) -> None:
        """First time: the queue a readable column, the matrix as wide as it needs where the images keep a
        readable column too (else it scrolls), the images the rest."""
        if self._sized or self.split.width() < 600:
            return
        total = self.split.width()
        right = max(_READABLE, total // 4)
        left = max(MIN_WIDTH, min(self.matrix.needed_width(), total - right - _READABLE))
        self.split.setSizes([left, max(_READABLE, total - left - right), right])
        self._sized = True

    def _show_nothing(self, note: str) -> None:
        self.data = None
        self.now, self._cell_of = {}, {}
        self.summary.setText(note)
        self.matrix.set_confusion(None)
        self.metrics.set_metrics(None)
        self.roc.set_curves([], {})
        self.images.set_items([], [], [])
        self.mistakes_model.set_rows([], {})
        self.queue_title.setText("Suspected mistakes")
        self.cell_title.setText("")
        self.bar.button.setEnabled(self.retrainer.base_run() is not None)

    def _clear(self) -> None:
        self.run_box.clear()
        self._show_nothing("Open a folder and train a model to see where it goes wrong.")
        self.bar.changes.clear()
        self.bar.set_estimate(None)

    def _run_chosen(self, run_id: int | None) -> None:
        self._chosen_run = run_id
        self.reload()

    # -- the matrix and the cell's images ----------------------------------------------------------------
    def choose_cell(self, given: int | None, predicted: int | None) -> None:
        """Show the images of a cell (None: any class on that axis), most confident first."""
        if self.data is None:
            return
        if self.cell is not None:
            self._selections[self.cell] = self.grid.selected_ids()
        self.cell = (given, predicted)
        evaluation = self.data.evaluation
        confusion = evaluation.confusion
        n = len(confusion.class_names)
        items = [ReviewItem(c.image_id, g, p, c.confidence)
                 for g in (range(n) if given is None else [given])
                 for p in (range(n) if predicted is None else [predicted])
                 for c in confusion.images(g, p)]
        items.sort(key=lambda item: (-item.confidence, item.image_id))
        self.images.set_items(items, confusion.class_names, evaluation.class_ids)
        self.images.set_relabelled(self.now)
        self.cell_title.setText(self._cell_text(given, predicted, len(items)))
        kept = self._selections.get(self.cell)
        if kept:
            self.grid.select_ids(kept)

    def _cell_text(self, given: int | None, predicted: int | None, count: int) -> str:
        names = self.data.evaluation.confusion.class_names
        images = f"{count:,} image{'s' if count != 1 else ''}"
        if given is None and predicted is None:
            what = f"All {images}"
        elif given is None:
            what = f"{images} the model calls {names[predicted]}"
        elif predicted is None:
            what = f"{images} labelled {names[given]}"
        else:
            what = f"{images} labelled {names[given]} that the model calls {names[predicted]}"
        return f"<b>{what}</b>, most confident first. Keys 1–9 relabel the selected, Backspace clears."

    def _class_chosen(self, class_index: int | None) -> None:
        self.matrix.show_only(class_index)
        self.matrix.choose(class_index, None)

    def _changed_counts(self) -> dict[tuple[int, int], int]:
        counts: dict[tuple[int, int], int] = {}
        for image_id in self.now:
            cell = self._cell_of.get(image_id)
            if cell is not None:
                counts[cell] = counts.get(cell, 0) + 1
        return counts

    # -- relabelling -------------------------------------------------------------------------------------------
    def _labels_changed(self, image_ids: list[int]) -> None:
        if self.data is None:
            return
        mine = [i for i in image_ids if i in self._cell_of]
        if not mine:
            return
        evaluation = self.data.evaluation
        at_run = {i: evaluation.class_ids[self._cell_of[i][0]] for i in mine}
        now = self._context.read(current_labels, mine)
        for image_id in mine:
            if now.get(image_id) != at_run[image_id]:
                self.now[image_id] = now.get(image_id)
            else:
                self.now.pop(image_id, None)
        self.matrix.set_changed(self._changed_counts())
        self.images.set_relabelled(self.now)
        self._fill_queue(keep_position=True)

    def _classes_changed(self) -> None:
        self.grid.viewport().update()

    def accept_suggestions(self, rows: list) -> None:
        """Relabel the suspects as the model suggests: one undoable step, recorded as accepted suggestions."""
        if self.data is None or not rows:
            return
        names = self.data.evaluation.class_names
        ids = self.data.evaluation.class_ids
        chosen = {row.image_id: ids[names.index(row.suggested)] for row in rows}
        count = f"{len(chosen):,} suggestion{'s' if len(chosen) != 1 else ''}"
        self._context.assign_labels(chosen, labels.ACCEPTED_SUGGESTION, f"Accepted {count}")

    def keep_labels(self, rows: list) -> None:
        """The user says these labels are right: the queue will not ask again for this run (or its retrains)."""
        if self.data is None or not rows:
            return
        evaluation = self.data.evaluation
        kept = {row.image_id: evaluation.class_ids[self._cell_of[row.image_id][0]] for row in rows}
        ok, _ = self._context.write(runs.keep_labels, self.data.run.id, kept)
        if ok:
            self.data.kept.update(kept)
            self._fill_queue(keep_position=True)
            self._context.message.emit(f"Kept {len(kept):,} label{'s' if len(kept) != 1 else ''} as they are")

    def _fill_queue(self, keep_position: bool = False) -> None:
        row = self.queue.currentIndex().row() if keep_position else 0
        suspects = self.data.suspects(self.now) if self.data else []
        if suspects and self.mistakes_model.rows == suspects:
            return
        if not keep_position:  # a new run: its suspects' thumbnails, once
            cards = self._context.read(gallery.cards, [s.image_id for s in suspects]) if suspects else {}
            self._hashes = {i: card.content_hash for i, card in cards.items()}
        self.mistakes_model.set_rows(suspects, self._hashes)
        self.queue_title.setText(f"<b>Suspected mistakes ({len(suspects):,})</b>: Enter relabels as suggested, "
                                 "K keeps the label, Space shows it large")
        if keep_position and suspects and self._active is self.queue:
            self.queue.select_row(max(0, row))  # on to the next suspect

    # -- selection and the large picture ------------------------------------------------------------------
    def _selection_changed(self, source) -> None:
        if source.hasFocus() or self._active is None:  # the user's choice, not a refill of the other
            self._active = source
        if source is not self._active:
            return
        ids = source.selected_ids()
        self.current_image_changed.emit(source.current_id() if ids else None, len(ids))

    def _show_large(self, image_id: int) -> None:
        row = next((r for r in self.mistakes_model.rows if r.image_id == image_id), None)
        if row is None or self._context.project is None:
            return
        if self._large is None:
            self._large = LargeImage(self)
        caption = f"{row.path}: labelled {row.given}; the model suggests {row.suggested} ({row.confidence:.0%})."
        self._large.show_image(self._context.tasks, self._context.project.root / row.path, caption)


def _latest_run_id(session) -> int | None:
    run = runs.latest_model_run(session)
    return run.id if run else None


def _first_mistake(confusion) -> tuple[int | None, int | None]:
    """The biggest mistake cell, to open with (every image when there is none)."""
    n = len(confusion.class_names)
    cells = [(confusion.counts[g][p], g, p) for g in range(n) for p in range(n) if g != p and confusion.counts[g][p]]
    if not cells:
        return None, None
    _, given, predicted = max(cells)
    return given, predicted


def _column(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for number, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if number == len(widgets) - 1 or isinstance(widget, ConfusionMatrixWidget) else 0)
    return box

"""The open project, shared by every panel: it performs the user's store actions (one session each,
committed before anyone is told) and announces what changed, so views refresh from the store.
Small changes are written at once; large ones (labelling 100,000 images, undoing that, merging a big class)
by a task in a child process (a thread would hold the interpreter lock and the window would stutter), during
which further changes are refused with a note. Nothing is shown as done before it is stored. Every change
reads the store's summary (classes, counts, undo's next step) in the session that made it, in the child
process for large ones, so the window's thread never re-reads a large store after a large write."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from core.errors import DovecoteError
from core.project import Project
from core.storage import gallery, labels
from core.storage.labels import ClassInfo
from core.storage.summary import StoreSummary, act_and_summarise, read_summary
from desktop.tasks import Task, TaskRunner
from desktop.tasks.jobs import StoreActionDone, store_action

T = TypeVar("T")
HOTKEYS = 9  # classes 1..9 have a number key
BACKGROUND_AT = 2_000  # label changes of this many images are written in the background
WATCH_MS = 1_500  # how often the store is checked for changes another process made (the CLI, a second window)


class ProjectContext(QObject):
    opened = Signal(object)  # the Project
    closed = Signal()
    images_changed = Signal()  # images added, changed or gone (an import landed)
    # object, not list: a list signal copies its items for each slot (5 slots, 100,000 ids: 110 ms)
    labels_changed = Signal(object)  # ids of images whose label changed (a list)
    classes_changed = Signal()  # names, colours, order or counts
    history_changed = Signal()  # what undo / redo would do, or whether a change is being written
    history_step = Signal(object)  # an undo or redo was stored: its labels.UndoStep
    runs_changed = Signal()  # a training run started, ended, was renamed or deleted (here or elsewhere)
    failed = Signal(object)  # a store action failed: the exception (DovecoteError: a message for the user)
    message = Signal(str)  # a short note for the status bar

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.project: Project | None = None
        self._summary: StoreSummary | None = None  # as the latest change (or outside change) left the store
        self._classes: list[ClassInfo] = []
        self._by_id: dict[int, ClassInfo] = {}
        self.can_undo = False
        self.can_redo = False
        self.next_undo: labels.HistoryEntry | None = None  # what Undo / Redo would do (the menus name it)
        self.next_redo: labels.HistoryEntry | None = None
        self._signature: tuple | None = None  # labels.change_signature as this window last left or saw it
        self._known_batch = 0  # the newest change batch this window knows of
        self.foreign_batches: set[int] = set()  # changes another process made while this window was open
        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_MS)
        self._watch.timeout.connect(self.check_for_outside_changes)
        self.tasks = TaskRunner(self)  # every background job of this window goes through it
        self._write: Task | None = None  # the change being written in the background

    @property
    def busy(self) -> bool:
        """A background write is running: other changes wait for it."""
        return self._write is not None

    # -- opening --------------------------------------------------------------------------------------
    def open(self, folder: str | Path) -> Project:
        """Open `folder` as the project (raises DovecoteError with a message for the user)."""
        project = Project.open(folder)
        project.mark_interrupted_runs()
        self.close()
        self.project = project
        self.foreign_batches, self._known_batch = set(), 0
        self._apply(self.read(read_summary))
        self._watch.start()
        self.opened.emit(project)
        return project

    def close(self) -> None:
        if self.project is None:
            return
        self._watch.stop()
        self.project.close()
        self.project = None
        self._summary, self._classes, self._by_id = None, [], {}
        self.can_undo = self.can_redo = False
        self.next_undo = self.next_redo = None
        self.closed.emit()

    # -- reading ----------------------------------------------------------------------------------------
    @property
    def classes(self) -> list[ClassInfo]:
        return self._classes

    def class_by_id(self, class_id: int | None) -> ClassInfo | None:
        return self._by_id.get(class_id) if class_id is not None else None

    def class_for_key(self, number: int) -> ClassInfo | None:
        """The class with number key `number` (1-based, in sidebar order)."""
        return self._classes[number - 1] if 1 <= number <= min(HOTKEYS, len(self._classes)) else None

    def read(self, query: Callable[..., T], *args) -> T:
        """Run a read-only store query in its own session."""
        with self.project.session() as session:
            return query(session, *args)

    def write(self, action: Callable[..., T], *args) -> tuple[bool, T | None]:
        """A small store action (function(session, *args)) in one committed session; (ok, its result). A
        DovecoteError becomes `failed` with its message."""
        if self.project is None:
            return False, None
        return self._act(lambda session: action(session, *args))

    def counts(self) -> gallery.Counts:
        """Read once per change and shared by every view (the status bar, the Show box, the grid's message)."""
        return self._summary.counts if self._summary is not None else gallery.Counts(0, 0, 0, 0)

    @property
    def predictions_stale(self) -> bool:
        """The newest model's predictions of unlabelled images are older than the latest labels."""
        return self._summary is not None and self._summary.predictions_stale

    # -- changing -----------------------------------------------------------------------------------------
    def set_labels(self, image_ids: list[int], class_id: int | None,
                   then: Callable[[], None] | None = None, source: str = labels.MANUAL) -> bool:
        """Label the images (None clears). `then` runs once it is stored (or when they had that label
        already). `source` is who decided, for the history (labels.MANUAL, ACCEPTED_SUGGESTION,
        ACCEPTED_PREDICTION). False when refused (no project, nothing selected, busy) or failed."""
        if self.project is None or not image_ids or self._refuse_while_busy():
            return False
        label = self.class_by_id(class_id)
        count = f"{len(image_ids):,} image{'s' if len(image_ids) != 1 else ''}"
        note = f"Labelled {count} {label.name!r}" if label else f"Cleared the label of {count}"

        def done(batch, summary: StoreSummary) -> None:
            if batch is not None:
                self._after_labels(image_ids, summary)
            self.message.emit(note)
            if then is not None:
                then()

        return self._change(f"Labelling {count}", labels.set_labels, (list(image_ids), class_id, source), done,
                            background=len(image_ids) >= BACKGROUND_AT)

    def assign_labels(self, labels_by_image: dict[int, int | None], source: str, note: str) -> bool:
        """Give each image its own class in one undoable step (accepted suggestions or predictions)."""
        if self.project is None or not labels_by_image:
            return False

        def done(batch, summary: StoreSummary) -> None:
            if batch is not None:
                self._after_labels(list(labels_by_image), summary)
            self.message.emit(note)

        return self._change("Labelling", labels.assign_labels, (labels_by_image, source), done)

    def undo(self) -> None:
        self._walk_history("Undid", "undo", labels.undo)

    def redo(self) -> None:
        self._walk_history("Redid", "redo", labels.redo)

    def add_class(self, name: str) -> int | None:
        added: list[int] = []

        def done(class_id: int, summary: StoreSummary) -> None:
            added.append(class_id)
            self._after_classes(summary, f"Added class {name.strip()!r}")

        self._change("Adding a class", labels.add_class, (name,), done)
        return added[0] if added else None

    def rename_class(self, old: str, new: str) -> bool:
        return self._class_action(labels.rename_class, (old, new), f"Renaming {old!r}",
                                  f"Renamed {old!r} to {new.strip()!r}")

    def merge_classes(self, source: str, target: str) -> bool:
        return self._class_action(labels.merge_classes, (source, target), f"Merging {source!r}",
                                  f"Merged {source!r} into {target!r}", self._count_of(source))

    def delete_class(self, name: str) -> bool:
        return self._class_action(labels.delete_class, (name,), f"Deleting {name!r}", f"Deleted class {name!r}",
                                  self._count_of(name))

    def _count_of(self, name: str) -> int:
        return next((c.count for c in self._classes if c.name == name), 0)

    # -- helpers ------------------------------------------------------------------------------------------
    def _act(self, action: Callable[..., T]) -> tuple[bool, T | None]:
        """One user action in one session, committed on return; an error becomes a message for the user."""
        if self._refuse_while_busy():
            return False, None
        try:
            with self.project.session() as session:
                return True, action(session)
        except DovecoteError as error:
            self.failed.emit(error)
            return False, None

    def _change(self, title: str, function: Callable[..., object], args: tuple,
                done: Callable[[object, StoreSummary], None], background: bool = False) -> bool:
        """function(session, *args) committed, then done(its result, the store's summary after it): in a
        child process when `background` (title: its progress), else at once. False when refused or failed."""
        if self.project is None or self._refuse_while_busy():
            return False
        if background:
            self._in_background(title, act_and_summarise, (function, *args), done)
            return True
        ok, found = self._act(lambda session: act_and_summarise(session, function, *args))
        if ok:
            done(*found)
        return ok

    def _refuse_while_busy(self) -> bool:
        if self.busy:
            self.message.emit("Still saving the previous change; try again in a moment.")
        return self.busy

    def _in_background(self, title: str, function: Callable[..., object], args: tuple,
                       done: Callable[..., None]) -> None:
        """function(session, *args) in a child process; done(*its result) here once it is committed, if the
        project is still open."""
        project = self.project
        task = self.tasks.run(title, store_action, str(project.root), str(project.store_dir), function, *args,
                              cancellable=False)  # a half-done relabel would be rolled back: let it finish
        results: list[object] = []
        task.event.connect(lambda event: isinstance(event, StoreActionDone) and results.append(event.result))
        task.failed.connect(self.failed)
        task.done.connect(lambda: self._written(task, project, results, done))
        self._write = task
        self.history_changed.emit()  # undo/redo are unavailable until it is stored

    def _written(self, task: Task, project: Project, results: list, done: Callable[..., None]) -> None:
        if task is self._write:
            self._write = None
        if project is not self.project:
            return
        if results:
            done(*results[0])
        else:  # failed (the user was told): show the store as it is
            self._apply(self.read(read_summary))

    def _class_action(self, function: Callable[..., object], args: tuple, title: str, note: str,
                      images: int = 0) -> bool:
        def done(_result, summary: StoreSummary) -> None:
            self._after_classes(summary, note)
            self.images_changed.emit()  # merges and deletes relabel images

        return self._change(title, function, args, done, background=images >= BACKGROUND_AT)

    def _walk_history(self, verb: str, name: str, step: Callable[..., object]) -> None:
        """Undo or redo: at once when small, in the background when it relabels many images."""
        if self.project is None or self._refuse_while_busy():
            return

        def done(result, summary: StoreSummary) -> None:
            if result is None:
                self.message.emit(f"Nothing to {name}.")
                return
            self._after_labels(result.image_ids, summary)
            self.message.emit(f"{verb}: {result.description}")
            self.history_step.emit(result)

        self._change(f"{name.capitalize()}ing", step, (), done,
                     background=self.read(gallery.history_step_size, name == "undo") >= BACKGROUND_AT)

    def _after_labels(self, image_ids: list[int], summary: StoreSummary) -> None:
        self._apply(summary)
        self.labels_changed.emit(list(image_ids))
        self.classes_changed.emit()

    def _after_classes(self, summary: StoreSummary, note: str) -> None:
        self._apply(summary)
        self.classes_changed.emit()
        self.message.emit(note)

    def _apply(self, summary: StoreSummary) -> None:
        """Show the store as `summary` says; the changes up to it are known here from now on (another
        process's were added to foreign_batches by the caller)."""
        self._summary = summary
        self._classes = list(summary.classes)
        self._by_id = {c.id: c for c in self._classes}
        self._signature = summary.signature
        self._known_batch = max(self._known_batch, summary.signature[0] or 0)
        self.next_undo, self.next_redo = summary.next_undo, summary.next_redo
        self.can_undo, self.can_redo = summary.next_undo is not None, summary.next_redo is not None
        self.history_changed.emit()

    def is_foreign(self, entry: labels.HistoryEntry | None) -> bool:
        """Made by another process while this window was open (undoing it would undo someone else's work)."""
        return entry is not None and entry.batch_id in self.foreign_batches

    def check_for_outside_changes(self) -> bool:
        """Poll (cheap: one indexed query): labels or classes changed by another process are shown here, and
        their batches remembered as not this window's. True when something had changed."""
        if self.project is None or self.busy:
            return False
        if self.read(labels.change_signature) == self._signature:
            return False
        summary = self.read(read_summary)
        self.foreign_batches.update(range(self._known_batch + 1, (summary.signature[0] or 0) + 1))
        self._apply(summary)
        self.classes_changed.emit()
        self.images_changed.emit()  # which images changed is unknown here: views re-read what they show
        self.message.emit("Labels were changed outside this window; showing them now.")
        return True

    def refresh_summary(self, summary: StoreSummary | None = None) -> None:
        """Show classes, counts and undo's next step as an import left them: `summary` as the import read
        it, or read now. The import's batches are this window's own."""
        if self.project is not None:
            self._apply(summary if summary is not None else self.read(read_summary))
            self.classes_changed.emit()

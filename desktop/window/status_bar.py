"""The status bar: image counts on the left, and background tasks (import, and later training) on the
right with their progress and a Cancel button. Any GeneratorWorker that yields core Progress events can be
tracked."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from core.events import Progress
from core.storage.gallery import Counts
from desktop.widgets.icons import icon
from desktop.tasks.worker import GeneratorWorker

MESSAGE_MS = 6000


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts = QLabel()  # permanent: temporary messages show on the left without hiding it
        self.counts.setObjectName("counts")
        self.task = QLabel()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.cancel = QToolButton()
        self.cancel.setIcon(icon("cancel"))
        self.cancel.setIconSize(QSize(16, 16))
        self.cancel.setAutoRaise(True)
        self.cancel.setToolTip("Stop this task (what is done so far is kept)")
        for widget in (self.task, self.progress, self.cancel):
            self.addPermanentWidget(widget)
            widget.hide()
        self.addPermanentWidget(self.counts)
        self._tasks: list[_Task] = []
        self._selected = 0
        self._counts: Counts | None = None
        self.cancel.clicked.connect(self._cancel)

    def show_counts(self, counts: Counts | None) -> None:
        self._counts = counts
        self._render_counts()

    def show_selected(self, selected: int) -> None:
        self._selected = selected
        self._render_counts()

    def _render_counts(self) -> None:
        c = self._counts
        if c is None:
            self.counts.clear()
            return
        parts = [f"{c.images:,} images", f"{c.labelled:,} labelled", f"{c.unlabelled:,} unlabelled"]
        if c.unreadable:
            parts.append(f"{c.unreadable:,} unreadable")
        if self._selected:
            parts.append(f"{self._selected:,} selected")
        self.counts.setText("   ·   ".join(parts))

    # -- background tasks -------------------------------------------------------------------------------
    def track(self, title: str, worker: GeneratorWorker, cancellable: bool = True) -> None:
        """Show `worker`'s progress until it is done (the newest task shows when several run); Cancel asks
        it to stop."""
        self._tasks.append(_Task(worker, title, cancellable))
        worker.signals.yielded.connect(lambda event: self._on_event(worker, event))
        worker.signals.done.connect(lambda: self._finish(worker))
        self._render_task()

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def _on_event(self, worker: GeneratorWorker, event: object) -> None:
        if isinstance(event, Progress):
            for task in self._tasks:
                if task.worker is worker:
                    task.progress = event
            if self._tasks and self._tasks[-1].worker is worker:
                self._render_task()

    def _render_task(self) -> None:
        for widget in (self.task, self.progress, self.cancel):
            widget.setVisible(bool(self._tasks))
        if not self._tasks:
            return
        task = self._tasks[-1]
        self.cancel.setVisible(task.cancellable)
        self.cancel.setEnabled(not task.worker.cancelled)
        event = task.progress
        if task.worker.cancelled:
            self.task.setText(f"{task.title}: stopping…")
        elif event is None:
            self.task.setText(f"{task.title}…")
        elif event.total:
            self.task.setText(f"{task.title}: {event.phase.lower()} {event.done:,} / {event.total:,}")
        else:
            self.task.setText(f"{task.title}: {event.phase.lower()} ({event.done:,})")
        if event is not None and event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
        else:
            self.progress.setRange(0, 0)  # busy until a total is known

    def _cancel(self) -> None:
        if self._tasks:
            self._tasks[-1].worker.cancel()
            self._render_task()

    def _finish(self, worker: GeneratorWorker) -> None:
        self._tasks = [task for task in self._tasks if task.worker is not worker]
        self._render_task()


@dataclass
class _Task:
    worker: GeneratorWorker
    title: str
    cancellable: bool
    progress: Progress | None = None

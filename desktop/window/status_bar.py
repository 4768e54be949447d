"""The status bar: image counts on the left, and background tasks (every Task of the window's runner:
import, large label changes, training) on the right with their progress and a Cancel button."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from core.events import Progress
from core.storage.gallery import Counts
from desktop.tasks import Task
from desktop.widgets.icons import icon

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
        self._tasks: list[_Shown] = []
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
    def track(self, task: Task) -> None:
        """Show `task`'s progress until it is done (the newest shows when several run); Cancel asks it to
        stop. Connect it to TaskRunner.started."""
        self._tasks.append(_Shown(task))
        task.event.connect(lambda event: self._on_event(task, event))
        task.done.connect(lambda: self._finish(task))
        self._render_task()

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def _on_event(self, task: Task, event: object) -> None:
        if isinstance(event, Progress):
            for shown in self._tasks:
                if shown.task is task:
                    shown.progress = event
            if self._tasks and self._tasks[-1].task is task:
                self._render_task()

    def _render_task(self) -> None:
        for widget in (self.task, self.progress, self.cancel):
            widget.setVisible(bool(self._tasks))
        if not self._tasks:
            return
        shown = self._tasks[-1]
        task, event = shown.task, shown.progress
        self.cancel.setVisible(task.cancellable)
        self.cancel.setEnabled(not task.cancelling)
        if task.cancelling:
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
            self._tasks[-1].task.cancel()
            self._render_task()

    def _finish(self, task: Task) -> None:
        self._tasks = [shown for shown in self._tasks if shown.task is not task]
        self._render_task()


@dataclass
class _Shown:
    task: Task
    progress: Progress | None = None

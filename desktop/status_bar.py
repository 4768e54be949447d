"""The status bar: image counts on the left, and background tasks (import, and later training) on the
right with their progress and a Cancel button. Any GeneratorWorker that yields core Progress events can be
tracked."""
from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from core.events import Progress
from core.storage.gallery import Counts
from desktop.icons import icon
from desktop.worker import GeneratorWorker

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
        self._worker: GeneratorWorker | None = None
        self._title = ""
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
    def track(self, title: str, worker: GeneratorWorker) -> None:
        """Show `worker`'s progress until it is done; Cancel asks it to stop."""
        self._worker, self._title = worker, title
        self.task.setText(f"{title}…")
        self.progress.setRange(0, 0)  # busy until the total is known
        self.cancel.setEnabled(True)
        for widget in (self.task, self.progress, self.cancel):
            widget.show()
        worker.signals.yielded.connect(lambda event: worker is self._worker and self._on_event(event))
        worker.signals.done.connect(lambda: worker is self._worker and self._finish())

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def _on_event(self, event: object) -> None:
        if not isinstance(event, Progress):
            return
        if event.total:
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.task.setText(f"{self._title}: {event.phase.lower()} {event.done:,} / {event.total:,}")
        else:
            self.progress.setRange(0, 0)
            self.task.setText(f"{self._title}: {event.phase.lower()} ({event.done:,})")

    def _cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.cancel.setEnabled(False)
            self.task.setText(f"{self._title}: stopping…")

    def _finish(self) -> None:
        self._worker = None
        for widget in (self.task, self.progress, self.cancel):
            widget.hide()

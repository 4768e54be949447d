"""Notices runs that another process starts or ends (`dovecote train` in a terminal) and announces them as
context.runs_changed, so the runs list and the prediction filters follow without reopening the project.
Polls a one-row summary of the runs table every POLL_MS: a fraction of a millisecond."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from core.errors import DovecoteError
from core.storage import runs
from desktop.project.context import ProjectContext

POLL_MS = 2000


class RunWatcher(QObject):
    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._seen: tuple | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.check)
        context.opened.connect(lambda _project: self._start())
        context.closed.connect(self._timer.stop)
        context.runs_changed.connect(self._remember)  # what this window announced needs no second signal

    def _start(self) -> None:
        self._remember()
        self._timer.start()

    def _read(self) -> tuple | None:
        try:
            return self._context.read(runs.signature) if self._context.project is not None else None
        except DovecoteError:  # a busy store: try again at the next poll
            return self._seen

    def _remember(self) -> None:
        self._seen = self._read()

    def check(self) -> None:
        now = self._read()
        if now != self._seen:
            self._seen = now
            self._context.runs_changed.emit()

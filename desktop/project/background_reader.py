"""Store reads too slow for the GUI thread (the id list of a 100,000-image project: 50-150 ms), run on a thread
of their own. Only the newest question counts: a reply that was superseded, or that comes after the project
closed, is dropped, so a user typing a search or flipping sort orders never waits for old answers."""
from __future__ import annotations

import logging
import threading
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal

from desktop.project.context import ProjectContext

log = logging.getLogger(__name__)


class BackgroundReader(QObject):
    _replied = Signal(int, object)  # generation, result (from the reading thread, queued to the GUI thread)

    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._generation = 0
        self._question: tuple[int, object, Callable, tuple] | None = None  # the newest, not yet taken
        self._then: Callable[[object], None] | None = None
        self._wake = threading.Condition()
        self._stopped = False
        self._replied.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        context.closed.connect(self.forget)
        context.destroyed.connect(self._stop)
        threading.Thread(target=self._work, name="store-reader", daemon=True).start()

    @property
    def waiting(self) -> bool:
        """A question was asked and its answer is not delivered yet."""
        return self._then is not None

    def ask(self, query: Callable[..., object], *args, then: Callable[[object], None]) -> None:
        """Run query(session, *args) on the reading thread; `then(result)` on the GUI thread, unless another
        question was asked meanwhile or the project closed."""
        project = self._context.project
        if project is None:
            return
        with self._wake:
            self._generation += 1
            self._question = (self._generation, project, query, args)
            self._then = then
            self._wake.notify()

    def forget(self) -> None:
        with self._wake:
            self._generation += 1
            self._question, self._then = None, None

    def _stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _deliver(self, generation: int, result: object) -> None:
        if generation != self._generation or self._then is None:
            return
        then, self._then = self._then, None
        if not isinstance(result, _Failed):
            then(result)

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._question is None and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                (generation, project, query, args), self._question = self._question, None
            try:
                with project.session() as session:
                    result = query(session, *args)
            except Exception:  # e.g. the project closed under it: what is shown stays, the next change asks again
                log.warning("a background read of the store failed", exc_info=True)
                result = _Failed()
            try:
                self._replied.emit(generation, result)
            except RuntimeError:  # the window was deleted meanwhile
                return


class _Failed:
    """The reply of a read that raised (its details are in the log)."""

"""The one way desktop/ runs long core work: iterate a core generator in a thread, re-emit its events.

Signals are queued to the GUI thread, so slots may touch widgets. Cancellation is cooperative: cancel()
sets a flag that is checked between events, and the generator is then closed (its `finally` and
GeneratorExit handlers run in the worker thread), never killed."""
from __future__ import annotations

import threading
import traceback
from typing import Callable, Iterator

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.errors import DovecoteError


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)  # each event of the generator
    finished = Signal()  # ran to its end
    aborted = Signal()  # stopped by cancel()
    errored = Signal(str)  # a message for the user; details go to stderr
    done = Signal()  # after any of finished / aborted / errored


class GeneratorWorker(QRunnable):
    def __init__(self, make_generator: Callable[[], Iterator[object]]):
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it until done
        self.signals = WorkerSignals()
        self._make_generator = make_generator
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        signals = self.signals
        signals.started.emit()
        generator = None
        try:
            generator = self._make_generator()
            for event in generator:
                if self._cancel.is_set():
                    break
                signals.yielded.emit(event)
            if self._cancel.is_set():
                generator.close()
                signals.aborted.emit()
            else:
                signals.finished.emit()
        except DovecoteError as error:
            signals.errored.emit(str(error))
        except Exception as error:  # a bug: say what happened, keep the app alive
            traceback.print_exc()
            signals.errored.emit(f"Unexpected error: {error!r}. Details were written to the log.")
        finally:
            signals.done.emit()


def start(worker: GeneratorWorker, pool: QThreadPool | None = None) -> GeneratorWorker:
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker

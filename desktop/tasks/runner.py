"""The one task runner: every background job of the window goes through TaskRunner.run().

A job is a core generator function and its arguments. By default it runs in a child process (a thread
would hold the interpreter lock for the many small Python steps of decoding, hashing and training, and the
window would stutter; see child.py), one of a few kept warm between jobs (pool.py); `child=False` runs it in
a thread, for work measured to be harmless.
Its events come back to the GUI thread as signals emitted there, from its event loop (so a caller that
connects right after run() misses none, and every slot runs in the GUI thread): every event in order, except
that Progress events are thinned to at most ~20 a second, the latest always delivered. Cancelling is
cooperative (a flag checked between events; the generator is then closed and records its own state).
Failures arrive as exception objects: a DovecoteError carries a message for the user, anything else is a bug
whose traceback is logged."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterator

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal

from core.errors import DovecoteError
from core.events import Progress
from desktop.tasks.child import KILL_AFTER_S, TaskCrashed, WorkerProcess
from desktop.tasks.pool import WorkerPool

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates a second reach the window
SHUTDOWN_S = 5.0  # closing the window: how long running jobs get to stop before their processes are ended


class Task(QObject):
    """One background job, owned by the runner until it is done. Connect before the event loop runs again."""

    event = Signal(object)  # each event of the generator (Progress thinned, the latest always delivered)
    succeeded = Signal()  # the generator ran to its end
    cancelled = Signal()  # it stopped because cancel() was called
    failed = Signal(object)  # the exception: DovecoteError for a message, anything else is a bug
    done = Signal()  # after exactly one of succeeded / cancelled / failed
    _relay = Signal(str, tuple)  # from the worker thread: (public signal's name, its arguments)

    def __init__(self, title: str, function: Callable[..., Iterator[object]], args: tuple,
                 pool: WorkerPool | None, cancellable: bool, read_only: bool = False):
        super().__init__()
        self.title = title
        self.cancellable = cancellable
        self.read_only = read_only
        self.error: BaseException | None = None
        self._function, self._args, self._pool = function, args, pool
        self._cancel = threading.Event()
        self._stopped = False  # its outcome is known (set before the signals that say so reach the GUI thread)
        self._finished = threading.Event()  # and every signal has been sent
        self._process: WorkerProcess | None = None  # the child running it
        # Queued even when the job is quick: a signal emitted in the worker thread before the caller connected
        # would be lost (a fast thread job's `done` with it), and a slot would run in the worker thread.
        self._relay.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @property
    def cancelling(self) -> bool:
        return self._cancel.is_set()

    @property
    def running(self) -> bool:
        return not self._stopped

    def cancel(self) -> None:
        """Ask the job to stop after its current step; what it finished is kept."""
        self._cancel.set()
        if self._process is not None:
            self._process.cancel()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the job has stopped (True) or `timeout_s` passed (False)."""
        return self._finished.wait(timeout_s)

    def interrupt(self) -> None:
        """Stop the job's child process now (window close, a job that did not stop when asked): it may still
        record its state. The store is transactional: what was committed stays, nothing half-written does."""
        if self._process is not None and not self._finished.is_set():  # that worker may be on its next job
            self._process.interrupt()

    def kill(self) -> None:
        """End the job's child process without a word (one that did not stop when interrupted)."""
        if self._process is not None and not self._finished.is_set():
            self._process.kill()

    def _deliver(self, name: str, args: tuple) -> None:
        getattr(self, name).emit(*args)
        if name != "event":  # the outcome, then done in the same turn of the event loop: nothing that runs
            self.done.emit()  # in between can find a task that has failed (or ended) but is not yet done

    # -- in the worker thread ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The id of the child process running it (None in a thread, or before it started)."""
        return self._process.pid if self._process is not None else None

    def _events(self) -> Iterator[object]:
        if self._pool is not None:
            return self._pool.run(self._function, self._args, PROGRESS_INTERVAL_S, self._attach)
        return self._function(*self._args)

    def _attach(self, process: WorkerProcess) -> None:
        self._process = process
        if self._cancel.is_set():
            process.cancel()

    def _run(self) -> None:
        pending: Progress | None = None
        last_progress = 0.0
        outcome, error = "succeeded", None
        generator = None
        try:
            generator = (e for e in ()) if self._cancel.is_set() else self._events()  # cancelled while queued
            for event in generator:
                if self._cancel.is_set():
                    break
                now = time.monotonic()
                if isinstance(event, Progress) or event is None:  # None: a quiet poll of the child
                    pending = event if event is not None else pending
                    if pending is not None and now - last_progress >= PROGRESS_INTERVAL_S:
                        self._relay.emit("event", (pending,))
                        pending, last_progress = None, now
                    continue
                if pending is not None:
                    self._relay.emit("event", (pending,))
                    pending, last_progress = None, now
                self._relay.emit("event", (event,))
            if self._cancel.is_set():
                outcome = "cancelled"
        except BaseException as exc:  # noqa: BLE001 - delivered to the GUI, which shows it
            if self._cancel.is_set():
                outcome = "cancelled"
            else:
                outcome, error = "failed", exc
                _log_failure(self.title, exc)
        finally:
            if generator is not None:
                try:
                    generator.close()  # a cancelled job records its state (the child does, for child jobs)
                except BaseException as exc:  # noqa: BLE001
                    log.error("Task %r failed while stopping", self.title, exc_info=exc)
            if pending is not None and outcome == "succeeded":
                self._relay.emit("event", (pending,))
            self.error, self._stopped = error, True
            self._relay.emit(outcome, (error,) if outcome == "failed" else ())  # and done after it
            self._finished.set()  # last: whoever waited may now delete this object


def _log_failure(title: str, error: BaseException) -> None:
    if isinstance(error, DovecoteError):  # a message for the user, not a bug
        log.info("Task %r stopped: %s", title, error)
    elif isinstance(error, TaskCrashed):  # the traceback is the child's
        log.error("Task %r failed: %s\n%s", title, error, error.details)
    else:
        log.error("Task %r failed", title, exc_info=error)


class _Runnable(QRunnable):
    def __init__(self, task: Task):
        super().__init__()
        self.task = task

    def run(self) -> None:
        self.task._run()


class TaskRunner(QObject):
    """Starts jobs and keeps each one alive until it ends; on shutdown stops them all within SHUTDOWN_S."""

    started = Signal(object)  # a Task, for progress displays

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(8)  # the threads mostly wait on child processes' pipes
        self._tasks: set[Task] = set()
        self.workers = WorkerPool()

    @property
    def tasks(self) -> list[Task]:
        return list(self._tasks)

    def run(self, title: str, function: Callable[..., Iterator[object]], *args, child: bool = True,
            cancellable: bool = True, read_only: bool = False) -> Task:
        """Run generator function `function(*args)` in the background. For child jobs (the default) the
        function must be importable by name (a module-level function) and its arguments and events
        picklable. A `read_only` child job writes nothing: on shutdown it is ended at once, not waited for."""
        task = Task(title, function, args, self.workers if child else None, cancellable, read_only)
        # Forgotten only after every slot of `done` has run (callers connect theirs after this).
        task.done.connect(lambda: QTimer.singleShot(0, lambda: self._tasks.discard(task)))
        self._tasks.add(task)
        self.started.emit(task)
        self._pool.start(_Runnable(task))
        return task

    def prewarm(self) -> None:
        """Start a child process now that imports torch, scikit-learn and the training code at low priority,
        so that the next training or evaluation job starts at once instead of seconds later."""
        self.workers.prewarm()

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def shutdown(self, timeout_s: float = SHUTDOWN_S) -> bool:
        """Cancel every job and wait for them; a child still running near the end of `timeout_s` is
        interrupted, then killed (see WorkerProcess.interrupt), so that this returns within about
        `timeout_s`; idle workers are stopped. True when every job stopped by itself."""
        self.cancel_all()
        for task in list(self._tasks):
            if task.read_only:  # writes nothing: ended at once, not waited for
                task.kill()
        asked_until = time.monotonic() + max(0.0, timeout_s - KILL_AFTER_S - 0.5)
        self.workers.shutdown()  # the idle ones, while the jobs stop (those are stopped when they end)
        late = [task for task in list(self._tasks) if not task.wait(max(0.0, asked_until - time.monotonic()))]
        for task in late:
            log.warning("Task %r did not stop when asked; interrupting it", task.title)
            task.interrupt()
        killed_at = asked_until + KILL_AFTER_S
        for task in late:
            if not task.wait(max(0.0, killed_at - time.monotonic())):
                task.kill()
        for task in late:
            if not task.wait(max(0.0, killed_at + 0.5 - time.monotonic())):
                log.error("Task %r (a thread) is still running at exit", task.title)
        return not late

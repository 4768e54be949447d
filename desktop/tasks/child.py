"""A core generator run in a child process, its events read back here (for the task runner's thread).

Why a process: Python threads share one interpreter lock. Import, training and classification keep threads
busy with many small Python steps; the GUI thread then waits for the lock before each call a repaint makes,
and the window stutters for hundreds of milliseconds. A child has its own interpreter; the thread here only
waits on a pipe, which releases the lock.

Cancelling stays cooperative: cancel() sets an event the child checks between events; the child then closes
its generator (which records its state, e.g. a training run as cancelled) and exits. interrupt() is only for
a child that did not stop when asked: on POSIX it raises KeyboardInterrupt in the child (which core treats
as a cancel: a training run is still stored as cancelled); kill() ends one that does not stop even then.

Logging: the child does not open the log file (two processes rotating one file lose records). Its records
travel back over the same pipe as its events, in order, and the parent hands them to its own handlers.
This module must not import Qt: the child process imports it."""
from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import signal
import threading
import traceback
from typing import Callable, Iterator

from core.errors import DovecoteError
from core.logs import set_levels

_EVENT, _LOG, _DONE, _ERROR, _CRASH = "event", "log", "done", "error", "crash"
CHILD_NICENESS = 5
JOIN_S = 10  # how long a child that vanished gets to report its exit code
EXIT_WAIT_S = 0.2
KILL_AFTER_S = 1.0  # how long an interrupted child gets to record its state before it is killed


class TaskCrashed(RuntimeError):
    """A bug in a background job, or its process died. `details` is the traceback (for the log and the
    Details button), never part of the message shown."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


class ChildProcess:
    def __init__(self, function: Callable[..., Iterator[object]], args: tuple):
        context = multiprocessing.get_context("spawn")  # no fork: the GUI process has threads and Qt state
        self._receiver, sender = context.Pipe(duplex=False)
        self._cancel = context.Event()
        name = getattr(function, "__name__", "task")
        level = logging.getLogger().getEffectiveLevel()
        self._process = context.Process(target=_child_main, args=(function, args, sender, self._cancel, level),
                                        daemon=True, name=f"dovecote-{name}")
        self._process.start()
        sender.close()  # the child holds the only writing end: EOF here means it has gone

    def cancel(self) -> None:
        self._cancel.set()

    def interrupt(self) -> None:
        """Stop the child now: on POSIX SIGTERM, which it turns into KeyboardInterrupt so that its generator
        records its state (elsewhere the process just ends). kill() it if it is still there KILL_AFTER_S later."""
        if self._process.is_alive():
            self._process.terminate()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()

    def events(self, poll_s: float) -> Iterator[object]:
        """The child's events in order; None whenever `poll_s` passes without one (so that the caller can
        deliver a held-back progress update). A DovecoteError in the child is raised here with its message."""
        finished = False
        try:
            while True:
                if not self._receiver.poll(poll_s):
                    yield None
                    continue
                try:
                    kind, payload = self._receiver.recv()
                except (EOFError, OSError):
                    self._process.join(JOIN_S)
                    code = self._process.exitcode
                    raise TaskCrashed("The background task stopped unexpectedly. Try again; if it keeps "
                                      "happening, run the same command in a terminal.",
                                      details=f"The task's process ended with exit code {code} "
                                              "without saying why.") from None
                if kind == _EVENT:
                    yield payload
                    continue
                if kind == _LOG:
                    logging.getLogger(payload.name).handle(payload)  # the child filtered it by level
                    continue
                finished = True
                if kind == _ERROR:
                    raise DovecoteError(payload)
                if kind == _CRASH:
                    raise TaskCrashed(f"The background task failed: {payload.strip().splitlines()[-1]}",
                                      details=payload)
                return
        finally:
            if not finished:
                self._cancel.set()
                self._drain()
            self._receiver.close()
            # Its work is done and committed; tearing down torch and ONNX Runtime can take seconds more, and
            # nobody needs to wait for that (multiprocessing reaps the process when it has gone).
            self._process.join(EXIT_WAIT_S)

    def _drain(self) -> None:
        """Read until the child says it is done (it may be committing its last step)."""
        try:
            while True:
                kind, payload = self._receiver.recv()
                if kind == _LOG:
                    logging.getLogger(payload.name).handle(payload)
                elif kind != _EVENT:
                    return
        except (EOFError, OSError):
            pass


class _Sender:
    """The child's end of the pipe, shared by its generator and its log records (from any thread)."""

    def __init__(self, connection):
        self._connection = connection
        self._lock = threading.Lock()

    def send(self, message: tuple) -> None:
        with self._lock:
            self._connection.send(message)

    def try_send(self, message: tuple) -> None:
        try:
            self.send(message)
        except OSError:
            pass  # the parent has gone: nobody is left to tell

    def put_nowait(self, record: logging.LogRecord) -> None:  # the "queue" of a QueueHandler
        self.try_send((_LOG, record))

    def close(self) -> None:
        self._connection.close()


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt  # core treats it as a cancel and records its state (a training run: cancelled)


def _child_main(function, args: tuple, connection, cancel, level: int) -> None:
    if hasattr(os, "nice"):
        os.nice(CHILD_NICENESS)  # background work yields the CPU to the window on a busy machine
    sender = _Sender(connection)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(sender)]  # formats the record, picklable, for the parent
    set_levels(level)
    if os.name == "posix":
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        generator = function(*args)
        try:
            for event in generator:
                if cancel.is_set():
                    break
                sender.send((_EVENT, event))
        finally:
            generator.close()
        sender.try_send((_DONE, None))
    except DovecoteError as error:
        sender.try_send((_ERROR, str(error)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which shows and logs it
        sender.try_send((_CRASH, traceback.format_exc()))
    finally:
        if os.name == "posix":
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the job is over: ending it now loses nothing
        logging.shutdown()
        sender.close()

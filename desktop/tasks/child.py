"""A core generator run in a child process, its events read back here (for the task runner's thread).

Why a process: Python threads share one interpreter lock. Import, training and classification keep threads
busy with many small Python steps; the GUI thread then waits for the lock before each call a repaint makes,
and the window stutters for hundreds of milliseconds. A child has its own interpreter; the thread here only
waits on a pipe, which releases the lock.

Cancelling stays cooperative: cancel() sets an event the child checks between events; the child then closes
its generator (which records its state, e.g. a training run as cancelled) and exits. terminate() is only for
a child that did not stop when asked. This module must not import Qt: the child process imports it."""
from __future__ import annotations

import multiprocessing
import os
import traceback
from typing import Callable, Iterator

from core.errors import DovecoteError

_EVENT, _DONE, _ERROR, _CRASH = "event", "done", "error", "crash"
CHILD_NICENESS = 5
JOIN_S = 10


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
        self._process = context.Process(target=_child_main, args=(function, args, sender, self._cancel),
                                        daemon=True, name=f"dovecote-{name}")
        self._process.start()
        sender.close()  # the child holds the only writing end: EOF here means it has gone

    def cancel(self) -> None:
        self._cancel.set()

    def terminate(self) -> None:
        if self._process.is_alive():
            self._process.terminate()

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
                    raise TaskCrashed("The background task stopped unexpectedly "
                                      f"(exit code {self._process.exitcode}). Try again; if it keeps "
                                      "happening, run the same command in a terminal.") from None
                if kind == _EVENT:
                    yield payload
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
            self._process.join(JOIN_S)

    def _drain(self) -> None:
        """Read until the child says it is done (it may be committing its last step)."""
        try:
            while self._receiver.recv()[0] == _EVENT:
                pass
        except (EOFError, OSError):
            pass


def _child_main(function, args: tuple, sender, cancel) -> None:
    if hasattr(os, "nice"):
        os.nice(CHILD_NICENESS)  # background work yields the CPU to the window on a busy machine
    try:
        generator = function(*args)
        try:
            for event in generator:
                if cancel.is_set():
                    break
                sender.send((_EVENT, event))
        finally:
            generator.close()
        _send(sender, (_DONE, None))
    except DovecoteError as error:
        _send(sender, (_ERROR, str(error)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which shows and logs it
        _send(sender, (_CRASH, traceback.format_exc()))
    finally:
        sender.close()


def _send(sender, message: tuple) -> None:
    try:
        sender.send(message)
    except OSError:
        pass  # the parent has gone: nobody is left to tell

"""Core generators run in a child process, their events read back here (for the task runner's threads).

Why a process: Python threads share one interpreter lock. Import, training and classification keep threads
busy with many small Python steps; the GUI thread then waits for the lock before each call a repaint makes,
and the window stutters for hundreds of milliseconds. A child has its own interpreter; the thread here only
waits on a pipe, which releases the lock.

Why it lives on (a "warm" worker): starting an interpreter and importing torch, scikit-learn and the model
code takes seconds, longer than retraining a head on cached embeddings. A WorkerProcess runs jobs one after
another; from its start it imports `preload` in a thread (at low priority), so that later jobs start at
once, while a job given to it at once runs beside that. Between jobs it holds no project, no session and no
file open: each job opens its own (jobs.py).

Cancelling stays cooperative: cancel() sets a flag the child checks between events; the child then closes
its generator (which records its state, e.g. a training run as cancelled) and waits for the next job.
interrupt() is only for a child that did not stop when asked: on POSIX it raises KeyboardInterrupt in the
child (which core treats as a cancel: a training run is still stored as cancelled), and the child then ends
rather than run another job in a state nobody planned for; kill() ends one that does not stop even then.
A process that died or was interrupted is never given another job (`reusable`).

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
import time
import traceback
from typing import Callable, Iterator

from core.errors import DovecoteError
from core.logs import set_levels

_EVENT, _LOG, _DONE, _ERROR, _CRASH, _READY = "event", "log", "done", "error", "crash", "ready"
CHILD_NICENESS = 5
JOIN_S = 10  # how long a child that vanished gets to report its exit code
KILL_AFTER_S = 1.0  # how long an interrupted child gets to record its state before it is killed
STOP_WAIT_S = 0.5  # how long an idle worker gets to exit when asked, before it is killed


class TaskCrashed(RuntimeError):
    """A bug in a background job, or its process died. `details` is the traceback (for the log and the
    Details button), never part of the message shown."""

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


class WorkerProcess:
    """One child process that runs jobs one at a time: run() a job, read all of its events, then the next."""

    def __init__(self, preload: tuple[Callable[[], object], ...] = ()):
        """`preload`: warm-up functions, called in a thread of the child."""
        context = multiprocessing.get_context("spawn")  # no fork: the GUI process has threads and Qt state
        self._receiver, sender = context.Pipe(duplex=False)
        jobs, self._jobs = context.Pipe(duplex=False)
        # A byte of shared memory, no lock: multiprocessing.Event's is a semaphore, and a child killed while it
        # held it (checking for a cancel; read-only jobs are killed at once on shutdown) left the next set()
        # here blocked for ever.
        self._cancel = context.RawValue("b", 0)
        self._process = context.Process(target=_worker_main, args=(jobs, sender, self._cancel, tuple(preload)),
                                        daemon=True, name="dovecote-worker")
        self._process.start()
        sender.close()  # the child holds the only writing end: EOF here means it has gone
        jobs.close()
        self.ready = not preload  # its preloading is done (it said so)
        self.jobs_run = 0
        self._broken = False  # died, was interrupted or killed: never given another job

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def reusable(self) -> bool:
        return not self._broken and self._process.is_alive()

    def poll_ready(self) -> bool:
        """Read what the idle child said (only ever that its preloading is done); True once it is ready."""
        try:
            while not self.ready and self._receiver.poll(0):
                kind, _payload = self._receiver.recv()
                self.ready = self.ready or kind == _READY
        except (EOFError, OSError):
            self._broken = True
        return self.ready

    def cancel(self) -> None:
        self._cancel.value = 1

    def interrupt(self) -> None:
        """Stop the child now: on POSIX SIGTERM, which it turns into KeyboardInterrupt so that its generator
        records its state (elsewhere the process just ends). kill() it if it is still there KILL_AFTER_S later."""
        self._broken = True
        if self._process.is_alive():
            self._process.terminate()

    def kill(self) -> None:
        self._broken = True
        if self._process.is_alive():
            self._process.kill()

    def stop(self) -> None:
        """Ask an idle worker to exit (it does at once, or after its preloading); nothing waits for it unless
        wait_stopped() is called."""
        self._broken = True
        try:
            self._jobs.send(None)
        except OSError:
            pass  # it has gone already
        self._jobs.close()

    def wait_stopped(self, until: float) -> None:
        """After stop(): wait for the exit until time.monotonic() `until`, then kill it (one still
        preloading, say: an idle worker holds nothing that could be lost)."""
        self._process.join(max(0.0, until - time.monotonic()))
        if self._process.is_alive():
            self._process.kill()
        self._receiver.close()

    def run(self, function: Callable[..., Iterator[object]], args: tuple, poll_s: float) -> Iterator[object]:
        """The job's events in order; None whenever `poll_s` passes without one (so that the caller can
        deliver a held-back progress update). A DovecoteError in the child is raised here with its message.
        The function must be importable by name and its arguments and events picklable."""
        self._cancel.value = 0  # the previous job has ended: its cancel is not this one's
        self.jobs_run += 1
        try:
            self._jobs.send((function, args, logging.getLogger().getEffectiveLevel()))
        except OSError:
            self._broken = True
            raise TaskCrashed("The background task could not start. Try again.",
                              details="The worker process had gone before it was given the job.") from None
        return self._events(poll_s)

    def _events(self, poll_s: float) -> Iterator[object]:
        finished = False
        try:
            while True:
                if not self._receiver.poll(poll_s):
                    yield None
                    continue
                kind, payload = self._receive()
                if kind == _EVENT:
                    yield payload
                    continue
                if kind in (_LOG, _READY):
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
                self._cancel.value = 1
                self._drain()

    def _receive(self) -> tuple[str, object]:
        """The next message; log records are handed to this process's handlers (the child filtered them)."""
        try:
            kind, payload = self._receiver.recv()
        except (EOFError, OSError):
            self._broken = True
            self._process.join(JOIN_S)
            code = self._process.exitcode
            raise TaskCrashed("The background task stopped unexpectedly. Try again; if it keeps "
                              "happening, run the same command in a terminal.",
                              details=f"The task's process ended with exit code {code} "
                                      "without saying why.") from None
        if kind == _LOG:
            logging.getLogger(payload.name).handle(payload)
        elif kind == _READY:
            self.ready = True
        return kind, payload

    def _drain(self) -> None:
        """Read until the child says the job is done (it may be committing its last step)."""
        try:
            while self._receive()[0] in (_EVENT, _LOG, _READY):
                pass
        except TaskCrashed:
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


def _preload(functions: tuple[Callable[[], object], ...], sender: _Sender) -> None:
    """Call each warm-up function (passed by reference: unpickling it imports its module)."""
    for function in functions:
        try:
            function()
        except Exception:  # noqa: BLE001 - a job that needs it reports the failure itself
            logging.getLogger(__name__).debug("Preloading %r failed", function, exc_info=True)
    sender.try_send((_READY, None))


def _worker_main(jobs, connection, cancel, preload: tuple[Callable[[], object], ...]) -> None:
    if hasattr(os, "nice"):
        os.nice(CHILD_NICENESS)  # background work yields the CPU to the window on a busy machine
    sender = _Sender(connection)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(sender)]  # formats the record, picklable, for the parent
    if preload:  # beside the jobs: one that needs a module still loading waits for it (Python's import lock)
        threading.Thread(target=_preload, args=(preload, sender), daemon=True, name="preload").start()
    try:
        while True:
            try:
                job = jobs.recv()
            except (EOFError, OSError):
                break  # the parent has gone
            if job is None or not _run_job(*job, sender, cancel):
                break
    finally:
        logging.shutdown()
        sender.close()
    # Between jobs nothing is open or half-written: skip the seconds of tearing down torch and ONNX Runtime.
    os._exit(0)


def _run_job(function, args: tuple, level: int, sender: _Sender, cancel) -> bool:
    """Run one job, stream its events; False when the process must end (it was interrupted)."""
    set_levels(level)
    interrupted = False
    if os.name == "posix":
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        generator = function(*args)
        try:
            for event in generator:
                if cancel.value:
                    break
                sender.send((_EVENT, event))
        finally:
            generator.close()
        sender.try_send((_DONE, None))
    except DovecoteError as error:
        sender.try_send((_ERROR, str(error)))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which shows and logs it
        interrupted = isinstance(error, KeyboardInterrupt)
        sender.try_send((_CRASH, traceback.format_exc()))
    finally:
        if os.name == "posix":
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the job is over: ending it now loses nothing
    return not interrupted

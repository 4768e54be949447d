"""The task runner's child processes, kept warm between jobs (see child.py for why they live on).

Every child job takes a worker here and gives it back when its events end: an idle worker whose preloading
is done (torch, scikit-learn, training and evaluation code imported: the job starts at once, which is what
makes "relabel, retrain, see the new matrix" a matter of seconds), else an idle one still preloading (its
job runs beside that), else a fresh process. At most MAX_WORKERS are kept: one for a long import or
classification, one for a retrain, so that neither waits for the other; a third job at the same time gets a
process that ends after it (a warm worker holds a few hundred MB). A worker that died, was interrupted
or killed is dropped: the next job gets a fresh one. prewarm() starts one ahead of need (the window calls
it soon after it opens)."""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterator

from core.training.warmup import warm_up
from desktop.tasks.child import STOP_WAIT_S, WorkerProcess

MAX_WORKERS = 2
PRELOAD = (warm_up,)  # torch, scikit-learn, the training and evaluation code


class WorkerPool:
    def __init__(self, max_workers: int = MAX_WORKERS, preload: tuple[Callable[[], object], ...] = PRELOAD):
        self._max, self._preload = max_workers, preload
        self._lock = threading.Lock()
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._closed = False

    @property
    def idle_pids(self) -> list[int | None]:
        with self._lock:
            return [worker.pid for worker in self._idle]

    def ready_count(self) -> int:
        """How many idle workers have their heavy modules imported."""
        with self._lock:
            return sum(worker.poll_ready() for worker in self._idle)

    def prewarm(self) -> None:
        """Start a worker that preloads the heavy modules now, unless there is one already (busy or not: it
        preloads beside its job; two importing torch at once would each take twice as long)."""
        with self._lock:
            if not self._closed and not self._idle and not self._busy:
                self._idle.append(WorkerProcess(self._preload))

    def run(self, function: Callable[..., Iterator[object]], args: tuple, poll_s: float,
            attach: Callable[[WorkerProcess], None]) -> Iterator[object]:
        """function(*args)'s events from a worker (see WorkerProcess.run); attach(worker) is called first,
        so that the caller can cancel or interrupt it."""
        worker = self._acquire()
        try:
            attach(worker)
            yield from worker.run(function, args, poll_s)
        finally:
            self._release(worker)

    def shutdown(self) -> None:
        """Stop the idle workers; busy ones are stopped when their job gives them back."""
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for worker in idle:
            worker.stop()
        until = time.monotonic() + STOP_WAIT_S
        for worker in idle:
            worker.wait_stopped(until)

    def _acquire(self) -> WorkerProcess:
        with self._lock:
            self._idle = [worker for worker in self._idle if worker.reusable]
            ready = [worker for worker in self._idle if worker.poll_ready()]
            chosen = (ready or self._idle or [None])[0]
            if chosen is not None:
                self._idle.remove(chosen)
            else:
                chosen = WorkerProcess(self._preload)
            self._busy.add(chosen)
            return chosen

    def _release(self, worker: WorkerProcess) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = not self._closed and worker.reusable and len(self._idle) + len(self._busy) < self._max
            if keep:  # first in line: the job after it likely wants what it has loaded (a model to explain)
                self._idle.insert(0, worker)
        if not keep:
            worker.stop()  # it exits by itself (nobody waits for that); a dead one is reaped by multiprocessing

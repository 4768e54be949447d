"""Job functions for tests of the task runner. Module-level, so that a child process can import them by
name (tests/ is on sys.path, which a spawned child inherits)."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterator

from core.classify.inference import classify_folder
from core.errors import DovecoteError
from core.events import Progress

log = logging.getLogger("tests.taskjobs")


def wait_for(gate: str, timeout_s: float = 30) -> None:
    """Hold the job until the test creates the file `gate` (the job's own pace, not a test's sleep)."""
    end = time.monotonic() + timeout_s
    while not Path(gate).exists() and time.monotonic() < end:
        time.sleep(0.01)


def counting(total: int, gate: str | None = None) -> Iterator[object]:
    """Progress(done, total) as fast as it can; with `gate`, held after the first step until it exists."""
    for done in range(1, total + 1):
        yield Progress("Counting", done, total)
        if gate is not None and done == 1:
            wait_for(gate)


def refusing(message: str) -> Iterator[object]:
    yield Progress("Checking", 0, 1)
    raise DovecoteError(message)


def buggy() -> Iterator[object]:
    yield Progress("Working", 0, 1)
    log.warning("about to fail")  # a record of the child: it must reach the parent's log
    raise ZeroDivisionError("division by zero in the job")


def dying() -> Iterator[object]:
    yield Progress("Working", 0, 1)
    os._exit(3)  # the process vanishes: no message, no traceback


def stubborn(gate: str, marker: str) -> Iterator[object]:
    """Ignores the cancel flag (stuck in one long step); records in `marker` that it was interrupted."""
    yield Progress("Stuck", 0, 1)
    try:
        Path(gate).touch()
        time.sleep(60)
    except KeyboardInterrupt:
        Path(marker).write_text("interrupted")
        raise
    yield Progress("Stuck", 1, 1)


def held_classify(request, gate: str) -> Iterator[object]:
    """classify_folder, held after its first classified batch until `gate` exists."""
    for event in classify_folder(request):
        yield event
        if isinstance(event, Progress) and event.phase == "Classifying" and event.done:
            wait_for(gate)


def held_import(project, labels_from_subfolders: bool, gate: str) -> Iterator[object]:
    """import_folder, held after its first committed chunk until `gate` exists."""
    from core.importing.scanning import import_folder

    for event in import_folder(project, labels_from_subfolders):
        yield event
        if isinstance(event, Progress) and event.phase == "Reading images" and event.done:
            wait_for(gate)

def whoami(gate: str | None = None) -> Iterator[object]:
    """The pid of the process running the job and whether torch was already imported there when it began
    (with `gate`: held after that until it exists)."""
    import sys

    yield (os.getpid(), "torch" in sys.modules)
    if gate is not None:
        wait_for(gate)

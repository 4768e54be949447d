"""One training run per project at a time, across processes (the window's child, `dovecote train` in a
terminal): an OS file lock on <store>/training.lock. The operating system releases it when its process ends,
however it ends, so a crash never leaves a lock that blocks the next run. The file also says who holds it,
for the message the second one gets."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import DovecoteError

LOCK_NAME = "training.lock"


class AlreadyTraining(DovecoteError):
    pass


@dataclass(frozen=True)
class LockHolder:
    pid: int | None
    run_id: int | None
    program: str  # "the window" or "a terminal command"

    def message(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a run"
        return (f"This project is already training ({run}, started from {self.program}). "
                "Wait for it to finish or stop it, then start again.")


def _try_lock(handle) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _unlock(handle) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read_holder(path: Path) -> LockHolder:
    try:
        with open(path, "rb") as handle:
            handle.seek(1)  # the first byte is the one Windows locks (unreadable to others); then the description
            data = json.loads(handle.read().decode("utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    return LockHolder(data.get("pid"), data.get("run_id"), data.get("program") or "another Dovecote")


class TrainingLock:
    """Held for the whole of a run: `acquire()` raises AlreadyTraining when another process holds it."""

    def __init__(self, store_dir: Path, program: str = "a terminal command"):
        self.path = Path(store_dir) / LOCK_NAME
        self.program = program
        self._handle = None

    def acquire(self) -> "TrainingLock":
        handle = open(self.path, "a+b")
        if not _try_lock(handle):
            handle.close()
            raise AlreadyTraining(_read_holder(self.path).message())
        self._handle = handle
        self.describe(None)
        return self

    def describe(self, run_id: int | None) -> None:
        """Say in the file who holds it (and, once stored, which run)."""
        handle = self._handle
        handle.truncate(1)  # keeps the locked first byte; appending mode writes after it
        handle.write(json.dumps({"pid": os.getpid(), "run_id": run_id, "program": self.program}).encode())
        handle.flush()

    def release(self) -> None:
        if self._handle is not None:
            _unlock(self._handle)
            self._handle.close()
            self._handle = None


def holder(store_dir: Path) -> LockHolder | None:
    """Who is training this project now, or None (checked by taking and releasing the lock)."""
    path = Path(store_dir) / LOCK_NAME
    if not path.exists():
        return None
    with open(path, "a+b") as handle:
        if _try_lock(handle):
            _unlock(handle)
            return None
    return _read_holder(path)

"""Atomic file writes: readers see the old file or the new one, never half of one (house rule 9)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

# What a plain open() would give a new file. Read once: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)
DEFAULT_MODE = 0o666 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: Path, mode: int = DEFAULT_MODE, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside `path`. When the block ends without error, what was written there replaces
    `path` in one step; otherwise it is removed. `durable` syncs it to disk first (models, not caches)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        os.chmod(temp, mode)  # mkstemp makes files private (0600)
        if durable:
            with open(temp, "rb+") as written:
                os.fsync(written.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes, mode: int = DEFAULT_MODE, durable: bool = False) -> None:
    with atomic_path(path, mode, durable) as temp:
        temp.write_bytes(data)


def write_text(path: Path, text: str, mode: int = DEFAULT_MODE, durable: bool = False) -> None:
    write_bytes(path, text.encode("utf-8"), mode, durable)

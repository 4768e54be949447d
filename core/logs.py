"""The log: one rotating file in the user's log folder, written through `logging` by core, the command line,
the window, and (through the window) its task child processes.

setup_logging() is called once by the `dovecote` entry point, for every command and for the window. Child
processes of the window never open the file themselves (two processes rotating one file would lose records):
desktop/tasks/child.py sends their records back to the parent, which writes them here."""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

LOG_ENV = "DOVECOTE_LOG_DIR"  # tests and portable installs point the log elsewhere
FILE_NAME = "dovecote.log"
MAX_BYTES = 1_000_000
BACKUPS = 3  # dovecote.log.1 .. .3: a few sessions of history, a few MB at most
FORMAT = "%(asctime)s %(process)d %(levelname)-7s %(name)s: %(message)s"
QUIET = ("alembic", "PIL", "urllib3")  # chatty at INFO on every store opened or image decoded: warnings only


def log_dir() -> Path:
    override = os.environ.get(LOG_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_log_dir

    return Path(user_log_dir("Dovecote", appauthor=False))


def log_path() -> Path:
    return log_dir() / FILE_NAME


class _FileHandler(logging.handlers.RotatingFileHandler):
    """Ours, so that setup_logging() recognises that it has already run."""


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send records of `level` and above to the log file (once per process; later calls change nothing).
    Returns the file's path, or None when it cannot be written (the app still works, without a log)."""
    if configured_path() is not None:
        return configured_path()
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _FileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    except OSError as error:
        print(f"dovecote: cannot write the log in {path.parent}: {error}", file=sys.stderr)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    set_levels(level)
    logging.captureWarnings(True)
    return path


def set_levels(level: int) -> None:
    """What is logged: `level` and above from Dovecote, warnings from the chatty libraries. Also used by
    task child processes, which send their records to the parent instead of writing the file."""
    logging.getLogger().setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def configured_path() -> Path | None:
    """The file this process logs to, or None before setup_logging()."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _FileHandler):
            return Path(handler.baseFilename)
    return None

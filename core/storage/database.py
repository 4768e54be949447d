"""Opening the SQLite store: pragmas, migrations, schema-version check, and clear errors for locks."""
from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DovecoteError, StoreCorrupt, StoreIOError, StoreLocked, StoreReadOnly, StoreTooNew

DB_NAME = "project.sqlite"
# How long a writer waits for another process (the app, a CLI call) before giving up with a message.
LOCK_TIMEOUT_S = 10.0
_MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config(engine: Engine | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _on_connect(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a label change is on disk when commit returns, even across a power cut, not only a kill -9.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(LOCK_TIMEOUT_S * 1000)}")
    cur.close()


def create_store_engine(db_path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{db_path}",
        connect_args={"timeout": LOCK_TIMEOUT_S, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_connect)
    return engine


def open_database(store_dir: Path) -> Engine:
    """Open (creating or migrating) the store's database; refuse a newer schema or a damaged file."""
    db_path = store_dir / DB_NAME
    if db_path.is_file() and db_path.stat().st_size == 0:
        # SQLite would take an empty file for a new database and the project would start again from
        # nothing, its models orphaned: an empty store is a damaged one (a full disk, a copy cut short).
        raise StoreCorrupt(
            f"The project store {db_path} is empty (0 bytes): it was damaged, e.g. by a full disk or a copy "
            f"that did not finish. Nothing was changed and the file is kept. Restore it from a backup; the "
            f"trained models in {store_dir / 'models'} are still there.")
    engine = create_store_engine(db_path)
    with translate_errors(db_path):
        known, head = _revisions()
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and current not in known:
            engine.dispose()
            raise StoreTooNew(
                f"The project at {store_dir} was written by a newer Dovecote (schema {current}). "
                "Update Dovecote to open it; nothing was changed."
            )
        if current != head:
            command.upgrade(_alembic_config(engine), "head")
    return engine


@functools.cache
def _revisions() -> tuple[frozenset[str], str]:
    """(every schema revision this program knows, the newest). Read from the migration scripts once per
    process: parsing them took ~50 ms of every store opening, and a worker process opens stores job after job."""
    script = ScriptDirectory.from_config(_alembic_config(None))
    return frozenset(rev.revision for rev in script.walk_revisions()), script.get_current_head()


@contextlib.contextmanager
def translate_errors(where: Path) -> Iterator[None]:
    """Turn SQLite's errors into messages a user can act on, each with its own advice: busy, read-only, a disk
    error, or damaged. A store that passes its integrity check is never called damaged."""
    try:
        yield
    except (DatabaseError, sqlite3.Error) as error:
        raise store_error(where if where.suffix == ".sqlite" else where / DB_NAME, error) from error


def store_error(db_path: Path, error: Exception) -> DovecoteError:
    reason = getattr(error, "orig", None) or error
    code = getattr(reason, "sqlite_errorname", "") or ""
    text = str(reason).lower()
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return StoreLocked(
            f"The project store {db_path} is busy in another Dovecote window or command "
            f"and did not free up within {LOCK_TIMEOUT_S:.0f} s. Close the other one, or try again.")
    cannot_open = code.startswith("SQLITE_CANTOPEN") or "unable to open" in text
    if (code.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text
            or (cannot_open and db_path.parent.is_dir() and not os.access(db_path.parent, os.W_OK))):
        return StoreReadOnly(
            f"The project store {db_path} is read-only ({reason}), so nothing was changed; your labels are "
            "safe. Make it writable (the folder's permissions, or a disk mounted read-only), or copy the "
            ".dovecote folder somewhere writable and pass that folder with --store DIR.")
    if isinstance(reason, sqlite3.IntegrityError):
        return DovecoteError(f"The change conflicts with the project as it is now ({reason}); nothing was "
                             "changed. Try again.")
    if code == "SQLITE_FULL" or "disk is full" in text:
        return StoreIOError(f"The disk holding {db_path} is full; nothing was changed and the store is intact. "
                            "Free some space and try again.")
    intact = passes_integrity_check(db_path)
    if intact:
        return StoreIOError(
            f"Reading or writing the project store {db_path} failed ({reason}), but it passes its integrity "
            "check: nothing is lost. Check the disk (or network share, or USB stick) and try again.")
    if intact is None or cannot_open or code.startswith("SQLITE_IOERR"):
        return StoreIOError(
            f"The project store {db_path} cannot be reached ({reason}). Check the disk (or network share, or "
            "USB stick) and try again; do not delete the .dovecote folder, it holds your labels.")
    return StoreCorrupt(
        f"The project store {db_path} cannot be read ({reason}) and fails its integrity check: it is damaged. "
        "Restore it from a backup; or move the .dovecote folder away (its models stay usable) and import "
        "the folder again.")


def passes_integrity_check(db_path: Path) -> bool | None:
    """SQLite's own check, read-only: True, False (damaged), or None when the file cannot even be opened."""
    if not db_path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_TIMEOUT_S)
    except sqlite3.Error:
        return None
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.OperationalError as error:
        return False if "malformed" in str(error) else None
    except sqlite3.DatabaseError:  # "file is not a database", "database disk image is malformed"
        return False
    finally:
        conn.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)

"""Opening the SQLite store: pragmas, migrations, schema-version check, and clear errors for locks."""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StoreCorrupt, StoreLocked, StoreTooNew

DB_NAME = "project.sqlite"
# How long a writer waits for another process (the app, a CLI call) before giving up with a message.
LOCK_TIMEOUT_S = 10.0
_MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config(engine: Engine) -> Config:
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
    engine = create_store_engine(db_path)
    with translate_errors(db_path):
        script = ScriptDirectory.from_config(_alembic_config(engine))
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        known = {rev.revision for rev in script.walk_revisions()}
        if current is not None and current not in known:
            engine.dispose()
            raise StoreTooNew(
                f"The project at {store_dir} was written by a newer Dovecote (schema {current}). "
                "Update Dovecote to open it; nothing was changed."
            )
        if current != script.get_current_head():
            command.upgrade(_alembic_config(engine), "head")
    return engine


@contextlib.contextmanager
def translate_errors(db_path: Path) -> Iterator[None]:
    """Turn SQLite's lock and corruption errors into messages a user can act on."""
    try:
        yield
    except OperationalError as error:
        if "locked" in str(error.orig) or "busy" in str(error.orig):
            raise StoreLocked(
                f"The project store {db_path} is busy in another Dovecote window or command "
                f"and did not free up within {LOCK_TIMEOUT_S:.0f} s. Close the other one, or try again."
            ) from error
        raise _corrupt(db_path, error) from error
    except (DatabaseError, sqlite3.DatabaseError) as error:
        raise _corrupt(db_path, error) from error


def _corrupt(db_path: Path, error: Exception) -> StoreCorrupt:
    reason = getattr(error, "orig", None) or error
    return StoreCorrupt(
        f"The project store {db_path} cannot be read ({reason}). "
        "Restore it from a backup, or move the .dovecote folder away and import the folder again."
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)

"""A Project: a folder of images (the root) and its store (default <root>/.dovecote/)."""
from __future__ import annotations

import contextlib
import os
import shlex
from pathlib import Path
from typing import Iterator

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import DovecoteError, NotAFolder, NotAProject
from core.storage.database import DB_NAME, open_database, session_factory, translate_errors
from core.storage.models import Meta, Run

STORE_NAME = ".dovecote"


class Project:
    def __init__(self, root: Path, store_dir: Path):
        self.root = root
        self.store_dir = store_dir
        self._engine = open_database(store_dir)
        self._sessions = session_factory(self._engine)

    @classmethod
    def open(cls, root: str | os.PathLike, store: str | os.PathLike | None = None, create: bool = True
             ) -> "Project":
        """Open the project for `root`, creating its store on first use unless `create` is False (then a
        folder without a store is refused with what to do). `store` puts the store elsewhere (for read-only
        folders)."""
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            raise NotAFolder(f"{root} is not a folder. Give the folder that holds your images.")
        store_dir = Path(store).expanduser().resolve() if store else root / STORE_NAME
        if not create and not (store_dir / DB_NAME).exists():
            raise NotAProject(
                f"{root} is not a Dovecote project yet: run 'dovecote import {shlex.quote(str(root))}"
                + (f" --store {shlex.quote(str(store_dir))}" if store else "") + "' (or open it in the app).")
        try:
            store_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DovecoteError(
                f"Cannot create the project store {store_dir} ({error.strerror}). "
                "For a read-only folder, choose another place with --store DIR."
            ) from None
        project = cls(root, store_dir)
        project._record_root()
        return project

    @property
    def thumbnails_dir(self) -> Path:
        return self.store_dir / "thumbnails"

    @property
    def models_dir(self) -> Path:
        return self.store_dir / "models"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed (durably) on success, rolled back on error."""
        with translate_errors(self.store_dir), self._sessions() as session:
            with session.begin():
                yield session

    def mark_interrupted_runs(self) -> int:
        """Mark runs left 'running' by a process that no longer exists (crash, kill) as interrupted."""
        with self.session() as session:
            running = session.execute(select(Run.id, Run.owner_pid).where(Run.status == "running")).all()
            dead = [run_id for run_id, pid in running if not _process_alive(pid)]
            if dead:
                session.execute(update(Run).where(Run.id.in_(dead)).values(status="interrupted"))
            return len(dead)

    def _record_root(self) -> None:
        with self.session() as session:
            if session.scalar(select(Meta).where(Meta.key == "root")) is None:
                session.add(Meta(key="root", value=str(self.root)))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, but belongs to someone else (or the platform cannot tell)
    return True

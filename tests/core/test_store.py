import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic import command

from core.errors import StoreCorrupt, StoreLocked, StoreTooNew
from core.project import Project
from core.storage import catalog, database, labels
from imagegen import class_folder

REPO = Path(__file__).resolve().parents[2]


def test_new_project_store_uses_wal_and_foreign_keys(tmp_path):
    with Project.open(tmp_path) as project:
        assert (tmp_path / ".dovecote" / "project.sqlite").exists()
        with project.session() as session:
            assert session.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_store_can_live_outside_a_read_only_folder(tmp_path):
    images = class_folder(tmp_path / "photos")
    os.chmod(images, 0o555)
    try:
        with Project.open(images, store=tmp_path / "elsewhere") as project:
            assert project.store_dir == (tmp_path / "elsewhere").resolve()
        assert not (images / ".dovecote").exists()
    finally:
        os.chmod(images, 0o755)


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    Project.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / ".dovecote" / "project.sqlite")
    db.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    db.commit()
    db.close()
    with pytest.raises(StoreTooNew, match="newer Dovecote"):
        Project.open(tmp_path)


def test_older_schema_is_migrated_on_open(tmp_path):
    project = Project.open(tmp_path)
    command.downgrade(database._alembic_config(project._engine), "base")
    project.close()
    with Project.open(tmp_path) as project, project.session() as session:
        assert labels.list_classes(session) == []  # the tables are back


def test_corrupt_store_gives_a_clear_message(tmp_path):
    (tmp_path / ".dovecote").mkdir()
    (tmp_path / ".dovecote" / "project.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorrupt, match="cannot be read"):
        Project.open(tmp_path)


def test_a_lock_that_does_not_clear_gives_a_clear_message(tmp_path, monkeypatch):
    Project.open(tmp_path).close()
    monkeypatch.setattr(database, "LOCK_TIMEOUT_S", 0.2)
    blocker = sqlite3.connect(tmp_path / ".dovecote" / "project.sqlite")
    with Project.open(tmp_path) as project:
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreLocked, match="busy in another Dovecote"):
                with project.session() as session:
                    labels.add_class(session, "cats")
        finally:
            blocker.rollback()
            blocker.close()
        with project.session() as session:  # usable again once the other writer is done
            labels.add_class(session, "cats")


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True)


def test_a_label_survives_kill_9_right_after_the_call(tmp_path):
    class_folder(tmp_path, per_class=2)
    with Project.open(tmp_path) as project, project.session() as session:
        catalog.add_image(session, path="cats/0.png", content_hash="h0")
    result = _python(f"""
        import os, signal
        from core.project import Project
        from core.storage import catalog, labels
        project = Project.open({str(tmp_path)!r})
        with project.session() as s:
            labels.set_labels(s, [catalog.image_by_path(s, "cats/0.png").id], labels.add_class(s, "cat"))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert result.returncode == -9
    with Project.open(tmp_path) as project, project.session() as session:
        assert catalog.summary(session).per_class == {"cat": 1}


def test_two_processes_labelling_at_once_lose_nothing(tmp_path):
    with Project.open(tmp_path) as project, project.session() as session:
        for i in range(40):
            catalog.add_image(session, path=f"{i}.png", content_hash=f"h{i}")
        labels.add_class(session, "even")
        labels.add_class(session, "odd")
    script = """
        import sys
        from core.project import Project
        from core.storage import catalog, labels
        project = Project.open({root!r})
        for i in range({start}, 40, 2):
            with project.session() as s:
                cls = labels.find_class(s, {name!r}).id
                labels.set_labels(s, [catalog.image_by_path(s, f"{{i}}.png").id], cls)
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(script.format(root=str(tmp_path), start=s, name=n))],
                         cwd=REPO, stderr=subprocess.PIPE, text=True)
        for s, n in ((0, "even"), (1, "odd"))
    ]
    errors = [p.communicate()[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with Project.open(tmp_path) as project, project.session() as session:
        assert catalog.summary(session).per_class == {"even": 20, "odd": 20}

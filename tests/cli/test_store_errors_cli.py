"""Issue 12, items 12 and 13: each store problem gets its own advice, and only a store that fails SQLite's
integrity check is ever called damaged."""
import sqlite3

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.exc import OperationalError

from core.cli import main
from core.storage import database, labels
from imagegen import class_folder


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path, capsys):
    root = class_folder(tmp_path / "shop", classes=("shoes", "bags"), per_class=2)
    assert run(capsys, "import", root, "--labels-from-subfolders")[0] == 0
    return root


DISCARD = "move the .dovecote folder away"


def test_a_read_only_store_is_read_and_its_labels_are_called_safe(capsys, project, monkeypatch):
    def read_only(db_path):  # what a read-only disk or permissions give (root ignores file modes)
        engine = create_engine(f"sqlite:///file:{db_path}?mode=ro&uri=true")
        event.listen(engine, "connect", database._on_connect)
        return engine

    monkeypatch.setattr(database, "create_store_engine", read_only)
    code, out, _ = run(capsys, "status", project)
    assert code == 0 and "shoes" in out  # reading needs no write access
    code, _, err = run(capsys, "label", project, "--class", "bags", "shoes/0.png")
    assert code == 1 and "read-only" in err and "labels are safe" in err and DISCARD not in err
    assert err.count("\n") == 1


def test_a_passing_io_error_on_an_intact_store_never_advises_discarding_it(capsys, project, monkeypatch):
    def failing(*args, **kwargs):
        orig = sqlite3.OperationalError("disk I/O error")
        orig.sqlite_errorname = "SQLITE_IOERR_READ"
        raise OperationalError("UPDATE images ...", {}, orig)

    monkeypatch.setattr(labels, "set_labels", failing)
    code, _, err = run(capsys, "label", project, "--class", "bags", "shoes/0.png")
    assert code == 1 and "disk I/O error" in err and "passes its integrity check" in err and DISCARD not in err


def test_a_full_disk_says_so(capsys, project, monkeypatch):
    def full(*args, **kwargs):
        orig = sqlite3.OperationalError("database or disk is full")
        orig.sqlite_errorname = "SQLITE_FULL"
        raise OperationalError("INSERT ...", {}, orig)

    monkeypatch.setattr(labels, "set_labels", full)
    code, _, err = run(capsys, "label", project, "--class", "bags", "shoes/0.png")
    assert code == 1 and "is full" in err and "Free some space" in err and DISCARD not in err


def test_only_a_store_that_fails_its_integrity_check_is_called_damaged(capsys, tmp_path):
    broken = tmp_path / "broken"
    (broken / ".dovecote").mkdir(parents=True)
    (broken / ".dovecote" / "project.sqlite").write_bytes(b"garbage" * 500)
    code, _, err = run(capsys, "status", broken)
    assert code == 1 and "fails its integrity check" in err and "backup" in err


def test_an_empty_store_file_is_damaged_not_a_new_project(capsys, project):
    store = project / ".dovecote"
    (store / "models").mkdir(exist_ok=True)
    (store / "models" / "run-1.safetensors").write_bytes(b"a model")
    (store / "project.sqlite").write_bytes(b"")
    for name in ("project.sqlite-wal", "project.sqlite-shm"):
        (store / name).unlink(missing_ok=True)
    for command in ("status", "import"):
        code, out, err = run(capsys, command, project)
        assert code == 1 and "empty (0 bytes)" in err and "models" in err and out == ""
    assert (store / "project.sqlite").stat().st_size == 0  # kept as it was, not re-created
    assert (store / "models" / "run-1.safetensors").exists()

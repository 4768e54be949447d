import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from imagegen import bad_files, class_folder

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path):
    root = class_folder(tmp_path / "shop", classes=("shoes", "bags"), per_class=3)
    bad_files(root / "inbox")
    return root


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "core.cli", "--help"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("gui", "import", "status", "classes", "label"):
        assert command in result.stdout


def test_import_then_status_json(capsys, folder):
    code, out, _ = run(capsys, "import", str(folder), "--labels-from-subfolders")
    assert code == 0 and "16 images found" in out
    code, out, _ = run(capsys, "status", str(folder), "--json")
    status = json.loads(out)
    # subfolder "inbox" became a class too; only readable images count towards a class
    assert status["classes"] == {"shoes": 3, "bags": 3, "inbox": 6}
    assert (status["images"], status["labelled"], status["unlabelled"]) == (16, 12, 0)
    reasons = {u["path"]: u["reason"] for u in status["unreadable"]}
    assert set(reasons) == {"inbox/truncated.jpg", "inbox/empty.jpg", "inbox/notes.jpg", "inbox/bomb.png"}


def test_classes_and_label_commands(capsys, folder):
    run(capsys, "import", str(folder))
    assert run(capsys, "classes", str(folder), "add", "shoes", "bags")[0] == 0
    code, out, _ = run(capsys, "label", str(folder), "--class", "shoes", str(folder / "shoes" / "0.png"), "shoes/1.png")
    assert code == 0 and "Labelled 2" in out
    assert run(capsys, "classes", str(folder), "rename", "shoes", "footwear")[0] == 0
    assert run(capsys, "classes", str(folder), "merge", "bags", "footwear")[0] == 0
    code, out, _ = run(capsys, "classes", str(folder), "list", "--json")
    assert json.loads(out) == [{"name": "footwear", "colour": "#0072b2", "count": 2}]
    assert run(capsys, "classes", str(folder), "delete", "footwear")[0] == 0
    code, out, _ = run(capsys, "status", str(folder), "--json")
    assert json.loads(out)["labelled"] == 0


def test_errors_are_one_line_with_a_nonzero_status(capsys, tmp_path, folder):
    code, _, err = run(capsys, "status", str(tmp_path / "nowhere"))
    assert code == 1 and err.count("\n") == 1 and "is not a folder" in err
    run(capsys, "import", str(folder))
    code, _, err = run(capsys, "label", str(folder), "--class", "x", "no/such.png")
    assert code == 1 and "Not in the project: no/such.png" in err
    code, _, err = run(capsys, "classes", str(folder), "rename", "ghost", "x")
    assert code == 1 and "no class named 'ghost'" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["label", str(folder)])
    assert exit_info.value.code == 2


def test_corrupt_and_locked_stores_are_reported(capsys, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    (broken / ".dovecote").mkdir(parents=True)
    (broken / ".dovecote" / "project.sqlite").write_bytes(b"garbage" * 500)
    code, _, err = run(capsys, "status", str(broken))
    assert code == 1 and "cannot be read" in err

    busy = class_folder(tmp_path / "busy")
    run(capsys, "import", str(busy))
    monkeypatch.setattr("core.storage.database.LOCK_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(busy / ".dovecote" / "project.sqlite")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = run(capsys, "classes", str(busy), "add", "x")
    finally:
        holder.rollback()
        holder.close()
    assert code == 1 and "busy in another Dovecote" in err


def test_store_option_keeps_the_folder_untouched(capsys, tmp_path, folder):
    store = tmp_path / "store"
    assert run(capsys, "import", str(folder), "--store", str(store))[0] == 0
    assert not (folder / ".dovecote").exists() and (store / "project.sqlite").exists()
    code, out, _ = run(capsys, "status", str(folder), "--store", str(store), "--json")
    assert json.loads(out)["images"] == 16

import csv
import json
import os
import signal

import pytest

import core.cli.classify_cmds as classify_cmds
from colourproject import colour_images
from core.cli import main
from core.events import Progress
from imagegen import bad_files


def run(capsys, *argv, gui=None):
    code = main([str(a) for a in argv], gui=gui)
    out, err = capsys.readouterr()
    return code, out, err


def rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def new_photos(tmp_path):
    root = colour_images(tmp_path / "new photos", per_class=5)
    bad_files(root / "inbox")
    return root


def test_classify_writes_the_csv_and_reports_counts(capsys, colour_project, new_photos):
    folder, _ = colour_project
    code, out, err = run(capsys, "classify", new_photos, "--model", folder)
    assert code == 0, err
    table = rows(new_photos / "dovecote-predictions.csv")
    assert list(table[0])[:3] == ["path", "predicted", "confidence"] and sorted(list(table[0])[3:]) == ["blue", "red", "status"]
    for name in ("red", "blue"):
        assert {r["predicted"] for r in table if r["path"].startswith(f"{name}/")} == {name}
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.startswith("  ")}
    assert counts["red"] + counts["blue"] == 16 and counts["unreadable"] == 4  # 5 + 5 + the 6 readable odd files
    assert "images/s" in out and "truncated" in err  # bad files are named, and did not stop the run

    code, _, err = run(capsys, "classify", new_photos, "--model", folder)
    assert code == 1 and "dovecote: error:" in err and "--overwrite" in err


def test_classify_json_with_a_model_file(capsys, colour_project, new_photos, tmp_path):
    folder, run_id = colour_project
    model_file = next((folder / ".dovecote" / "models").glob(f"run-{run_id}.*"))
    code, out, _ = run(capsys, "classify", new_photos, "--model", model_file, "--output", tmp_path / "p.csv", "--json")
    summary = json.loads(out)
    assert code == 0 and sum(summary["classes"].values()) == 16 and summary["unreadable"] == 4
    assert len(summary["unreadable_files"]) == 4 and summary["output"] == str(tmp_path / "p.csv")


def test_precision_says_which_network_classified(capsys, colour_project, new_photos, tmp_path):
    folder, _ = colour_project
    code, out, err = run(capsys, "classify", new_photos, "--model", folder, "--output", tmp_path / "a.csv")
    assert code == 0, err
    assert "Network: int8 (int8 agrees with fp32 on 100.0 % of 12 labelled images" in out
    code, out, _ = run(capsys, "classify", new_photos, "--model", folder, "--output", tmp_path / "f.csv",
                       "--precision", "fp32", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["precision"] == "fp32" and "int8" not in summary["device"]
    assert [r["predicted"] for r in rows(tmp_path / "a.csv")] == [r["predicted"] for r in rows(tmp_path / "f.csv")]
    with pytest.raises(SystemExit) as stopped:
        run(capsys, "classify", new_photos, "--model", folder, "--precision", "int16")
    assert stopped.value.code == 2 and "did you mean 'int8'" in capsys.readouterr().err


def test_move_into_class_folders_then_undo(capsys, colour_project, new_photos, tmp_path):
    folder, _ = colour_project
    into = tmp_path / "sorted"
    code, out, _ = run(capsys, "classify", new_photos, "--model", folder, "--sort", "move", "--into", into)
    assert code == 0
    assert sorted(p.name for p in into.iterdir() if p.is_dir()) == ["blue", "red"]
    assert not list((new_photos / "red").iterdir())
    undo_line = next(line for line in out.splitlines() if line.startswith("To put the moved files back:"))
    journal = undo_line.split("dovecote undo ", 1)[1].strip("'")

    code, out, _ = run(capsys, "undo", journal)
    assert code == 0 and "Put 16 file(s) back" in out
    assert len(list((new_photos / "red").iterdir())) == 5 and not (into / "red").exists()
    code, out, _ = run(capsys, "undo", journal, "--json")
    assert code == 0 and json.loads(out)["already_back"] == 16


def test_ctrl_c_stops_with_a_partial_csv_and_resume_finishes(capsys, colour_project, new_photos, monkeypatch):
    folder, _ = colour_project
    real = classify_cmds.classify_folder

    def interrupted(request):
        for event in real(request):
            if isinstance(event, Progress) and event.phase == "Classifying" and event.done == 4:
                os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl+C
            yield event

    monkeypatch.setattr(classify_cmds, "classify_folder", interrupted)
    code, _, err = run(capsys, "classify", new_photos, "--model", folder, "--batch-size", "2")
    assert code == 130 and "partial" in err and "--resume" in err
    partial = new_photos / "dovecote-predictions.partial.csv"
    assert not (new_photos / "dovecote-predictions.csv").exists() and len(rows(partial)) == 4

    monkeypatch.setattr(classify_cmds, "classify_folder", real)
    code, out, _ = run(capsys, "classify", new_photos, "--model", folder, "--resume")
    table = rows(new_photos / "dovecote-predictions.csv")
    assert code == 0 and "4 were done before" in out
    assert len(table) == len({r["path"] for r in table}) == 20 and not partial.exists()


def test_classify_without_a_model_says_what_to_give(capsys, new_photos):
    code, _, err = run(capsys, "classify", new_photos)
    assert code == 1 and "--model" in err


def test_classify_gui_goes_to_the_window(capsys, new_photos):
    seen = []
    code, _, _ = run(capsys, "classify", "--gui", new_photos, gui=lambda args: seen.append(args) or 0)
    assert code == 0 and seen[0].command == "classify" and seen[0].target == str(new_photos)
    assert seen[0].model is None  # the window asks for it


def test_integrate_install_status_uninstall(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    dovecote = tmp_path / "bin" / "dovecote"
    dovecote.parent.mkdir()
    dovecote.write_text("#!/bin/sh\n")
    code, out, _ = run(capsys, "integrate", "install", "--command", dovecote)
    assert code == 0 and str(dovecote) in out
    code, out, _ = run(capsys, "integrate", "status", "--command", dovecote, "--json")
    assert [e["state"] for e in json.loads(out)] == ["installed"] * 4
    code, out, _ = run(capsys, "integrate", "uninstall", "--command", dovecote, "--json")
    assert [e["state"] for e in json.loads(out)] == ["absent"] * 4
    assert not (tmp_path / ".local/share/nautilus/scripts/Classify with Dovecote").exists()


def test_a_drive_root_from_windows_explorer_is_understood():
    assert classify_cmds.folder_argument('C:"', platform="win32") == "C:\\"
    assert classify_cmds.folder_argument("D:\\Photos", platform="win32") == "D:\\Photos"
    assert classify_cmds.folder_argument('it\'s "odd"', platform="linux") == 'it\'s "odd"'

"""Issue 12: what a newcomer trips over on the command line (items 2, 3, 8) and what the CLI shows for
hostile input (10, 15, 16)."""
import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main, output
from core.events import Progress
from imagegen import class_folder, solid

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path):
    return class_folder(tmp_path / "shop", classes=("shoes", "bags"), per_class=2)


# ---- 3

def test_a_typo_in_a_class_name_is_refused_with_the_closest_names(capsys, folder):
    run(capsys, "import", folder, "--labels-from-subfolders")
    code, _, err = run(capsys, "label", folder, "--class", "shoez", "bags/0.png")
    assert code == 1 and "no class named 'shoez'" in err and "did you mean 'shoes'?" in err and "--create" in err
    code, out, _ = run(capsys, "classes", folder, "list")
    assert "shoez" not in out
    code, out, _ = run(capsys, "label", folder, "--class", "boots", "--create", "bags/0.png")
    assert code == 0 and "Labelled 1 image(s) as 'boots'" in out


@pytest.mark.parametrize("command", [["status"], ["train"], ["runs"], ["classes"], ["evaluate"],
                                     ["label", "--clear", "a.png"], ["export", "--format", "onnx"]])
def test_a_folder_never_imported_is_not_made_a_project(capsys, folder, command):
    code, out, err = run(capsys, command[0], folder, *command[1:])
    assert code == 1 and "is not a Dovecote project yet: run 'dovecote import" in err and "open it in the app" in err
    assert not (folder / ".dovecote").exists()


def test_an_unknown_command_gets_the_closest_one(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["trian", "x"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "'trian' is not a command; did you mean 'train'?" in err
    assert err.count("\n") == 1


def test_report_writes_a_default_file_without_out(capsys, tmp_path):
    from evalproject import trained_project

    project, run_id = trained_project(tmp_path / "project", max_epochs=3)
    root = project.root
    project.close()
    code, out, err = run(capsys, "report", root)
    assert code == 0, err
    report = root / f"dovecote-report-run-{run_id}.html"
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") and str(report) in out


def test_export_writes_a_default_file_without_out(capsys, colour_project, tmp_path, monkeypatch):
    import core.models.bundles as bundles

    root = Path(shutil.copytree(colour_project[0], tmp_path / "copy"))
    # the network export itself is tested in test_train_cli; here only where it goes
    monkeypatch.setattr(bundles, "export_model", lambda bundle, fmt, out: Path(out).write_bytes(b"onnx") and Path(out))
    code, out, err = run(capsys, "export", root, "--format", "onnx")
    exported = root / f"dovecote-run-{colour_project[1]}.onnx"
    assert code == 0 and exported.stat().st_size > 0 and str(exported) in out, err


# ---- 8

def test_piped_output_has_one_line_per_phase_and_no_redraws(folder):
    result = subprocess.run([sys.executable, "-m", "core.cli", "import", str(folder)], cwd=REPO,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert result.stderr.splitlines()[0].startswith("Reading images: 4 of 4 images, ")
    assert len(result.stderr.splitlines()) == 1


def test_progress_is_counted_in_its_unit_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    events = [Progress("Loading the model", 0, None), Progress("Checking labels", 2, 5, unit="folds"),
              Progress("Classifying", 3, 10)]
    assert list(output.follow(iter(events))) == []
    shown = stream.getvalue()
    loading = shown.split("\n")[0]
    # A phase that counts nothing shows its name alone, not a count of zero (the rates of later bars may
    # well contain "0 images/s", so only the first phase's line is read).
    assert "Loading the model…" in loading and "0img" not in loading and "0 images" not in loading
    assert "folds/s" in shown or "s/ folds" in shown or " folds" in shown
    assert "3/10" in shown


# ---- 10, 15, 16 as the CLI shows them

def test_names_that_are_not_utf8_are_shown_readably(capsys, tmp_path):
    root = tmp_path / "old disk"
    solid(root / os.fsdecode(b"z_\xff.png"))
    (root / os.fsdecode(b"bad_\xe9.jpg")).write_bytes(b"not a picture")
    code, out, err = run(capsys, "import", root)
    assert code == 0 and "2 images found: 2 new" in out and "bad_\ufffd.jpg" in err
    code, out, _ = run(capsys, "status", root, "--json")
    assert code == 0 and '"bad_\ufffd.jpg"' in out
    code, out, _ = run(capsys, "label", root, "--class", "old", "--create", root / os.fsdecode(b"z_\xff.png"))
    assert code == 0 and "Labelled 1" in out


def test_the_import_summary_counts_what_it_skipped(capsys, folder, tmp_path):
    os.mkfifo(folder / "x.jpg")
    (folder / "drawing.svg").write_text("<svg/>")
    solid(folder / ".hidden.png")
    (folder / "out.png").symlink_to(solid(tmp_path / "elsewhere.png"))
    code, out, _ = run(capsys, "import", folder)
    assert code == 0 and "4 images found" in out
    assert "4 skipped: " in out and "1 not a regular file" in out and "1 hidden" in out and "--follow-links" in out
    code, out, _ = run(capsys, "import", folder, "--follow-links")
    assert "5 images found: 1 new" in out and "Links to places outside the folder were followed" in out


def test_an_existing_journal_is_a_message_not_a_traceback(capsys, colour_project, tmp_path):
    project, _ = colour_project
    target = tmp_path / "new"
    solid(target / "a.png")
    journal = tmp_path / "moves.jsonl"
    journal.write_text("an earlier journal")
    code, _, err = run(capsys, "classify", target, "--model", project, "--sort", "move", "--into", tmp_path / "out",
                       "--journal", journal)
    assert code == 1 and err.startswith("dovecote: error: The journal ") and "exists already" in err
    assert "Traceback" not in err and journal.read_text() == "an earlier journal" and (target / "a.png").exists()


# ---- 2

def test_classifying_again_does_not_read_the_sorted_copies_or_the_results(capsys, colour_project, tmp_path):
    project, _ = colour_project
    target = tmp_path / "new"
    for i in range(4):
        solid(target / f"{i}.png", (220, 40, 30))
    results = target / "results.png"  # a results file named like an image, even
    for options in (["--sort", "copy", "--into", target / "sorted"], ["--overwrite"]):
        code, out, err = run(capsys, "classify", target, "--model", project, "--output", results, *options)
        assert code == 0, err
        with open(results, newline="", encoding="utf-8") as handle:
            assert sorted(r["path"] for r in csv.DictReader(handle)) == [f"{i}.png" for i in range(4)]
    assert "1 skipped: 1 folder an earlier classify --sort filled" in out


def test_any_command_prints_such_names_without_failing(monkeypatch):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stream)
    output.safe_streams()  # what main() does first
    print(os.fsdecode(b"suspect_\xff.png"))  # e.g. a path in 'dovecote evaluate's table
    stream.flush()
    assert raw.getvalue().decode("utf-8") == "suspect_\ufffd.png\n"

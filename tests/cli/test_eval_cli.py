"""dovecote evaluate / report / compare on a small trained project with three images filed wrongly."""
import json

import pytest

from core.cli import main
from evalproject import CLASSES, MISFILED, trained_project


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    project, _ = trained_project(tmp_path_factory.mktemp("cli") / "pets")
    project.close()
    return project.root


def test_evaluate_prints_table_matrix_and_suspects(capsys, folder):
    code, out, err = run(capsys, "evaluate", folder)
    assert code == 0, err
    assert "45 labelled images (5 folds" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("given \\ predicted"))
    columns = lines[header].split()[-3:]
    matrix = [line.split() for line in lines[header + 1 : header + 4]]
    assert set(columns) == set(CLASSES) and [row[0] for row in matrix] == columns
    assert sum(int(n) for row in matrix for n in row[1:]) == 45
    assert any(line.startswith("macro avg") for line in lines)
    suspects = lines[lines.index(next(line for line in lines if line.startswith("score"))) + 1 :]
    assert {line.split()[-1] for line in suspects[:3]} == set(MISFILED)


def test_evaluate_json_lists_suspects_with_relative_paths(capsys, folder):
    code, out, _ = run(capsys, "evaluate", folder, "--json")
    assert code == 0
    data = json.loads(out)  # nothing but JSON on stdout
    top = data["suspected_errors"][:3]
    assert {s["path"]: s["suggested"] for s in top} == MISFILED
    assert all(s["given"] == s["path"].split("/")[0] and 0 < s["score"] <= 1 for s in top)
    matrix = data["confusion_matrix"]
    assert sorted(matrix["classes"]) == sorted(CLASSES) and sum(map(sum, matrix["counts"])) == 45
    cell = next(c for c in matrix["cells"] if c["given"] == "dogs" and c["predicted"] == "cats")
    assert "dogs/cat_03.png" in [i["path"] for i in cell["images"]]
    assert data["metrics"]["accuracy"] == pytest.approx(42 / 45, abs=0.05)
    # 45 images are too few to fit a temperature on: the calibration error is reported, the model left as is.
    calibration = data["calibration"]
    assert calibration["temperature"] == 1.0 and calibration["ece_after"] == calibration["ece_before"] >= 0


def test_report_writes_one_html_file(capsys, folder, tmp_path):
    out_file = tmp_path / "report.html"
    code, out, err = run(capsys, "report", folder, "--run", 1, "--out", out_file)
    assert code == 0, err
    html = out_file.read_text(encoding="utf-8")
    assert 'id="confusion-matrix"' in html and html.count("data:image/jpeg;base64,") == 3
    assert str(out_file) in out


def test_compare_and_clear_errors(capsys, folder, tmp_path):
    code, out, _ = run(capsys, "compare", folder, 1, 1, "--json")
    assert code == 0 and json.loads(out)["compared"] == 45
    code, _, err = run(capsys, "evaluate", folder, "--run", 99)
    assert code == 1 and "no run 99" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "report", empty, "--out", tmp_path / "r.html")
    assert code == 1 and "not a Dovecote project yet" in err and not (empty / ".dovecote").exists()
    run(capsys, "import", empty)
    code, _, err = run(capsys, "report", empty, "--out", tmp_path / "r.html")
    assert code == 1 and "no trained model yet" in err

"""dovecote train / runs / export, called in-process as a user would type them."""
import json
import re

import numpy as np
import pytest

import core.cli.train_cmds as train_cmds
from core.cli import main
from imagegen import class_folder


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A two-class project with one finished quick run (trained through the CLI)."""
    root = class_folder(tmp_path_factory.mktemp("cli") / "pets", classes=("cats", "dogs"), per_class=6, size=(24, 16))
    assert main(["import", str(root), "--labels-from-subfolders", "--json"]) == 0
    assert main(["train", str(root), "--epochs", "5", "--device", "cpu", "--json"]) == 0
    return root


def test_train_json_reports_the_run_and_where_the_model_is(capsys, trained):
    code, out, _ = run(capsys, "train", trained, "--epochs", "4", "--seed", "7", "--val-fraction", "0.25", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["status"] == "finished" and result["seed"] == 7 and result["backbone"] == "efficientnet_lite0"
    assert result["metrics"]["val_images"] == 4 and result["metrics"]["head_epochs"] == 4
    assert result["config"]["val_fraction"] == 0.25
    assert result["model_file"].endswith(f"run-{result['id']}.safetensors")


def test_train_prints_a_summary_for_people(capsys, trained):
    code, out, err = run(capsys, "train", trained, "--epochs", "3")
    assert code == 0
    assert "Validation accuracy" in out and "Time: embeddings" in out and "Model: " in out
    assert "Training the head" in err  # the progress bar
    assert "Classifying on a CPU: int8; int8 agrees with fp32 on 100.0 % of 12 labelled images" in out


def test_train_no_int8_leaves_the_model_fp32(capsys, trained):
    code, out, _ = run(capsys, "train", trained, "--epochs", "2", "--no-int8", "--json")
    result = json.loads(out)
    assert code == 0 and "int8" not in result["metrics"] and result["config"]["int8"] is False
    code, out, _ = run(capsys, "runs", trained)
    newest, *_, first = [line for line in out.splitlines()[1:]]
    assert newest.endswith("  -") and first.endswith("yes (100.0% of 12)")


def test_runs_lists_every_run_newest_first(capsys, trained):
    code, out, _ = run(capsys, "runs", trained, "--json")
    listed = json.loads(out)
    assert code == 0 and len(listed) >= 1
    assert [r["id"] for r in listed] == sorted((r["id"] for r in listed), reverse=True)
    first = listed[-1]
    assert first["status"] == "finished" and first["backbone"] == "efficientnet_lite0"
    assert first["duration_s"] > 0 and 0 <= first["val_acc"] <= 1 and first["started"]
    code, out, _ = run(capsys, "runs", trained)
    assert "finished" in out and "val acc" in out


def test_export_onnx_runs_in_onnx_runtime(capsys, trained, tmp_path):
    import onnxruntime as ort

    target = tmp_path / "pets.onnx"
    code, out, _ = run(capsys, "export", trained, "--run", "1", "--format", "onnx", "--out", target)
    assert code == 0 and "Exported run 1" in out
    size = json.loads(run(capsys, "runs", trained, "--json")[1])[-1]["metrics"]["preprocessing"]["input_size"]
    assert f"images [N, 3, {size}, {size}]" in out
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    probs = session.run(None, {"images": np.zeros((2, 3, size, size), np.float32)})[0]
    assert probs.shape == (2, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_errors_are_one_line_with_exit_status_1(capsys, tmp_path, trained):
    root = class_folder(tmp_path / "single", classes=("only",), per_class=6, size=(24, 16))
    main(["import", str(root), "--labels-from-subfolders"])
    capsys.readouterr()
    code, _, err = run(capsys, "train", root)
    assert code == 1 and err.startswith("dovecote: error: Training needs labelled images in at least 2 classes")
    code, _, err = run(capsys, "export", trained, "--run", "999", "--format", "onnx", "--out", tmp_path / "x.onnx")
    assert code == 1 and "no run 999" in err
    code, _, err = run(capsys, "train", trained, "--backbone", "nonesuch")
    assert code == 1 and "Unknown backbone" in err


def test_ctrl_c_stops_cleanly_and_keeps_the_best_model(capsys, trained, monkeypatch):
    shown = []

    def interrupt_on_third_epoch(event):
        shown.append(event)
        if len(shown) == 3:
            raise KeyboardInterrupt
        return "..."

    monkeypatch.setattr(train_cmds, "_epoch_text", interrupt_on_third_epoch)
    monkeypatch.setattr(train_cmds, "is_terminal", lambda stream: True)  # the bar shows each epoch as it ends
    code, out, _ = run(capsys, "train", trained, "--epochs", "20")
    assert code == 130 and "recorded as cancelled" in out and "Model: " in out
    monkeypatch.undo()
    latest = json.loads(run(capsys, "runs", trained, "--json")[1])[0]
    assert latest["status"] == "cancelled" and latest["model_path"]
    assert latest["metrics"]["best_epoch"] <= 3


def test_fine_tune_one_epoch_shows_its_epoch_and_stores_it(capsys, trained):
    code, out, err = run(capsys, "train", trained, "--fine-tune", "--epochs", "1", "--no-flip", "--device", "cpu")
    assert code == 0 and "Fine-tuning epoch 1/1" in err and "Model: " in out
    latest = json.loads(run(capsys, "runs", trained, "--json")[1])[0]
    assert latest["status"] == "finished" and latest["config"]["fine_tune"]["epochs"] == 1
    assert latest["config"]["fine_tune"]["flip"] is False
    assert latest["metrics"]["phase_seconds"]["fine-tune"] > 0


def test_time_budget_fine_tunes_within_it_and_says_what_it_gained(capsys, trained):
    code, out, err = run(capsys, "train", trained, "--time-budget", "45s", "--no-flip", "--device", "cpu",
                         "--input-size", "64")  # generous: a busy test machine takes seconds for milliseconds
    assert code == 0 and "Fine-tuning (time budget 45.0 s, " in out and "of it left for this phase): the last " in out
    assert "Fine-tuning gain over the head alone: " in out and "same 2 validation images" in out
    code, out, _ = run(capsys, "runs", trained, "--json")
    latest = json.loads(out)[0]
    assert latest["config"]["fine_tune"]["time_budget_s"] == 45 and latest["duration_s"] < 45


def test_a_budgeted_runs_epoch_lines_count_against_the_epochs_that_fit(capsys, trained):
    code, _, err = run(capsys, "train", trained, "--time-budget", "15s", "--epochs", "100000", "--no-flip",
                       "--device", "cpu", "--input-size", "64")
    assert code == 0
    plan = json.loads(run(capsys, "runs", trained, "--json")[1])[0]["metrics"]["fine_tune_plan"]
    lines = re.findall(r"Fine-tuning epoch (\d+)/(\d+):", err)
    assert plan["epochs"] < 100_000 and lines and lines[-1] == (str(plan["epochs_run"]), str(plan["epochs"]))


@pytest.mark.parametrize("text, seconds", [("5m", 300), ("90s", 90), ("1h30m", 5400), ("4m30s", 270), ("45", 45)])
def test_time_budgets_read_as_people_write_them(text, seconds):
    assert train_cmds._duration_arg(text) == seconds


def test_a_time_budget_that_is_not_a_duration_is_refused(capsys, trained):
    with pytest.raises(SystemExit):
        main(["train", str(trained), "--time-budget", "soon"])
    assert "not a duration" in capsys.readouterr().err


def test_retrain_trains_the_head_again_with_the_latest_models_settings(capsys, tmp_path):
    root = class_folder(tmp_path / "pets", classes=("cats", "dogs"), per_class=6, size=(24, 16))
    main(["import", str(root), "--labels-from-subfolders"])
    capsys.readouterr()
    code, _, err = run(capsys, "train", root, "--retrain")
    assert code == 1 and "no model to retrain yet. Train one first: dovecote train " in err
    assert run(capsys, "train", root, "--epochs", "3", "--seed", "5", "--device", "cpu")[0] == 0
    code, out, _ = run(capsys, "train", root, "--retrain", "--device", "cpu")
    assert code == 0 and "head on the pretrained network" in out
    first, retrained = sorted(json.loads(run(capsys, "runs", root, "--json")[1]), key=lambda r: r["id"])
    assert retrained["config"] == first["config"] and retrained["metrics"]["head_epochs"] == 3
    code, _, err = run(capsys, "train", root, "--retrain", "--fine-tune", "--epochs", "2")
    assert code == 1 and "--retrain uses the latest model's settings: leave out --fine-tune, --epochs" in err

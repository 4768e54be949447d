"""The Train view driven through its real widgets: a quick run to its end, a cancelled run that keeps its
model, the fine-tuning time limit, Train disabled with the reason, the runs list (CLI runs too, rename, note,
export, delete), two runs compared, and `dovecote gui --view train`."""
from __future__ import annotations


import pytest
from colourproject import colour_images
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from core.cli.main import build_parser
from core.models.bundles import load_model
from core.project import Project
from core.storage import labels, predictions, runs
from core.training.lock import TrainingLock
from core.training.runner import EpochEnded, TrainConfig, train
from core.models.heads import HeadConfig
from desktop.train.view import ESTIMATE_DELAY_MS
from imagegen import class_folder

RUN_S = 300_000  # a child process starts, loads torch and trains: generous for a busy machine


@pytest.fixture
def colours(tmp_path):
    return colour_images(tmp_path / "colours")


def open_train_view(window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    assert window.show_view("train")
    view = window.train_view
    panel = view.settings_panel
    panel.input_size.setCurrentIndex(panel.input_size.findData(64))  # tiny images: a quick network input
    return view


def start_and_wait(qtbot, window, view, timeout=RUN_S):
    with qtbot.waitSignal(window.training.finished, timeout=timeout):
        qtbot.mouseClick(view.settings_panel.train_button, Qt.MouseButton.LeftButton)


def stored(folder, run_id):
    with Project.open(folder) as project, project.session() as session:
        return runs.get_run(session, run_id), runs.epochs(session, run_id)


def test_a_quick_run_finishes_with_one_chart_point_per_epoch(qtbot, window, open_folder, colours):
    view = open_train_view(window, open_folder, colours)
    view.settings_panel.epochs.setValue(7)
    assert view.settings_panel.train_button.isEnabled()
    qtbot.waitUntil(lambda: "about" in view.settings_panel.summary.text()
                    or "a few seconds" in view.settings_panel.summary.text(), timeout=10_000)
    assert "Train on 12 labelled images in 2 classes" in view.settings_panel.summary.text()

    start_and_wait(qtbot, window, view)

    run, epochs = stored(colours, 1)
    assert run.status == "finished" and run.metrics["preprocessing"]["input_size"] == 64
    assert len(view.charts.points("val_loss")) == len(epochs) == run.metrics["head_epochs"]
    assert view.charts.best_epoch() == ("head", run.metrics["best_epoch"])
    drawn = {item.name(): item.getData()[1] for item in view.charts.loss.getPlotItem().listDataItems()}
    assert len(drawn["validation"]) == len(drawn["training"]) == len(epochs)  # what the chart shows, not only holds
    model = view.runs.model
    assert model.rowCount() == 1 and model.data(model.index(0, 1)) == "Finished"
    assert window.status.currentMessage().startswith("Model 1 ready: ")
    assert window.status.currentMessage().endswith(" % on all labelled images")
    assert "✓ Evaluating every image" in view.progress.phases.text()
    # The grid's prediction filters follow the new run without reopening the project, read when seen.
    box = window.filter_bar.show_box
    assert "Model disagrees with label" not in [box.itemText(i) for i in range(box.count())]
    assert window.show_view("images")
    assert "Model disagrees with label" in [box.itemText(i) for i in range(box.count())]
    # The settings are remembered for this project.
    assert window.settings.train_settings(colours.resolve())["epochs"] == 7


def test_labelling_in_the_grid_estimates_nothing_until_the_train_view_is_shown(qtbot, window, open_folder, colours):
    """The estimate reads every labelled image: made after each label key, it slowed labelling a large
    project. It is made when the view is seen, for the labels as they are then."""
    open_folder(window, colours, subfolders_as_classes=True)
    assert window.show_view("images")
    titles: list[str] = []
    window.context.tasks.started.connect(lambda task: titles.append(task.title))
    first, first_class = window.model.image_id(0), window.model.card(0).class_id
    assert window.context.set_labels([first], None)
    qtbot.waitUntil(lambda: window.context.counts().labelled == 11)
    qtbot.wait(ESTIMATE_DELAY_MS + 100)  # nothing may start meanwhile
    assert "Estimating" not in titles

    view = window.train_view
    assert window.show_view("train")
    qtbot.waitUntil(lambda: "about" in view.settings_panel.summary.text()
                    or "a few seconds" in view.settings_panel.summary.text(), timeout=30_000)
    assert titles.count("Estimating") == 1
    assert "Train on 11 labelled images in 2 classes" in view.settings_panel.summary.text()

    running, most = set(), []  # estimates run one at a time: each is a child process
    window.context.tasks.started.connect(lambda task: task.title == "Estimating" and (
        running.add(task), most.append(len(running)), task.done.connect(lambda: running.discard(task))))
    assert window.context.set_labels([first], first_class)  # seen: estimated again, while settings change too
    for _change in range(3):  # each one's delay over at once: the first estimate is still running
        view.settings_panel.epochs.setValue(view.settings_panel.epochs.value() + 1)
        view._estimate_timer.timeout.emit()
    qtbot.waitUntil(lambda: "Train on 12 labelled images" in view.settings_panel.summary.text()
                    and not running, timeout=30_000)
    assert most and max(most) == 1


def test_cancel_keeps_the_best_model_and_lists_the_run_as_cancelled(qtbot, window, open_folder, colours):
    view = open_train_view(window, open_folder, colours)
    panel = view.settings_panel
    panel.fine_tune.setChecked(True)
    panel.epochs.setValue(200)  # far more fine-tuning than the test waits for
    panel.input_size.setCurrentIndex(panel.input_size.findData(64))
    seen = []

    def cancel_in_fine_tuning(event):
        if isinstance(event, EpochEnded) and event.phase == "fine-tune" and not seen:
            seen.append(event)
            qtbot.mouseClick(view.progress.cancel, Qt.MouseButton.LeftButton)

    window.training.started.connect(lambda task, _config: task.event.connect(cancel_in_fine_tuning))
    start_and_wait(qtbot, window, view)

    assert seen
    run, epochs = stored(colours, 1)
    assert run.status == "cancelled" and run.model_path
    assert 1 <= len([e for e in epochs if e.phase == "fine-tune"]) < 200
    model = view.runs.model
    assert model.data(model.index(0, 1)) == "Cancelled (model kept)"
    assert window.status.currentMessage().startswith("Run 1 stopped; its best model so far is kept")
    bundle = load_model(colours, run.id)
    assert bundle.classes == ["blue", "red"]
    assert view.settings_panel.train_button.isEnabled()  # a new run can start


def test_the_fine_tuning_time_limit_is_the_runs_budget_and_is_remembered(window, open_folder, colours, tmp_path):
    view = open_train_view(window, open_folder, colours)
    panel = view.settings_panel
    minutes = panel.fine_tune_minutes
    assert not minutes.isEnabled() and panel.choices().config().fine_tune is None
    panel.fine_tune.setChecked(True)
    assert minutes.isEnabled() and minutes.text() == "up to 5 min"  # the command line's default
    minutes.setValue(12)
    assert panel.choices().config().fine_tune.time_budget_s == 720
    panel.advanced_button.click()
    panel.epochs.setValue(3)  # a number of epochs instead: no time limit, as `train --epochs`
    assert not minutes.isEnabled() and "without a time limit" in minutes.toolTip()
    assert panel.choices().config().fine_tune.time_budget_s is None
    panel.epochs.setValue(0)
    assert minutes.isEnabled()

    open_folder(window, class_folder(tmp_path / "other", classes=("cats", "dogs"), per_class=6),
                subfolders_as_classes=True)
    assert not panel.fine_tune.isChecked() and minutes.value() == 5
    open_folder(window, colours)
    assert panel.fine_tune.isChecked() and minutes.value() == 12


def test_train_is_disabled_with_the_reason(qtbot, window, open_folder, tmp_path):
    view = open_train_view(window, open_folder, class_folder(tmp_path / "one", classes=("cats",), per_class=6))
    assert not view.settings_panel.train_button.isEnabled()
    assert "at least 2 classes" in view.settings_panel.problem.text()
    assert "at least 2 classes" in view.settings_panel.train_button.toolTip()

    few = class_folder(tmp_path / "few", classes=("cats", "dogs"), per_class=6)
    for i in range(3):
        (few / "dogs" / f"{i}.png").unlink()
    open_folder(window, few, subfolders_as_classes=True)
    assert not view.settings_panel.train_button.isEnabled()
    assert "'dogs' (3)" in view.settings_panel.problem.text()


def test_small_classes_warn_without_blocking(window, open_folder, colours):
    view = open_train_view(window, open_folder, colours)
    assert view.settings_panel.train_button.isEnabled()
    assert "Few images in 'blue' (6), 'red' (6)" in view.settings_panel.problem.text()


def test_another_process_training_blocks_train_with_a_message(qtbot, window, open_folder, colours):
    view = open_train_view(window, open_folder, colours)
    held = TrainingLock(colours / ".dovecote", "a terminal command").acquire()
    try:
        held.describe(7)
        view.refresh()
        assert not view.settings_panel.train_button.isEnabled()
        assert "already training (run 7, started from a terminal command)" in view.settings_panel.problem.text()
    finally:
        held.release()
    view.refresh()
    assert view.settings_panel.train_button.isEnabled()


def test_a_run_from_the_terminal_shows_up_in_the_list(qtbot, window, open_folder, colours):
    view = open_train_view(window, open_folder, colours)
    assert view.runs.model.rowCount() == 0
    with Project.open(colours) as project:
        for _ in train(project, TrainConfig(head=HeadConfig(kind="mlp", max_epochs=3, patience=None), device="cpu",
                                            input_size=64, int8=False)):
            pass
    qtbot.waitUntil(lambda: view.runs.model.rowCount() == 1, timeout=5_000)  # the watcher polls every 2 s
    assert view.runs.model.data(view.runs.model.index(0, 1)) == "Finished"

    view.runs.select([1])
    told = []
    view.runs.selection_changed.connect(told.append)
    window.context.runs_changed.emit()  # the list is read again: the same run stays selected, said once
    assert told == [[1]] and view.runs.selected_ids() == [1]


def test_a_run_made_while_the_train_view_is_hidden_is_listed_when_it_is_shown(qtbot, window, open_folder,
                                                                             colours):
    """The runs list is read when it can be seen: after a retrain every view hears of it at once, on the
    window's thread, and the hidden ones' reads stalled the one in front."""
    view = open_train_view(window, open_folder, colours)
    assert window.show_view("images")
    with Project.open(colours) as project:
        for _ in train(project, TrainConfig(head=HeadConfig(kind="mlp", max_epochs=3, patience=None), device="cpu",
                                            input_size=64, int8=False)):
            pass
    window.run_watcher.check()  # what its poll does every 2 s
    assert view.runs.model.rowCount() == 0  # heard of, not yet read
    assert window.show_view("train")
    assert view.runs.model.rowCount() == 1 and view.runs.model.data(view.runs.model.index(0, 1)) == "Finished"


def test_rename_note_export_and_delete_a_run(qtbot, window, open_folder, colours, tmp_path, monkeypatch):
    with Project.open(colours) as project:
        from core.importing.scanning import import_folder

        for _ in import_folder(project, labels_from_subfolders=True):
            pass
        for _ in train(project, TrainConfig(head=HeadConfig(kind="mlp", max_epochs=3, patience=None), device="cpu",
                                            input_size=64, int8=False)):
            pass
    view = open_train_view(window, open_folder, colours)
    panel, model = view.runs, view.runs.model
    panel.select([1])
    assert panel.rename(1, "  first try ")
    assert panel.set_note(1, "red and blue only")
    assert model.data(model.index(0, 0)) == "first try" and model.data(model.index(0, 9)) == "red and blue only"
    assert panel.selected_ids() == [1]  # the selection survives the list's refresh
    assert "first try" in view.heading.text() and "red and blue only" in view.heading.text()

    out = tmp_path / "exported.safetensors"
    task = panel.export(1, "bundle", str(out))
    with qtbot.waitSignal(task.done, timeout=60_000):
        pass
    assert load_model(out).classes == ["blue", "red"]

    model_file = colours / ".dovecote" / stored(colours, 1)[0].model_path
    monkeypatch.setattr(QMessageBox, "question", lambda *_args: QMessageBox.StandardButton.Yes)
    panel.ask_delete()
    assert model.rowCount() == 0 and not model_file.exists()


def test_comparing_two_runs_shows_their_figures_and_the_changed_images(qtbot, window, open_folder, tmp_path):
    from evalproject import trained_project

    project, first = trained_project(tmp_path / "pets", max_epochs=10)
    second = [e for e in train(project, TrainConfig(head=HeadConfig(kind="mlp", max_epochs=10, patience=None), device="cpu",
                                                    seed=1, int8=False)) if type(e).__name__ == "RunFinished"][-1].run_id
    with project.session() as session:  # the first run got two images wrong that the second gets right
        class_ids = [c.id for c in labels.list_classes(session)]
        rows = predictions.load_predictions(session, first, "oof")
        later = {p.image_id: p.predicted_class_id for p in predictions.load_predictions(session, second, "oof")}
        wrong = [p.image_id for p in rows[:2]]
        changed = [p if p.image_id not in wrong else predictions.StoredPrediction(
            p.image_id, next(c for c in class_ids if c != later[p.image_id]), 0.9, p.probabilities) for p in rows]
        predictions.replace_predictions(session, first, "oof", changed)
    project.close()

    open_folder(window, tmp_path / "pets", subfolders_as_classes=True)
    window.show_view("train")
    view = window.train_view
    view.runs.select([first, second])
    assert view.comparison.isVisible()
    assert len(view.charts.points("val_loss", 0)) == 10 and len(view.charts.points("val_loss", 1)) == 10
    table = view.comparison.table
    assert [table.horizontalHeaderItem(i).text() for i in range(2)] == [f"Run {first}", f"Run {second}"]
    qtbot.waitUntil(lambda: view.comparison.result is not None, timeout=10_000)
    fixed = view.comparison.groups()["fixed"]
    assert set(wrong) <= set(fixed)
    assert "fixed" in view.comparison.summary.text()

    qtbot.mouseClick(view.comparison.buttons["fixed"], Qt.MouseButton.LeftButton)
    assert window.views.tabText(window.views.currentIndex()) == "Images"
    assert sorted(window.model.ids()) == sorted(fixed)


def test_gui_view_option_opens_the_train_view(qtbot, colours, monkeypatch):
    from desktop.app import create_window
    from desktop.project import opener

    monkeypatch.setattr(opener, "ask_subfolder_classes", lambda *_args: True)
    args = build_parser().parse_args(["gui", str(colours), "--view", "Train"])
    assert args.view == "train"
    window = create_window(args)
    qtbot.addWidget(window)
    assert window.views.tabText(window.views.currentIndex()) == "Train"
    assert not window.show_view("no such view")
    qtbot.waitUntil(lambda: not window.importer.running, timeout=20_000)

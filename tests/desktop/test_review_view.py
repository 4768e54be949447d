"""The Review view, driven through its real widgets: the matrix counts what core counts, a cell opens exactly
its images, relabelling there reaches the store and the cell's "changed" count, Enter accepts a suggestion
(and, in the main grid, a prediction) with its history source, and the model retrains once per burst."""
from __future__ import annotations

import dataclasses

import colourproject
import pytest
from evalproject import trained_project
from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal

from core.evaluation.run_evaluation import load_evaluation
from core.project import Project
from core.storage import catalog, gallery, labels, predictions, runs
from core.training.estimate import estimate_run
from core.training.retrain import retrain_config
from core.storage.predictions import StoredPrediction
from desktop.gallery.model import PREDICTION_ROLE
from desktop.review.confusion_model import CHANGED_ROLE, COUNT_ROLE
from desktop.review.images_model import ITEM_ROLE


@pytest.fixture
def project_folder(tmp_path):
    project, run_id = trained_project(tmp_path / "pets", max_epochs=15)
    project.close()
    return tmp_path / "pets", run_id


@pytest.fixture
def review(qtbot, window, open_folder, project_folder):
    """The window on the Review view of the trained project, its data shown."""
    root, run_id = project_folder
    open_folder(window, root)
    with qtbot.waitSignal(window.review.loaded, timeout=30_000):
        window.views.setCurrentWidget(window.review)
    # The read's task ends just after its data is shown; a test that blocks the event loop (training in
    # process) would otherwise still find it under way.
    qtbot.waitUntil(lambda: window.review.loading is None, timeout=10_000)
    return window.review


def evaluation(root, run_id):
    with Project.open(root) as project:
        return load_evaluation(project, run_id)


def click_cell(qtbot, view, row: int, column: int) -> None:
    table = view.matrix.table
    rect = table.visualRect(view.matrix.model.index(row, column))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def history(root) -> list[labels.HistoryEntry]:
    with Project.open(root) as project, project.session() as session:
        return labels.recent_changes(session)


def class_of(root, image_id: int) -> str | None:
    with Project.open(root) as project, project.session() as session:
        (row,) = catalog.images_by_ids(session, [image_id])
        names = {c.id: c.name for c in labels.list_classes(session)}
        return names.get(row.class_id)


def test_the_matrix_counts_what_core_counts_and_says_what_it_covers(review, project_folder):
    root, run_id = project_folder
    core = evaluation(root, run_id).confusion
    model = review.matrix.model
    n = len(core.class_names)
    shown = [[model.index(r, c).data(COUNT_ROLE) for c in range(n)] for r in range(n)]
    assert shown == core.counts
    assert model.index(n, n).data(COUNT_ROLE) == sum(map(sum, core.counts))  # the grand total
    assert [model.headerData(i, Qt.Orientation.Vertical) for i in range(n)] == core.class_names
    off = next((r, c) for r in range(n) for c in range(n) if r != c and core.counts[r][c])
    tip = model.index(*off).data(Qt.ItemDataRole.ToolTipRole)
    assert f"labelled {core.class_names[off[0]]} that the model calls {core.class_names[off[1]]}" in tip
    assert f"Run {run_id}" in review.summary.text() and "never saw it" in review.summary.text()
    review.matrix.percent.setChecked(True)
    assert model.index(*off).data().endswith("%")


def test_clicking_a_cell_shows_exactly_its_images_most_confident_first(qtbot, review, project_folder):
    root, run_id = project_folder
    core = evaluation(root, run_id).confusion
    n = len(core.class_names)
    for given, predicted in [(0, 0), (1, 1)] + [(g, p) for g in range(n) for p in range(n) if g != p and core.counts[g][p]]:
        click_cell(qtbot, review, given, predicted)
        assert review.images.ids() == [c.image_id for c in core.images(given, predicted)]
    review.matrix.table.verticalHeader().sectionClicked.emit(1)  # a row header: every image labelled that class
    assert sorted(review.images.ids()) == sorted(c.image_id for p in range(n) for c in core.images(1, p))


def test_relabelling_in_a_cell_stores_it_keeps_it_visible_and_counts_it_changed(qtbot, window, review, project_folder):
    root, run_id = project_folder
    core = evaluation(root, run_id).confusion
    click_cell(qtbot, review, 0, 0)
    first, second = review.images.ids()[:2]
    review.grid.select_ids([first])
    review.grid.setFocus()
    qtbot.keyClick(review.grid, Qt.Key.Key_2)  # the second class in the sidebar
    assert class_of(root, first) == window.context.classes[1].name
    assert first in review.images.ids()  # still in the run's cell, marked
    assert review.images.changed_label(review.images.index(0).data(ITEM_ROLE)) == window.context.classes[1].name
    assert review.matrix.model.index(0, 0).data(CHANGED_ROLE) == 1
    # the same undo history as the main grid
    window.label_actions.undo.trigger()
    assert class_of(root, first) == core.class_names[0]
    assert review.matrix.model.index(0, 0).data(CHANGED_ROLE) == 0
    # selections survive switching cells
    review.grid.select_ids([first, second])
    click_cell(qtbot, review, 1, 1)
    click_cell(qtbot, review, 0, 0)
    assert sorted(review.grid.selected_ids()) == sorted([first, second])


def test_enter_accepts_a_suggestion_and_k_keeps_a_label(qtbot, review, project_folder):
    root, _run_id = project_folder
    suspects = list(review.mistakes_model.rows)
    assert len(suspects) >= 2  # evalproject files three images under the wrong class
    review.queue.setFocus()
    review.queue.select_row(0)
    qtbot.keyClick(review.queue, Qt.Key.Key_Return)
    assert class_of(root, suspects[0].image_id) == suspects[0].suggested
    assert history(root)[0].source == labels.ACCEPTED_SUGGESTION
    assert suspects[0].image_id not in [r.image_id for r in review.mistakes_model.rows]

    kept = review.mistakes_model.rows[0]
    review.queue.select_row(0)
    qtbot.keyClick(review.queue, Qt.Key.Key_K)
    assert class_of(root, kept.image_id) == kept.given  # unchanged
    assert kept.image_id not in [r.image_id for r in review.mistakes_model.rows]
    review.reload()  # asked again? not for this run
    qtbot.waitUntil(lambda: review.loading is None)
    assert kept.image_id not in [r.image_id for r in review.mistakes_model.rows]


def test_enter_in_the_grid_accepts_the_prediction_of_unlabelled_images(qtbot, window, review, project_folder):
    root, run_id = project_folder
    with Project.open(root) as project, project.session() as session:
        image = catalog.image_by_path(session, "cats/cat_00.png")
        labels.set_labels(session, [image.id], None)  # now unlabelled: the model's guess is what the grid shows
        dogs = next(c.id for c in labels.list_classes(session) if c.name == "dogs")
        predictions.replace_predictions(session, run_id, "model", [StoredPrediction(image.id, dogs, 0.7, [0.1, 0.7, 0.2])])
    window.context.runs_changed.emit()
    window.views.setCurrentIndex(0)
    window.filter_bar.set_sort(gallery.SORT_CONFIDENCE)
    assert window.model.ids()[0] == image.id  # least confident first: the only predicted one
    row = window.model.row_of(image.id)
    name, _colour, confidence, stale = window.model.index(row).data(PREDICTION_ROLE)
    assert (name, confidence, stale) == ("dogs", 0.7, True)  # labels changed since that run: marked stale
    window.grid.select_ids([image.id])
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    assert class_of(root, image.id) == "dogs"
    assert history(root)[0].source == labels.ACCEPTED_PREDICTION


@pytest.fixture
def started(window, monkeypatch) -> list:
    """The configs of the runs the window starts, each held as going (a task that never ends) until the test
    says it ended."""
    configs = []

    class FakeTask(QObject):
        event = Signal(object)

    def start(config, title="Training"):
        configs.append(config)
        window.training.task = FakeTask()
        return window.training.task

    monkeypatch.setattr(window.training, "start", start)
    return configs


def test_automatic_retrain_happens_once_after_a_burst_of_labels(qtbot, window, review, started):
    retrainer = review.retrainer
    assert retrainer.auto  # on by default
    retrainer.timer.setInterval(200)
    click_cell(qtbot, review, 0, 0)
    ids = review.images.ids()[:5]
    second = window.context.classes[1].id
    for image_id in ids:  # a burst: five label changes in a row
        window.context.set_labels([image_id], second)
    assert "updating the model" in window.model_state.text().lower()
    qtbot.waitUntil(lambda: bool(started), timeout=5_000)
    assert len(started) == 1 and started[0].fine_tune is None and not retrainer.timer.isActive()
    window.context.set_labels([ids[0]], None)  # during the run: waits for it, never a second at once
    assert len(started) == 1 and not retrainer.timer.isActive()
    assert "after the current run" in window.model_state.text()
    window.training.task = None
    window.training.finished.emit(None)  # the run ended: the change made meanwhile gets its run
    qtbot.waitUntil(lambda: len(started) == 2, timeout=5_000)


def test_after_fine_tuning_the_model_keeps_up_to_date_on_the_fine_tuned_network(qtbot, window, review, started,
                                                                               monkeypatch):
    retrainer = review.retrainer
    tuned = dataclasses.replace(retrainer.base_run(), metrics={"fine_tuned": True})
    monkeypatch.setattr(retrainer, "base_run", lambda: tuned)
    retrainer.timer.setInterval(200)
    click_cell(qtbot, review, 0, 0)
    window.context.set_labels(review.images.ids()[:1], window.context.classes[1].id)
    qtbot.waitUntil(lambda: bool(started), timeout=5_000)
    assert started[0].fine_tune is None and started[0].network_of_run == tuned.id


def test_the_retrain_button_says_how_long_the_retrains_plan_takes(qtbot, review, project_folder):
    """The plan training itself makes (the speeds measured here, what is cached), not a past run's duration."""
    root, _ = project_folder
    with Project.open(root) as project:
        with project.session() as session:
            base = runs.latest_model_run(session)
        plan = next(estimate_run(project, retrain_config(base), "cpu"))
    qtbot.waitUntil(lambda: review.bar.button.text() == f"Retrain (about {max(1, round(plan.seconds))} s)",
                    timeout=30_000)


def test_retrain_shows_the_new_matrix_and_what_changed(qtbot, window, review, project_folder):
    """The real thing: relabel a suspected mistake, press Retrain, and the matrix of the new run appears with
    the mistake cells that moved."""
    root, run_id = project_folder
    suspect = review.mistakes_model.rows[0]
    review.queue.select_row(0)
    review.queue.setFocus()
    qtbot.keyClick(review.queue, Qt.Key.Key_Return)
    with qtbot.waitSignal(review.loaded, timeout=120_000, check_params_cb=lambda shown: shown != run_id):
        qtbot.mouseClick(review.bar.button, Qt.MouseButton.LeftButton)
    assert review.data.run.id > run_id and review.data.run.network is None
    assert f"Run {review.data.run.id} against run {run_id}" in review.bar.changes.text()
    assert f"{suspect.given}→{suspect.suggested}" in review.bar.changes.text()  # that mistake cell shrank


def test_a_model_trained_elsewhere_predicts_the_unlabelled_images_once_the_window_opens(
        qtbot, window, open_folder, tmp_path):
    root, run_id = colourproject.trained_project(tmp_path / "colours")  # as `dovecote train` leaves it
    Image.new("RGB", (64, 48), colourproject.COLOURS["red"]).save(root / "new.png")  # not labelled yet
    open_folder(window, root)
    row = next(r for r in range(window.model.rowCount()) if window.model.card(r).path == "new.png")

    def guess():
        return window.model.index(row).data(PREDICTION_ROLE)

    qtbot.waitUntil(lambda: guess() is not None, timeout=90_000)
    assert guess()[0] == "red"
    with Project.open(root) as project, project.session() as session:
        stored = predictions.load_predictions(session, run_id, "model")
    assert [p.image_id for p in stored] == [window.model.image_id(row)]  # stored with the run


def test_predictions_that_fail_say_so_where_the_model_state_is_shown(qtbot, window, open_folder, project_folder):
    root, _run_id = project_folder  # its model's head fits made-up 32-number embeddings, not the network's
    Image.new("RGB", (24, 16), (200, 30, 30)).save(root / "new.png")  # unlabelled: the model is asked about it
    open_folder(window, root)
    qtbot.waitUntil(lambda: "could not be predicted" in window.model_state.text(), timeout=60_000)
    # A task's done comes with its failure, in the same turn of the event loop: it is let go by now.
    assert window.review.retrainer.predicting is None


def test_the_run_box_shows_an_older_run_and_latest_follows_new_runs_again(qtbot, window, open_folder, tmp_path):
    from core.models.heads import HeadConfig
    from core.training.runner import RunFinished, TrainConfig, train

    project, first = trained_project(tmp_path / "pets", max_epochs=5)
    config = TrainConfig(head=HeadConfig(kind="mlp", max_epochs=5, patience=None), device="cpu", int8=False)
    second = next(e.run_id for e in train(project, config) if isinstance(e, RunFinished))
    project.close()
    open_folder(window, tmp_path / "pets")
    with qtbot.waitSignal(window.review.loaded, timeout=30_000):
        window.views.setCurrentWidget(window.review)
    review, box = window.review, window.review.run_box
    assert review.data.run.id == second
    assert [box.itemText(i).split(" (")[0] for i in range(box.count())] == ["Latest", f"Run {second}", f"Run {first}"]

    def choose(text: str) -> None:
        index = next(i for i in range(box.count()) if box.itemText(i).startswith(text))
        box.setCurrentIndex(index)
        box.activated.emit(index)  # what picking it from the open list does

    with qtbot.waitSignal(review.loaded, timeout=30_000, check_params_cb=lambda shown: shown == first):
        choose(f"Run {first}")
    assert f"Run {first}, quick" in review.summary.text()
    with qtbot.waitSignal(review.loaded, timeout=30_000, check_params_cb=lambda shown: shown == second):
        choose("Latest")
    assert f"Run {second}, quick" in review.summary.text()


def test_a_run_its_training_still_evaluates_is_read_once_stored_not_evaluated_a_second_time(
        qtbot, window, open_folder, tmp_path):
    from core.models.heads import HeadConfig
    from core.training.plan import EVALUATE, PhaseStarted
    from core.training.runner import TrainConfig, train

    project, first = trained_project(tmp_path / "pets", max_epochs=5)
    config = TrainConfig(head=HeadConfig(kind="mlp", max_epochs=5, patience=None), device="cpu", int8=False)
    run = train(project, config)
    for event in run:  # the run's model is stored; its evaluation is where its training child would be now
        if isinstance(event, PhaseStarted) and event.key == EVALUATE:
            break
    run.close()
    second = first + 1
    project.close()
    open_folder(window, tmp_path / "pets")
    window.training.task, window.training.run_id = object(), second  # a training going that evaluates it
    started = []
    original = window.context.tasks.run
    window.context.tasks.run = lambda title, *args, **kwargs: started.append(title) or original(title, *args, **kwargs)
    window.views.setCurrentWidget(window.review)
    review = window.review
    qtbot.waitUntil(lambda: f"Run {second} is being evaluated" in review.summary.text(), timeout=10_000)
    qtbot.wait(300)
    assert f"Reading run {second}" not in started  # nothing evaluates it beside its training
    window.training.task = None  # it ended (its evaluation would be stored now): the view evaluates it itself
    with qtbot.waitSignal(review.loaded, timeout=60_000, check_params_cb=lambda shown: shown == second):
        window.context.runs_changed.emit()
    assert started.count(f"Reading run {second}") == 1


def test_a_run_made_while_the_review_view_is_hidden_is_shown_when_it_is_shown(qtbot, window, review,
                                                                            project_folder):
    """The review data is read when it can be seen, once, however many store changes came in between."""
    from core.models.heads import HeadConfig
    from core.training.runner import RunFinished, TrainConfig, train

    root, first = project_folder
    assert window.show_view("images")
    with Project.open(root) as project:
        config = TrainConfig(head=HeadConfig(kind="mlp", max_epochs=5, patience=None), device="cpu", int8=False)
        second = next(e.run_id for e in train(project, config) if isinstance(e, RunFinished))
    started = []
    original = window.context.tasks.run
    window.context.tasks.run = lambda title, *args, **kwargs: started.append(title) or original(title, *args, **kwargs)
    for _ in range(3):
        window.context.runs_changed.emit()
    assert review.data.run.id == first and review.loading is None and started == []  # heard of, not yet read
    with qtbot.waitSignal(review.loaded, timeout=30_000, check_params_cb=lambda shown: shown == second):
        assert window.show_view("review")
    assert started == [f"Reading run {second}"]
    assert f"Run {second}, quick" in review.summary.text()


def test_a_retrain_with_every_image_labelled_predicts_nothing_and_says_the_model_is_up_to_date(
        qtbot, window, review, project_folder):
    root, first = project_folder  # every image of it is labelled
    started = []
    original = window.context.tasks.run
    window.context.tasks.run = lambda title, *args, **kwargs: started.append(title) or original(title, *args, **kwargs)
    with qtbot.waitSignal(review.loaded, timeout=120_000, check_params_cb=lambda shown: shown != first):
        qtbot.mouseClick(review.bar.button, Qt.MouseButton.LeftButton)
    second = review.data.run.id
    qtbot.waitUntil(lambda: f"Model {second} is up to date" in window.model_state.text(), timeout=30_000)
    assert "Predicting unlabelled images" not in started
    assert "could not be predicted" not in window.model_state.text()


def test_with_ten_classes_the_cells_images_and_the_suspects_keep_a_usable_width(qtbot, window, open_folder, tmp_path):
    # Ten classes' matrix is wider than a window of the size Dovecote first opens at leaves it: the matrix
    # scrolls, and the chosen cell's images and the suspects beside it stay wide enough to work in.
    root = tmp_path / "ten"
    project, _ = trained_project(root, max_epochs=5, classes=tuple(f"class {k}" for k in range(10)))
    project.close()
    window.resize(1280, 800)
    open_folder(window, root)
    with qtbot.waitSignal(window.review.loaded, timeout=30_000):
        window.views.setCurrentWidget(window.review)
    matrix, images, suspects = window.review.split.sizes()
    assert images >= 200 and suspects >= 200, (matrix, images, suspects)
    assert window.review.matrix.table.horizontalScrollBar().maximum() > 0  # the rest of the matrix: scrolled to
    from desktop.review.mistakes import ICON
    window.review.split.setSizes([matrix, images + suspects - 150, 150])  # the user narrows the suspects
    qtbot.wait(50)
    assert window.review.queue.columnWidth(0) >= ICON + 8  # each thumbnail still whole, with its cell margins

"""A trained project evaluated end to end: stored out-of-fold predictions for every labelled image, the
misfiled images found, judged against the labels the run was trained on, run-to-run comparison, report."""
from dataclasses import replace

import pytest

from core.evaluation.comparison import compare_runs, labels_at, net_edits
from core.events import Progress
from core.report.build import write_report
from core.evaluation.run_evaluation import EvaluationReady, NotEvaluated, ensure_evaluated, evaluate_run, load_evaluation
from core.models.heads import HeadConfig
from core.evaluation.out_of_fold import PHASE as OOF_PHASE
from core.project import Project
from core.importing.scanning import import_folder
from core.storage import catalog, labels, predictions, runs
from core.training.runner import RunFinished, TrainConfig, train
from evalproject import CLASSES, MISFILED, PER_CLASS, cache_embeddings, make_folder, trained_project


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    project, run_id = trained_project(tmp_path_factory.mktemp("eval") / "pets")
    yield project, run_id
    project.close()


def test_training_ends_with_a_stored_out_of_fold_prediction_for_every_labelled_image(evaluated):
    project, run_id = evaluated
    with project.session() as session:
        stored = predictions.load_predictions(session, run_id, "oof")
        labelled = {image.id for image in catalog.labelled_images(session)}
    assert {p.image_id for p in stored} == labelled
    for p in stored:
        assert len(p.probabilities) == 3 and sum(p.probabilities) == pytest.approx(1.0, abs=1e-4)
        assert p.confidence == pytest.approx(max(p.probabilities))
    assert list(ensure_evaluated(project, run_id)) == []  # computed once, by train()
    events = list(evaluate_run(project, run_id))  # computed again: the same folds, the same predictions
    assert isinstance(events[-1], EvaluationReady) and events[-1].images == 3 * PER_CLASS
    assert any(isinstance(e, Progress) and e.done == e.total == 5 for e in events)
    with project.session() as session:
        assert predictions.load_predictions(session, run_id, "oof") == stored


def test_misfiled_images_are_the_suspects_with_their_true_class(evaluated):
    project, run_id = evaluated
    ev = load_evaluation(project, run_id)
    assert sorted(ev.class_names) == sorted(CLASSES) and ev.folds == 5
    top = {s.path: s.suggested for s in ev.suspects[: len(MISFILED)]}
    assert top == MISFILED
    # The confusion matrix covers every image once; each misfiled image sits in its (given, true) cell.
    cells = ev.confusion.cells
    assert sorted(c.image_id for images in cells.values() for c in images) == sorted(ev.image_ids)
    by_path = {path: image_id for image_id, path in ev.paths.items()}
    for path, true in MISFILED.items():
        given, suggested = ev.class_names.index(path.split("/")[0]), ev.class_names.index(true)
        assert by_path[path] in [c.image_id for c in ev.confusion.images(given, suggested)]
    assert ev.metrics.n_images == 3 * PER_CLASS and ev.metrics.accuracy >= 0.9


def test_run_is_judged_against_its_own_labels_after_a_fix(tmp_path):
    project, run_id = trained_project(tmp_path / "pets", max_epochs=10)
    with project.session() as session:
        fixed = catalog.image_by_path(session, "dogs/cat_03.png").id
        cats = labels.find_class(session, "cats").id
        labels.set_labels(session, [fixed], cats)
        labels.rename_class(session, "birds", "parrots")
    ev = load_evaluation(project, run_id)
    row = ev.image_ids.index(fixed)
    assert ev.class_names[ev.labels[row]] == "dogs"  # as trained
    assert ev.relabelled == {fixed: cats}
    assert "parrots" in ev.class_names  # a renamed class shows its new name

    second = [e for e in train(project, TrainConfig(head=HeadConfig(kind="mlp", max_epochs=10, patience=None), device="cpu",
                                                    int8=False))
              if isinstance(e, RunFinished)][0].run_id
    assert ev.class_names[load_evaluation(project, second).labels[row]] == "cats"
    # Pretend the second run changed its mind about one image, to see it reported.
    with project.session() as session:
        stored = predictions.load_predictions(session, second, "oof")
        other = next(p for p in stored if p.image_id != fixed)
        moved = next(c for c in (cats, labels.find_class(session, "dogs").id) if c != other.predicted_class_id)
        predictions.replace_predictions(session, second, "oof", [
            replace(p, predicted_class_id=moved) if p is other else p for p in stored])
    comparison = compare_runs(project, second, run_id)
    assert (comparison.earlier, comparison.later, comparison.compared) == (run_id, second, 3 * PER_CLASS)
    assert [(e.path, e.old, e.new) for e in comparison.label_edits] == [("dogs/cat_03.png", "dogs", "cats")]
    assert [c.image_id for c in comparison.changed_predictions] == [other.image_id]
    project.close()


def test_a_run_cancelled_while_evaluating_stays_finished_and_is_evaluated_on_first_use(tmp_path):
    project = Project.open(make_folder(tmp_path / "pets"))
    for _ in import_folder(project, True):
        pass
    cache_embeddings(project)
    events = train(project, TrainConfig(head=HeadConfig(kind="mlp", max_epochs=5), device="cpu", int8=False))
    for event in events:  # stop after the first fold
        if isinstance(event, Progress) and event.phase == OOF_PHASE and event.done == 1:
            break
    events.close()
    with project.session() as session:
        (run,) = runs.list_runs(session)
    assert run.status == "finished"
    with pytest.raises(NotEvaluated, match="dovecote evaluate"):
        load_evaluation(project, run.id)
    assert isinstance(list(ensure_evaluated(project, run.id))[-1], EvaluationReady)
    assert load_evaluation(project, run.id).metrics.n_images == 3 * PER_CLASS
    project.close()


def test_report_shows_the_misfiled_images_as_thumbnails(evaluated, tmp_path):
    project, run_id = evaluated
    out = write_report(project, run_id, tmp_path / "out" / "report.html")
    html = out.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64,") == len(MISFILED)
    assert 'id="confusion-matrix"' in html and "probably mislabelled" in html
    assert all(path in html for path in MISFILED)
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_labels_at_and_net_edits_on_plain_changes():
    class C:
        def __init__(self, image_id, batch_id, old, new):
            self.image_id, self.batch_id, self.old_class_id, self.new_class_id = image_id, batch_id, old, new

    later = [C(1, 5, 10, 20), C(1, 6, 20, 30), C(2, 6, None, 10)]
    assert labels_at({1: 30, 2: 10, 3: 20}, later) == {1: 10, 2: None, 3: 20}
    changes = later + [C(3, 7, 20, 10), C(3, 8, 10, 20)]
    assert net_edits(changes, 5, 8) == {1: (20, 30), 2: (None, 10)}  # image 3 changed and changed back
    assert net_edits(changes, None, 5) == {1: (10, 20)}
    assert net_edits(changes, 4, None) == {}

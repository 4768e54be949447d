"""Retraining after label changes (the Review view's Retrain, `dovecote train --retrain`): after fine-tuning, the
head is trained again on the fine-tuned network, which is kept, without embedding the images again."""
from dataclasses import replace

import numpy as np
import pytest

from core.errors import InvalidRequest
from core.evaluation.label_errors import find_label_errors
from core.evaluation.run_evaluation import load_evaluation
from core.events import Progress
from core.features.cache import PHASE as EMBEDDING
from core.models.bundles import load_model
from core.models.heads import HeadConfig
from core.storage import catalog, labels, predictions, runs
from core.training.int8_check import CALIBRATING
from core.training.retrain import retrain_config
from core.training.run_files import delete_run
from core.training.runner import FineTuneConfig, RunFinished, train
from test_staged_finetune import KEPT, QUICK, choose_mirror_averaging, speeds_left_as_found  # noqa: F401 (autouse)
from test_training import make_project


def finished(events) -> RunFinished:
    return [e for e in events if isinstance(e, RunFinished)][-1]


def latest(project) -> runs.RunInfo:
    with project.session() as session:
        return runs.latest_model_run(session)


def embedded(events) -> int:
    return max((e.done for e in events if isinstance(e, Progress) and e.phase == EMBEDDING), default=0)


@pytest.fixture
def fine_tuned(tmp_path, monkeypatch):
    """A project whose latest model is fine-tuned and classifies each image with its mirror image too."""
    choose_mirror_averaging(monkeypatch)
    with make_project(tmp_path / "pets") as project:
        outcome = finished(train(project, KEPT))
        assert outcome.metrics["fine_tuned"]
        yield project, outcome


def test_a_retrain_after_fine_tuning_keeps_the_fine_tuned_network_and_embeds_nothing_again(fine_tuned):
    project, tuned = fine_tuned
    base = load_model(tuned.model_path)
    with project.session() as session:  # a relabel, as in the Review view
        image = next(i for i in catalog.labelled_images(session) if i.path.startswith("cats/"))
        labels.set_labels(session, [image.id], labels.find_class(session, "dogs").id)
    config = retrain_config(latest(project))
    assert config.fine_tune is None and config.network_of_run == tuned.run_id
    events = list(train(project, config))
    outcome = finished(events)
    model = load_model(outcome.model_path)
    assert outcome.status == "finished" and not model.fine_tuned
    assert model.preprocessing == base.preprocessing and model.flip_average  # its input size, its mirror choice
    assert model.backbone_state.keys() == base.backbone_state.keys()
    assert all(np.array_equal(model.backbone_state[k], base.backbone_state[k]) for k in base.backbone_state)
    # The fine-tuning run's int8 check embedded every labelled image with its network, and passed: the
    # retrain computes no embedding and calibrates no int8 network.
    assert embedded(events) == 0 and not any(isinstance(e, Progress) and e.phase == CALIBRATING for e in events)
    with project.session() as session:
        stored = runs.get_run(session, outcome.run_id)
    assert stored.metrics["int8"]["passed"] and stored.metrics["oof"]["class_ids"]  # checked, and evaluated
    assert "calibration" not in model.metadata["metrics"] or \
        not model.metadata["metrics"]["calibration"].get("applied_to_model")
    assert stored.network == f"fine-tuned in run {tuned.run_id}"


def test_retrains_go_on_from_the_last_one_even_once_the_fine_tuning_run_is_deleted(fine_tuned):
    project, tuned = fine_tuned
    first = finished(train(project, retrain_config(latest(project))))
    # No label changed: judged as the fine-tuning run was (its out-of-fold heads, on the same embeddings).
    assert np.allclose(load_evaluation(project, first.run_id).proba, load_evaluation(project, tuned.run_id).proba)
    delete_run(project, tuned.run_id)
    config = retrain_config(latest(project))
    assert config.network_of_run == first.run_id
    second = finished(train(project, config))
    assert second.status == "finished" and second.metrics["fine_tuned_in"] == tuned.run_id
    assert load_model(second.model_path).backbone_state is not None


def test_a_retrain_after_a_quick_run_is_a_quick_run_with_its_settings(tmp_path):
    with make_project(tmp_path / "pets") as project:
        finished(train(project, replace(QUICK, head=HeadConfig(l2=3.0), seed=4)))
        config = retrain_config(latest(project))
        assert config == replace(QUICK, head=HeadConfig(l2=3.0), seed=4)
        outcome = finished(train(project, config))
    assert outcome.status == "finished" and latest(project).network is None
    assert load_model(outcome.model_path).backbone_state is None


def test_a_head_on_an_earlier_network_needs_a_network_fine_tuned_here(tmp_path):
    with make_project(tmp_path / "pets") as project:
        quick = finished(train(project, QUICK))
        with pytest.raises(InvalidRequest, match="was not fine-tuned here"):
            list(train(project, replace(QUICK, network_of_run=quick.run_id)))


def test_a_head_on_an_earlier_network_cannot_also_fine_tune(fine_tuned):
    project, tuned = fine_tuned
    config = replace(QUICK, network_of_run=tuned.run_id, fine_tune=FineTuneConfig(epochs=1))
    with pytest.raises(InvalidRequest, match="cannot also fine-tune"):
        list(train(project, config))


def test_a_retrain_is_judged_with_the_head_strength_chosen_on_the_embeddings_it_is_judged_on(fine_tuned):
    """Its out-of-fold heads are on the pretrained network's embeddings, as the fine-tuning run's were: the
    L2 strength its own validation picks on the fine-tuned network's does not apply to them."""
    project, tuned = fine_tuned
    config = replace(retrain_config(latest(project)), head=HeadConfig())  # L2 from the grid, on its network
    outcome = finished(train(project, config))
    assert outcome.metrics["head_l2"] != tuned.metrics["head_l2"] == 1e4
    assert np.allclose(load_evaluation(project, outcome.run_id).proba, load_evaluation(project, tuned.run_id).proba)


def test_after_fine_tuning_the_suspects_are_ranked_with_the_fine_tuned_network_and_the_accuracy_is_not(fine_tuned):
    """Heads on the fine-tuned network, mixed in, rank flipped labels far better (benchmarks/
    bench_mistakes_finetuned.py); the figures shown stay those of the frozen backbone's held-out heads."""
    project, tuned = fine_tuned
    evaluation = load_evaluation(project, tuned.run_id)
    with project.session() as session:
        ranked = predictions.load_predictions(session, tuned.run_id, predictions.RANKING)
        stored = {p.image_id: p.probabilities for p in ranked}
        quick = runs.get_run(session, tuned.run_id).metrics["oof"]["accuracy"]
    assert stored.keys() == set(evaluation.image_ids)
    ranking = np.array([stored[i] for i in evaluation.image_ids])
    assert not np.allclose(ranking, evaluation.proba, atol=1e-3)
    ranked = [evaluation.image_ids[s.index] for s in find_label_errors(evaluation.labels, ranking)]
    assert [s.image_id for s in evaluation.suspects] == ranked
    assert evaluation.metrics.accuracy == pytest.approx(quick)
    assert quick == pytest.approx(float(np.mean(evaluation.proba.argmax(axis=1) == evaluation.labels)))

"""A stored run, evaluated honestly: out-of-fold predictions for every image it trained on, computed once on
the cached embeddings with the run's own head settings and stored; then metrics, the confusion matrix and the
suspected label errors read back from them (what the CLI, the report and the GUI show).

A fine-tuned run is evaluated with its head settings on the frozen backbone's embeddings: k fine-tunings
would cost k times the run, and the frozen-backbone figures are a close, slightly cautious estimate. So is a
head trained again on a fine-tuned network (core.training.retrain). Out-of-fold heads on the fine-tuned
network's features would flatter the metrics, since it learned from every label, the held-out ones'
included, and alone they agree with many wrong labels it memorised; but mixed in at FINE_TUNED_SHARE they
rank the suspects far better (benchmarks/bench_mistakes_finetuned.py), so for such runs the suspects come
from that mix, stored apart ("oof-ranking"), and the metrics from the frozen backbone's alone."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from core.events import Progress
from core.models.backbones import get_backbone, with_preprocessing
from core.models.bundles import ModelBundle
from core.evaluation.calibration import calibration_error, fit_temperature, scaled
from core.evaluation.comparison import labels_at
from core.errors import DovecoteError, InvalidRequest
from core.features.cache import EmbeddingsReady, ensure_embeddings, load_embeddings
from core.models.head_fitting import fit_head, fold_config, make_head_trainer
from core.models.heads import LINEAR, HeadConfig
from core.evaluation.label_errors import find_label_errors
from core.evaluation.out_of_fold import DEFAULT_FOLDS, PHASE, OutOfFold, out_of_fold, stratified_folds
from core.storage import catalog, labels, predictions, runs
from core.storage.predictions import RANKING, StoredPrediction


if TYPE_CHECKING:  # scikit-learn behind it: imported where an evaluation is read
    from core.evaluation.metrics import Confusion, Metrics

MAX_FOLD_WORKERS = 4
FOLD_MEMORY = 1 << 30  # bytes of embeddings the folds fitted at once may copy between them
# The fine-tuned network's share of the probabilities that rank a fine-tuned run's suspects. Over 8 runs of
# bench_mistakes_finetuned.py (5 draws of flipped labels, 3 data sets), 0.25 beat 0 (the frozen backbone's
# alone) in recall@k on all 8; against 0.5 it won 4, tied 2 and lost 2 (0.5 lists fewer, more surely).
FINE_TUNED_SHARE = 0.25


class NotEvaluated(DovecoteError):
    pass


@dataclass(frozen=True)
class EvaluationReady:
    run_id: int
    images: int
    folds: int


@dataclass(frozen=True)
class SuspectRow:
    image_id: int
    path: str  # relative to the project folder
    given: str
    suggested: str
    score: float  # 1 - p(given) (label_errors.DEFAULT_RANKING): how doubtful the label is, out of fold
    confidence: float  # p(suggested)


@dataclass(frozen=True)
class Evaluation:
    run_id: int
    class_ids: list[int]
    class_names: list[str]  # current names, in the order of the probabilities
    image_ids: list[int]  # the row order of labels and proba
    paths: dict[int, str]
    labels: np.ndarray  # class index each image had when the run started
    proba: np.ndarray  # [N, C] out of fold
    folds: int
    metrics: Metrics
    confusion: Confusion
    suspects: list[SuspectRow]  # most suspicious first
    relabelled: dict[int, int | None]  # image id -> its class id now, for images relabelled since the run
    calibration: dict | None = None  # temperature, ece_before, ece_after (core.evaluation.calibration)


def pick_run(session, run_id: int | None) -> runs.RunInfo:
    """The given run, or the latest one with a model."""
    run = runs.get_run(session, run_id) if run_id is not None else runs.latest_model_run(session)
    if run is None:
        raise InvalidRequest("This project has no trained model yet; train one first ('dovecote train FOLDER').")
    if not run.metrics.get("classes"):
        raise InvalidRequest(
            f"Run {run.id} stopped before it had a model ({run.status}); there is nothing to evaluate.")
    return run


def _run_classes(session, run: runs.RunInfo, at_run: dict[int, int | None], images: list) -> list[int]:
    """The run's class ids in the order of its probabilities. Recorded by the evaluation; for a run not yet
    evaluated, the classes that had readable labelled images when it started (as training chose them), so a
    class renamed or deleted since is still found."""
    recorded = (run.metrics.get("oof") or {}).get("class_ids") or run.metrics.get("class_ids")
    if recorded:
        return list(recorded)
    used = {at_run.get(image.id) for image in images if image.status == "ok"}
    ids = [class_id for class_id in predictions.class_names(session) if class_id in used]
    if len(ids) != len(run.metrics["classes"]):
        raise InvalidRequest(f"The images run {run.id} was trained on have changed too much since "
                             "(removed or unreadable) to evaluate it; train again.")
    return ids


def _labels_at_run(session, run: runs.RunInfo, images: list | None = None) -> tuple[list, dict[int, int | None]]:
    """(the images, or every image of the catalogue; image id -> its class id when the run started)."""
    images = catalog.all_images(session) if images is None else images
    current = {image.id: image.class_id for image in images}
    return images, labels_at(current, labels.changed_since(session, run.last_batch_id))


class _ViewsHead:
    """fit(X [n, V, D], y): the run's head trained on every cached view (as the run was), as a model that
    predicts view 0. Safe to call from several threads: each call makes its own model."""

    def __init__(self, n_classes: int, config: HeadConfig, seed: int):
        self.n_classes, self.config, self.seed = n_classes, config, seed

    def __call__(self, X: np.ndarray, y: np.ndarray) -> "_ViewZero":
        flat = X.transpose(1, 0, 2).reshape(-1, X.shape[2])
        return _ViewZero(fit_head(flat, np.tile(y, X.shape[1]), self.n_classes, self.config, self.seed))


class _ViewZero:
    def __init__(self, model):
        self.model = model

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X[:, 0])


def evaluate_run(project, run_id: int, folds: int = DEFAULT_FOLDS) -> Iterator[object]:
    """Compute and store the run's out-of-fold predictions. Yields Progress (and Notices), then
    EvaluationReady. Closing it early stores nothing."""
    with project.session() as session:
        run = pick_run(session, run_id)
        images, at_run = _labels_at_run(session, run)
        class_ids = _run_classes(session, run, at_run, images)
    index = {class_id: k for k, class_id in enumerate(class_ids)}
    images = [image for image in images if image.status == "ok" and at_run.get(image.id) in index]
    views = tuple(run.config.get("views") or (0,))
    ready = None
    # The embeddings the run itself trained its head on (fine-tuning runs may use a smaller input size).
    spec = get_backbone(run.backbone)
    if run.metrics.get("preprocessing"):
        spec = with_preprocessing(spec, run.metrics["preprocessing"])
    for event in ensure_embeddings(project, images, spec, "auto", views=views,
                                   weights_path=run.config.get("weights_path")):
        if isinstance(event, EmbeddingsReady):
            ready = event
        else:
            yield event
    images = [image for image in images if image.id not in ready.failed]
    y = np.array([index[at_run[image.id]] for image in images], dtype=np.int64)
    hashes = [image.content_hash for image in images]
    X = np.stack([load_embeddings(project, hashes, ready.model_key, view) for view in views], axis=1)
    # Without a validation split in each fold: what the run's validation chose (L2 strength, or epochs); for a
    # head on a fine-tuned network, what the fine-tuning run's chose on these embeddings.
    head = fold_config(HeadConfig.from_dict(run.config.get("head") or {}),
                       run.metrics.get("evaluation_head") or run.metrics)
    tuned = _fine_tuned_network(project, run) if head.kind == LINEAR else None
    passes = 2 if tuned is not None else 1
    result = None
    fit = _ViewsHead(len(class_ids), head, run.seed)
    for event in _counted(out_of_fold(X, y, len(class_ids), fit, folds, run.seed, _fold_workers(head, X)), 0,
                          passes):
        if isinstance(event, OutOfFold):
            result = event
        else:
            yield event
    proba, calibration = _calibrated(y, result.proba)
    ranking = None
    if tuned is not None:
        # A head trained on the fine-tuned network (a retrain) chose its L2 strength on these very embeddings.
        chosen = run.metrics.get("head_l2") if run.metrics.get("network_of_run") else None
        tuned_proba = yield from _out_of_fold_on(project, images, y, len(class_ids), run.seed, tuned, folds, chosen)
        if tuned_proba is not None:
            ranking = (1 - FINE_TUNED_SHARE) * proba + FINE_TUNED_SHARE * _calibrated(y, tuned_proba)[0]
    _store(project, run.id, class_ids, [image.id for image in images], y, proba, result.folds, calibration,
           ranking)
    yield EvaluationReady(run.id, len(images), result.folds)


def _fine_tuned_network(project, run: runs.RunInfo) -> tuple | None:
    """(spec, weights file) of the fine-tuned backbone the run's model carries (its own, or the one a retrain
    took from an earlier run), as its int8 check embedded with it; None for a head on a stock network."""
    if not (run.metrics.get("fine_tuned") or run.metrics.get("network_of_run")) or not run.model_path:
        return None
    bundle = ModelBundle.load(project.store_dir / run.model_path)
    if bundle.backbone_state is None:
        return None
    return bundle.spec, str(bundle.backbone_weights_file())


def _out_of_fold_on(project, images: list, y: np.ndarray, n_classes: int, seed: int, network: tuple,
                    folds: int, l2: float | None) -> Iterator[object]:
    """Out-of-fold probabilities of linear heads on `network`'s embeddings (the generator's return value;
    None if it could not read every image) at L2 strength `l2`, or one chosen on a stratified fifth of them."""
    spec, weights = network
    ready = None
    for event in ensure_embeddings(project, images, spec, "auto", weights_path=weights):
        if isinstance(event, EmbeddingsReady):
            ready = event
        else:
            yield event
    if ready.failed:  # read for the frozen backbone, not now (changed since): no ranking rather than a partial one
        return None
    X = load_embeddings(project, [image.content_hash for image in images], ready.model_key, 0)
    if l2 is None:
        val = stratified_folds(y, 5, seed) == 0
        trainer = make_head_trainer(X[~val], y[~val], n_classes, HeadConfig(), seed, X[val], y[val])
        for _ in trainer.epochs():
            pass
        l2 = trainer.chosen_l2
    head = fold_config(HeadConfig(), {"head_l2": l2})
    result = None
    for event in _counted(out_of_fold(X[:, None, :], y, n_classes, _ViewsHead(n_classes, head, seed), folds, seed,
                                      _fold_workers(head, X)), folds, 2):
        if isinstance(event, OutOfFold):
            result = event
        else:
            yield event
    return result.proba


def _counted(events: Iterator[object], before: int, passes: int) -> Iterator[object]:
    """The out-of-fold progress of one of `passes` passes, as one count over all of them (the bar does not
    start again), `before` folds done already."""
    for event in events:
        if isinstance(event, Progress) and event.phase == PHASE and passes > 1:
            yield Progress(PHASE, before + event.done, event.total * passes, event.detail, event.unit)
        else:
            yield event


def _fold_workers(head: HeadConfig, X: np.ndarray) -> int:
    """Folds fitted at once: the linear head's (numpy; a re-train's 5 folds of 2,000 images took 1.22-1.40 s one
    at a time and 0.71-0.79 s two at a time on a 2-core machine) on each core, up to MAX_FOLD_WORKERS, while
    the copies of their training rows stay under FOLD_MEMORY; the Dense head's one at a time (torch's thread
    count belongs to the whole process)."""
    import os

    if head.kind != LINEAR:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_FOLD_WORKERS, FOLD_MEMORY // max(1, X.nbytes)))


def _calibrated(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, dict]:
    """Temperature scaling fitted on the out-of-fold predictions (no model saw those images), applied to
    them; training then applies it to the run's model too (core.training.runner), so that the confidence it
    shows is about how often it is right."""
    temperature = fit_temperature(y, proba)
    calibrated = scaled(proba, temperature)
    return calibrated, {"temperature": round(temperature, 4), "ece_before": round(calibration_error(y, proba), 4),
                        "ece_after": round(calibration_error(y, calibrated), 4), "applied_to_model": False}


def _store(project, run_id: int, class_ids: list[int], image_ids: list[int], y: np.ndarray, proba: np.ndarray,
           folds: int, calibration: dict, ranking: np.ndarray | None) -> None:
    summary = _summary(y, proba.argmax(axis=1), len(class_ids))
    with project.session() as session:
        predictions.replace_predictions(session, run_id, "oof", _rows(class_ids, image_ids, proba))
        predictions.replace_predictions(session, run_id, RANKING, [] if ranking is None else
                                        _rows(class_ids, image_ids, ranking))
        runs.update_run(session, run_id, metrics={"oof": {
            "folds": folds, "class_ids": class_ids, "images": len(image_ids),
            **summary,
        }, "calibration": calibration})


def _rows(class_ids: list[int], image_ids: list[int], proba: np.ndarray) -> list[StoredPrediction]:
    return [StoredPrediction(image_id, class_ids[int(k)], float(p[k]), [round(float(v), 6) for v in p])
            for image_id, k, p in zip(image_ids, proba.argmax(axis=1), proba)]


def _summary(y: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """Accuracy, balanced accuracy and macro F1 over the classes present, in numpy (the full metrics, with
    scikit-learn, are computed when the evaluation is read)."""
    present = np.unique(y)
    recall, f1 = [], []
    for k in range(n_classes):
        true_k, predicted_k = y == k, predicted == k
        hits = float(np.sum(true_k & predicted_k))
        if k in present:
            recall.append(hits / true_k.sum())
        denominator = true_k.sum() + predicted_k.sum()
        f1.append(2 * hits / denominator if denominator else 0.0)
    return {"accuracy": float(np.mean(predicted == y)), "balanced_accuracy": float(np.mean(recall)),
            "macro_f1": float(np.mean(f1))}


def is_evaluated(project, run_id: int) -> bool:
    with project.session() as session:
        return predictions.count_predictions(session, run_id, "oof") > 0


def ensure_evaluated(project, run_id: int) -> Iterator[object]:
    """evaluate_run unless the run's out-of-fold predictions are stored already (they are computed after
    training; this covers runs made before, or interrupted while evaluating)."""
    if not is_evaluated(project, run_id):
        yield from evaluate_run(project, run_id)


def load_evaluation(project, run_id: int) -> Evaluation:
    """The run's stored out-of-fold predictions as metrics, a confusion matrix and suspected label errors."""
    from core.evaluation.metrics import compute_metrics, confusion  # scikit-learn: only when read
    with project.session() as session:
        run = pick_run(session, run_id)
        stored = predictions.load_predictions(session, run.id, "oof")
        ranked = {p.image_id: p.probabilities for p in predictions.load_predictions(session, run.id, RANKING)}
        if not stored:
            raise NotEvaluated(f"Run {run.id} has no out-of-fold predictions yet; "
                               f"run 'dovecote evaluate FOLDER --run {run.id}' to compute them.")
        images, at_run = _labels_at_run(session, run, catalog.image_facts(session))
        class_ids = _run_classes(session, run, at_run, images)
        every_name = predictions.class_names(session)
    names = [every_name.get(i, "?") for i in class_ids]
    index = {class_id: k for k, class_id in enumerate(class_ids)}
    stored = [p for p in stored if at_run.get(p.image_id) in index]
    image_ids = [p.image_id for p in stored]
    y = np.array([index[at_run[i]] for i in image_ids], dtype=np.int64)
    proba = np.array([p.probabilities for p in stored], dtype=np.float64).reshape(len(stored), len(class_ids))
    # A fine-tuned run's suspects are ranked on its stored mix (see the module's docstring), others' on proba.
    ranking = np.array([ranked[i] for i in image_ids], dtype=np.float64).reshape(proba.shape) if ranked else proba
    paths = {image.id: image.path for image in images}
    now = {image.id: image.class_id for image in images}
    suspects = [
        SuspectRow(image_ids[s.index], paths[image_ids[s.index]], names[s.given], names[s.suggested], s.score,
                   s.confidence)
        for s in find_label_errors(y, ranking)
    ]
    return Evaluation(
        run.id, class_ids, names, image_ids, {i: paths[i] for i in image_ids}, y, proba,
        int((run.metrics.get("oof") or {}).get("folds") or DEFAULT_FOLDS),
        compute_metrics(y, proba, names), confusion(y, proba, image_ids, names), suspects,
        {i: now.get(i) for i in image_ids if now.get(i) != at_run[i]},
        run.metrics.get("calibration"),
    )

"""Training runs as generators of events: embeddings (cached), a head on them, then optional fine-tuning.

A run is stored from its start (status "running", its config, seed, device), gets a row per epoch, and
ends "finished", "cancelled" (the consumer closed the generator or pressed Ctrl+C: the best model so far is
kept), or "failed". Same seed, same data, same CPU: same metrics."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from core.models.backbones import DEFAULT_BACKBONE, fit_to_images, get_backbone, with_preprocessing
from core.durations import elapsed_text
from core.errors import DovecoteError, InvalidRequest
from core.events import Notice, Progress
from core.features.cache import EmbeddingsReady, ensure_embeddings, load_embeddings, resolve_device
from core.training.finetune import CPU_UPSCALE, FineTuneConfig, FineTuner
from core.models.head_fitting import make_head_trainer
from core.models.heads import MLP, EpochEnded, HeadConfig
from core.storage import catalog, labels, runs
from core.training import speeds
from core.training.lock import TrainingLock
from core.training.mirror_check import mirror_check_text
from core.training.run_record import RunRecord
from core.training.readiness import MIN_IMAGES_PER_CLASS, blocking_reason
from core.training.int8_check import check_int8, pending_work
from core.training.plan import EVALUATE, FEATURES, FINE_TUNE, HEAD, INT8, make_plan, phase_started, uncached_count
from core.training.network import Network, network_of_run

# With a time budget, fine-tuning leaves this many times the evaluation's expected time for it (the int8
# check's estimate is at the fp32 pace, an upper bound already: it gets its estimate).
_EVALUATE_RESERVE = 1.5
# Of the budget, at most: a first guess can be far too high. The int8 check after fine-tuning 2,000 images of
# 28 px at 128 px took ~40 s here with the evaluation (every image embedded in fp32 and int8), more than
# 20 % of a 150 s budget.
_MOST_RESERVED = 0.35
# A run this much longer than its budget says so at its end (a few seconds over is the plan's noise).
_OVERRUN_TOLD = 1.1

__all__ = ["EpochEnded", "FineTuneConfig", "HeadConfig", "Notice", "Progress", "RunFinished", "RunStarted",
           "TrainConfig", "train"]



@dataclass(frozen=True)
class TrainConfig:
    backbone: str = DEFAULT_BACKBONE
    head: HeadConfig = field(default_factory=HeadConfig)
    fine_tune: FineTuneConfig | None = None  # None: quick training (the head alone)
    val_fraction: float = 0.2  # stratified, seeded; 0 trains on everything without early stopping
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    views: tuple[int, ...] = (0,)  # cached embedding views used as training samples (0: the plain image)
    weights_path: str | None = None  # backbone weights from a file instead of the pretrained ones
    # The head alone on this earlier run's network (fine-tuned), frozen, at that run's input size: how a
    # retrain keeps what fine-tuning gained (core.training.retrain, core.training.network).
    network_of_run: int | None = None
    # Network input size for both phases (so the head trained first suits the network fine-tuned after it).
    # None: the backbone's own for quick training; with fine-tuning, smaller for small images.
    input_size: int | None = None
    # Quantize the backbone to int8 and check it against fp32 (core.training.int8_check) at the end: the
    # model then classifies faster on a CPU where int8 agrees. False: the model stays fp32 only.
    int8: bool = True

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["views"] = list(self.views)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        fine = data.get("fine_tune")
        return cls(backbone=data.get("backbone", DEFAULT_BACKBONE), head=HeadConfig.from_dict(data.get("head", {})),
                   fine_tune=FineTuneConfig.from_dict(fine) if fine is not None else None,
                   val_fraction=float(data.get("val_fraction", 0.2)), seed=int(data.get("seed", 0)),
                   device=data.get("device", "auto"), views=tuple(data.get("views", (0,))),
                   weights_path=data.get("weights_path"), network_of_run=data.get("network_of_run"),
                   input_size=data.get("input_size"), int8=bool(data.get("int8", True)))


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    classes: tuple[str, ...]
    images: int  # labelled images (some may turn out unreadable)
    device: str


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    status: str
    metrics: dict
    model_path: Path | None


def train(project, config: TrainConfig = TrainConfig(), program: str = "a terminal command") -> Iterator[object]:
    """Train on the project's labelled images. Yields RunStarted, its TrainingPlan, then PhaseStarted,
    Progress, Notice and EpochEnded, then RunFinished. Refuses (DovecoteError, before a run is stored) with
    fewer than 2 classes or a class with fewer than MIN_IMAGES_PER_CLASS images, and with AlreadyTraining
    while another process trains the same project (`program` is what that one is told about this one)."""
    lock = TrainingLock(project.store_dir, program).acquire()
    try:
        yield from _train(project, config, lock)
    finally:
        lock.release()


def _train(project, config: TrainConfig, lock: TrainingLock) -> Iterator[object]:
    spec = get_backbone(config.backbone)
    if not 0.0 <= config.val_fraction <= 0.5:
        raise InvalidRequest("The validation fraction must be between 0 and 0.5 (e.g. 0.2 for 20%).")
    classes, images, y = _training_set(project)
    on_cpu = config.fine_tune is not None and resolve_device(config.device) == "cpu"
    network = run_network(project, spec, images, config, on_cpu)
    spec = network.spec
    uncached = uncached_count(project, spec, images, config.views, network.weights_path)
    device = _device(config, uncached)
    with project.session() as session:
        run_id = runs.start_run(session, spec.name, config.to_dict(), config.seed, device)
    lock.describe(run_id)
    run = RunRecord(project, run_id, config, classes, network)
    status, error = "failed", None
    try:
        yield RunStarted(run_id, tuple(classes), len(images), device)
        int8_work = pending_work(project, spec, images, config, network.weights_path)
        run.plan = make_plan(config, spec, device, len(images), len(classes), uncached, int8_work)
        yield run.plan
        yield from _execute(run, spec, device, images, y)
        status = "finished"
    except (GeneratorExit, KeyboardInterrupt):
        status = "cancelled"
        raise
    except DovecoteError as failure:
        error = str(failure)
        raise
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"
        raise
    finally:
        run.close(status, error)
        run.remember_speeds(device)
    # Out-of-fold predictions for every labelled image (core/run_evaluation.py), what evaluate, the report and
    # the review views show. Closing the generator here keeps the run finished; they are then made on first use.
    from core.evaluation.run_evaluation import evaluate_run  # imported here: scikit-learn takes a second or two to load

    yield phase_started(EVALUATE)
    yield from evaluate_run(project, run_id)
    run.calibrate()
    if config.int8:  # like evaluating: closing the generator here keeps the run finished (its model fp32)
        yield from _int8_within_budget(run)
    budget = _time_budget(config)
    wall = time.perf_counter() - run.started
    if budget is not None and wall > budget * _OVERRUN_TOLD:
        yield Notice(f"The run took {elapsed_text(wall)}, over its time budget of {elapsed_text(budget)}: this "
                     "computer ran slower than when the run was planned (other programs busy?).")
    yield RunFinished(run_id, status, run.metrics, run.model_path)


def _int8_within_budget(run: RunRecord) -> Iterator[object]:
    """The int8 check, which only makes classifying on a CPU faster: with a time budget, left out when its
    expected time no longer fits what the budget leaves, and stopped when it runs past the budget's end. Either
    way the model stays fp32, as accurate."""
    budget = _time_budget(run.config)
    end = None if budget is None else run.started + budget
    planned = run.plan.phase(INT8) if run.plan is not None else None
    expected = planned.seconds * _slowdown(run) if planned is not None else 0.0
    told = "to keep within the time budget: classifying on a CPU will use fp32 (as accurate, slower)"
    if end is not None and time.perf_counter() + expected > end:
        yield Notice(f"The int8 check was left out {told}.")
        return
    yield phase_started(INT8)
    check = check_int8(run.project, run.run_id)
    for event in check:
        yield event
        if end is not None and time.perf_counter() > end:
            check.close()
            yield Notice(f"The int8 check was stopped {told}.")
            return


def _time_budget(config: TrainConfig) -> float | None:
    """The run's whole time budget in seconds (a budget is given with fine-tuning); None: no budget."""
    return config.fine_tune.time_budget_s if config.fine_tune is not None else None


def _device(config: TrainConfig, uncached: int) -> str:
    """Where the run computes. A quick run whose embeddings are all cached only fits the head, on the CPU
    (numpy): then "auto" needs no look for a GPU, which would import torch (seconds, most of a re-train)."""
    if config.fine_tune is None and uncached == 0 and (config.device or "auto").strip().lower() in ("auto", "cpu"):
        return "cpu"
    return resolve_device(config.device)


def run_network(project, spec, images: list, config: TrainConfig, on_cpu: bool) -> Network:
    """The network a run of `config` computes its embeddings with, `spec` fed as it will be."""
    if config.network_of_run is not None:
        if config.fine_tune is not None or config.weights_path is not None:
            raise InvalidRequest("A head on an earlier run's network cannot also fine-tune or load weights.")
        return network_of_run(project, config.network_of_run)
    return Network(_input_for(spec, images, config, on_cpu), config.weights_path)


def _input_for(spec, images: list, config: TrainConfig, on_cpu: bool):
    """Quick training feeds the backbone its own input size (the best features, computed once and cached);
    fine-tuning small images uses a smaller one, which keeps it affordable (on a CPU smaller still)."""
    input_size = config.input_size
    if input_size is None:
        if config.fine_tune is None:
            return spec
        sizes = [(image.width, image.height) for image in images]
        return fit_to_images(spec, sizes, CPU_UPSCALE) if on_cpu else fit_to_images(spec, sizes)
    if input_size < 32 or input_size % 32:
        raise InvalidRequest("The input size must be a multiple of 32 pixels, at least 32 (e.g. 96 or 224).")
    prep = spec.preprocessing
    return with_preprocessing(spec, dataclasses.replace(prep, input_size=input_size,
                                                        resize=round(input_size * prep.resize / prep.input_size)))


def _training_set(project) -> tuple[list[str], list, np.ndarray]:
    with project.session() as session:
        live = labels.list_classes(session)
        images = catalog.labelled_images(session)
    counts = {c.id: 0 for c in live}
    for image in images:
        counts[image.class_id] = counts.get(image.class_id, 0) + 1
    reason = blocking_reason({c.name: counts[c.id] for c in live})
    if reason:
        raise InvalidRequest(reason)
    used = [c for c in live if counts[c.id] > 0]  # an empty class cannot be learned: left out
    index = {c.id: i for i, c in enumerate(used)}
    images = [image for image in images if image.class_id in index]
    return [c.name for c in used], images, np.array([index[image.class_id] for image in images], np.int64)


def _split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded train/validation indices: `fraction` of each class (at least one image, and at
    least one left for training) goes to validation."""
    everything = np.arange(len(y))
    if fraction <= 0:
        return everything, everything[:0]
    rng = np.random.default_rng(seed)
    val = []
    for label in np.unique(y):
        members = everything[y == label]
        count = min(len(members) - 1, max(1, int(round(fraction * len(members)))))
        val.extend(rng.permutation(members)[:count])
    val = np.sort(np.asarray(val, np.int64))
    return np.setdiff1d(everything, val), val


def _execute(run: RunRecord, spec, device: str, images: list, y: np.ndarray) -> Iterator[object]:
    project, config = run.project, run.config
    started = time.perf_counter()
    ready = None
    yield phase_started(FEATURES)
    computed, loading, load_s = 0, None, 0.0  # for the speeds remembered at the end
    for event in ensure_embeddings(project, images, spec, device, views=config.views,
                                   weights_path=run.network.weights_path):
        if isinstance(event, EmbeddingsReady):
            ready = event
            continue
        if isinstance(event, Progress):
            if loading is not None:
                load_s, loading = time.perf_counter() - loading, None
            if event.detail.startswith("loading"):
                loading = time.perf_counter()
            computed = event.done
        yield event
    seconds = time.perf_counter() - started
    if computed >= 16 and seconds > load_s:
        run.speeds.update(embed=computed * len(config.views) / (seconds - load_s), load=load_s or None)
    if ready.failed:
        keep = [i for i, image in enumerate(images) if image.id not in ready.failed]
        images, y = [images[i] for i in keep], y[keep]
        yield Notice(f"{len(ready.failed)} image(s) could not be read and were left out of training.")
        _check_counts(run.classes, y)
    run.phase_done("embeddings", started)

    started = time.perf_counter()
    train_idx, val_idx = _split(y, config.val_fraction, config.seed)
    hashes = [image.content_hash for image in images]
    train_hashes = [hashes[i] for i in train_idx]
    X_train = np.concatenate([load_embeddings(project, train_hashes, ready.model_key, view) for view in config.views])
    y_train = np.tile(y[train_idx], len(config.views))
    X_val = load_embeddings(project, [hashes[i] for i in val_idx], ready.model_key) if len(val_idx) else None
    run.metrics.update(train_images=len(train_idx), val_images=len(val_idx),
                       embeddings_device=ready.device or "cached")
    yield phase_started(HEAD)
    trainer = run.head_trainer = make_head_trainer(X_train, y_train, len(run.classes), config.head, config.seed,
                                             X_val, y[val_idx])
    for event in trainer.epochs():
        run.record(event)
        yield event
    best = trainer.stopping
    run.metrics.update(head_best_epoch=best.best_epoch, head_epochs=best.epochs_run,
                       head_val_loss=best.best_val_loss, head_val_acc=best.best_val_acc,
                       head_l2=getattr(trainer, "chosen_l2", None))
    run.phase_done("head", started)
    run.speeds["head-start"] = max(0.01, run.metrics["phase_seconds"]["head"] - sum(run.head_seconds))
    run.save_head()

    if config.fine_tune is not None and config.fine_tune.epochs > 0:
        started = time.perf_counter()
        yield phase_started(FINE_TUNE)
        yield from _fine_tune(run, spec, device, images, y, train_idx, val_idx)
        run.phase_done("fine-tune", started)


def _fine_tune(run: RunRecord, spec, device, images, y, train_idx, val_idx) -> Iterator[object]:
    """On a CPU the last blocks on cached activations of the frozen ones (core.training.staged_finetune); on
    a GPU the whole network. With a time budget, fine-tuning gets what the run has left after keeping the
    evaluation's expected time."""
    config, root, fine = run.config, run.project.root, run.config.fine_tune
    deadline = None
    if fine.time_budget_s is not None:
        deadline = run.started + fine.time_budget_s - _evaluation_reserve(run)
        run.metrics["time_budget_s"] = fine.time_budget_s
    train = [(root / images[i].path, int(y[i]), images[i].content_hash) for i in train_idx]
    val = [(root / images[i].path, int(y[i]), images[i].content_hash) for i in val_idx]
    # Dropout belongs to the MLP head's hidden layer. The linear head's "hidden" layer is its logits split in
    # two (relu(z), relu(-z)): dropping half of those made the training loss 0.04 -> 1.55 before a single step.
    dropout = config.head.dropout if config.head.kind == MLP else 0.0
    common = dict(dropout=dropout, class_weighting=config.head.class_weighting, deadline=deadline)
    head = run.head_trainer.validated_model()  # fitted without the validation images that judge fine-tuning
    if device == "cpu":
        from core.training.staged_finetune import StagedFineTuner  # here: it imports torch, a quick run need not

        pace = run.speeds.get("embed") or speeds.speed("embed", spec.name, spec.preprocessing.input_size, device)
        embed_rate = pace if isinstance(pace, float) else (pace.value if pace.measured else None)
        tuner = StagedFineTuner(spec, head, train, val, len(run.classes), fine,
                                config.seed, run.project.store_dir, config.weights_path, **common,
                                embed_s=1.0 / embed_rate if embed_rate else None)
    else:
        tuner = FineTuner(spec, head, [t[:2] for t in train], [v[:2] for v in val],
                          len(run.classes), fine, config.seed, device, config.weights_path, **common)
    run.tuner = tuner
    prep = spec.preprocessing
    yield Notice(f"Fine-tuning at {prep.input_size}x{prep.input_size} pixels on {device}.")
    for event in tuner.epochs():
        if isinstance(event, EpochEnded):
            run.record(event)
            run.save_fine_tuned()
        if getattr(tuner, "plan", None) is not None:
            run.metrics["fine_tune_plan"] = tuner.plan.to_dict()
        yield event
    if tuner.flip_check is not None:
        check = run.metrics["test_time_flip"] = tuner.flip_check
        run.save_fine_tuned()  # the kept model again, with the choice made after its last epoch
        if run.metrics.get("fine_tuned"):
            yield Notice(mirror_check_text(check))
    best = tuner.stopping
    if best.best_val_acc is not None and run.metrics.get("head_val_acc") is not None:
        run.metrics.update(fine_tune_val_acc=best.best_val_acc,
                           fine_tune_gain=best.best_val_acc - run.metrics["head_val_acc"])
    if best.best_epoch and not run.metrics.get("fine_tuned"):
        yield Notice("Fine-tuning did not lower the validation loss below the head's; the head's model is kept.")


def _evaluation_reserve(run: RunRecord) -> float:
    """Seconds to keep for what follows fine-tuning (the evaluation, and the int8 check, which embeds every
    labelled image with the fine-tuned backbone in fp32 and int8): their planned times, scaled by how much
    slower than planned the phases so far ran (a busy computer is slow throughout), the evaluation's at least
    _EVALUATE_RESERVE times, at most _MOST_RESERVED of the budget in all."""
    plan = run.plan
    if plan is None or (plan.phase(EVALUATE) is None and plan.phase(INT8) is None):
        return 0.0
    slowdown = _slowdown(run)
    evaluate, int8 = (plan.phase(key).seconds if plan.phase(key) else 0.0 for key in (EVALUATE, INT8))
    reserve = evaluate * max(_EVALUATE_RESERVE, slowdown) + int8 * max(1.0, slowdown)
    return min(reserve, _MOST_RESERVED * run.config.fine_tune.time_budget_s)


def _slowdown(run: RunRecord) -> float:
    """How many times slower than planned the run's first phases ran (1 when too short to tell), at most 10."""
    planned = sum(p.seconds for p in run.plan.phases if p.key in (FEATURES, HEAD))
    spent = sum(run.metrics["phase_seconds"].get(k, 0.0) for k in ("embeddings", "head"))
    return min(spent / planned if planned > 1.0 else 1.0, 10.0)


def _check_counts(classes: list[str], y: np.ndarray) -> None:
    counts = np.bincount(y, minlength=len(classes))
    small = [f"{name!r} ({n})" for name, n in zip(classes, counts) if n < MIN_IMAGES_PER_CLASS]
    if small:
        raise InvalidRequest(
            f"After leaving out unreadable images, too few remain in {', '.join(small)} "
            f"(at least {MIN_IMAGES_PER_CLASS} per class). Replace or relabel them.")

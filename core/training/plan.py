"""What a training run will do, phase by phase, and about how long each phase takes on this computer.

The runner yields a TrainingPlan right after RunStarted and a PhaseStarted as each phase begins, so that a
display can show the phase and an ETA for it and for the whole run from the first second (EtaTracker refines
the plan's figures with what it measures). `estimate` makes the same plan before a run, for "about 40 s"."""
from __future__ import annotations

from dataclasses import dataclass

from core.models.heads import LINEAR, HeadConfig
from core.models.int8 import CALIBRATION_IMAGES
from core.models.linear_head import L2_GRID
from core.storage import embeddings as embedding_store
from core.training import speeds

FEATURES, HEAD, FINE_TUNE, EVALUATE, INT8 = "features", "head", "fine-tune", "evaluate", "int8"
TITLES = {FEATURES: "Reading images and computing features", HEAD: "Training the head",
          FINE_TUNE: "Fine-tuning the network", EVALUATE: "Evaluating every image",
          INT8: "Checking the faster int8 network"}
# Quantizing the backbone (calibration aside): measured at 5-10 s for EfficientNet-Lite0 on 2 cores.
_QUANTIZE_S = 8.0
# Loading scikit-learn and storing predictions, before the first fold: measured at about 2 s on a laptop.
_EVALUATE_FIXED_S = 2.0
_FOLDS = 5


@dataclass(frozen=True)
class PhasePlan:
    key: str  # FEATURES, HEAD, FINE_TUNE or EVALUATE
    title: str
    work: int  # units of work: images to embed, epochs, images to fine-tune on (all epochs), folds
    seconds: float  # expected duration (for the head: its budget; early stopping often ends it sooner)
    epochs: int = 0  # the head's and fine-tuning's most epochs


@dataclass(frozen=True)
class TrainingPlan:
    phases: tuple[PhasePlan, ...]
    images: int  # labelled images trained on
    classes: int
    cached: int  # images whose features are cached already
    device: str
    measured: bool  # True: from speeds measured on this computer; False: a first guess

    @property
    def seconds(self) -> float:
        return sum(phase.seconds for phase in self.phases)

    def phase(self, key: str) -> PhasePlan | None:
        return next((p for p in self.phases if p.key == key), None)


@dataclass(frozen=True)
class PhaseStarted:
    key: str
    title: str


def phase_started(key: str) -> PhaseStarted:
    return PhaseStarted(key, TITLES[key])


def most_head_epochs(head: HeadConfig) -> int:
    """The linear head's "epochs" are the L2 strengths it tries (core.models.linear_head); the MLP's, epochs."""
    if head.kind == LINEAR:
        return 1 if head.l2 is not None else len(L2_GRID)
    return head.max_epochs


def expected_head_epochs(head: HeadConfig) -> int:
    """Early stopping usually ends the head within a few patience spans of its best epoch; the linear head
    tries strengths until the validation loss rises (3 on average over benchmarks/bench_head_fit.py's splits),
    then refits the best on every image (about one more)."""
    if head.kind == LINEAR:
        return min(most_head_epochs(head), 3) + 1
    if head.patience is None:
        return head.max_epochs
    return min(head.max_epochs, 3 * head.patience + 5)


def fold_epochs(head: HeadConfig) -> int:
    """Each out-of-fold head's epochs: the linear head fits once, at the strength the run's validation chose;
    the MLP runs the epochs its validation chose, about as many as the run's (core.models.head_fitting)."""
    return 1 if head.kind == LINEAR else expected_head_epochs(head)


def make_plan(config, spec, device: str, images: int, classes: int, uncached: int,
              int8_work: tuple[int, bool] = (0, False)) -> TrainingPlan:
    """The plan for a run of `config` (a TrainConfig) on `images` labelled images, `uncached` of them without
    cached features; `spec` is the backbone as the run feeds it (its input size), `device` a resolved one.
    `int8_work`: the int8 check's (images to embed, calibration needed), core.training.int8_check.pending_work."""
    size, name = spec.preprocessing.input_size, spec.name
    views = len(config.views)
    val = 0 if config.val_fraction <= 0 else max(classes, round(images * config.val_fraction))
    train = max(1, images - val)
    known = []

    def rate(kind: str) -> float:
        found = speeds.speed(kind, name, size, device)
        known.append(found.measured)
        return found.value

    phases = []
    embed_s = uncached * views / rate("embed") + (rate("load") if uncached else 0.0)
    phases.append(PhasePlan(FEATURES, TITLES[FEATURES], uncached, embed_s))
    head_rate = rate("head")
    epochs = expected_head_epochs(config.head)
    phases.append(PhasePlan(HEAD, TITLES[HEAD], most_head_epochs(config.head),
                            rate("head-start") + epochs * train * views / head_rate,
                            most_head_epochs(config.head)))
    evaluate_s = (_EVALUATE_FIXED_S
                  + _FOLDS * fold_epochs(config.head) * images * (_FOLDS - 1) / _FOLDS * views / head_rate)
    if config.head.kind == LINEAR and (config.fine_tune is not None or config.network_of_run is not None):
        # The suspects' second pass, on the fine-tuned network (core.evaluation.run_evaluation): its folds,
        # after an L2 search on four fifths of the images unless the run's head chose one on that network.
        search = expected_head_epochs(config.head) if config.network_of_run is None else 0
        evaluate_s += (search + _FOLDS) * images * (_FOLDS - 1) / _FOLDS / head_rate
    int8_s = 0.0
    if config.int8:
        # At the fp32 pace (int8's is faster: an upper bound); a retrain's check finds most of it cached. A
        # backbone fine-tuned by the run is new: its fp32 embeddings are computed too, to compare with.
        to_embed, calibrate = int8_work
        passes = 2 if config.fine_tune is not None else 1
        int8_s = passes * to_embed / rate("embed") + (_QUANTIZE_S + CALIBRATION_IMAGES / rate("embed")
                                                       if calibrate else 0.0)
    fine = config.fine_tune
    if fine is not None and fine.epochs > 0:
        work = fine.epochs * train
        # The measured pace (training images a second) includes each epoch's validation.
        seconds = fine.epochs * train / rate("fine-tune") + rate("load")
        if fine.time_budget_s is not None:  # planned to use what the budget leaves, and no more
            others = sum(phase.seconds for phase in phases) + evaluate_s + int8_s
            seconds = min(seconds, max(0.0, fine.time_budget_s - others))
        phases.append(PhasePlan(FINE_TUNE, TITLES[FINE_TUNE], work, seconds, fine.epochs))
    phases.append(PhasePlan(EVALUATE, TITLES[EVALUATE], _FOLDS, evaluate_s))
    if config.int8:
        phases.append(PhasePlan(INT8, TITLES[INT8], int8_work[0], int8_s))
    return TrainingPlan(tuple(phases), images, classes, images - uncached, device, all(known))


def uncached_count(project, spec, images, views, weights_path=None) -> int:
    """How many of `images` (rows with .content_hash) lack a cached feature vector for some view."""
    from core.features.cache import model_key

    hashes = list({image.content_hash for image in images if image.content_hash})
    with project.session() as session:
        cached = embedding_store.cached_pairs(session, model_key(spec, weights_path), hashes, views)
    missing = {h for h in hashes for v in views if (h, v) not in cached}
    return sum(1 for image in images if image.content_hash in missing)


"""Out-of-fold predictions: every labelled image gets probabilities from a model that never saw it.

Stratified k-fold on cached embeddings: each fold trains a fresh head on the other folds and predicts its
own images. With a frozen backbone this costs k head fits (seconds), which is why it can run after every
training run and cover every labelled image instead of a small validation split."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import numpy as np

from core.errors import DovecoteError
from core.events import Progress

DEFAULT_FOLDS = 5
PHASE = "Out-of-fold predictions"


class ProbabilisticModel(Protocol):
    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...


# fit(X, y) -> a model; its predict_proba gives [N, n_classes] columns, or columns for `model.classes_`.
FitFunction = Callable[[np.ndarray, np.ndarray], ProbabilisticModel]


class NotEnoughLabels(DovecoteError):
    pass


@dataclass(frozen=True)
class OutOfFold:
    """The final event: probabilities [N, C] in the order of the rows given, and the folds used."""

    proba: np.ndarray
    folds: int


def fold_count(labels: np.ndarray, k: int = DEFAULT_FOLDS) -> int:
    """k, or fewer when there are too few images; a class smaller than k is simply absent from some folds."""
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    if len(counts) < 2:
        raise NotEnoughLabels("Out-of-fold predictions need labelled images of at least two classes.")
    folds = min(k, int(counts.max()))
    if folds < 2:
        raise NotEnoughLabels("Out-of-fold predictions need at least two labelled images in some class.")
    return folds


def out_of_fold(
    X: np.ndarray, y: np.ndarray, n_classes: int, fit: FitFunction, k: int = DEFAULT_FOLDS, seed: int = 0,
    workers: int = 1,
) -> Iterator[Progress | OutOfFold]:
    """Yields Progress after each fold, then one OutOfFold. The same seed gives the same folds.
    `workers` > 1: that many folds fit at once, in threads (numpy lets go of the GIL in its matrix products);
    only for a `fit` that is safe to call from several threads at once."""
    y = np.asarray(y, dtype=int)
    folds = fold_count(y, k)
    proba = np.zeros((len(y), n_classes), dtype=np.float32)
    yield Progress(PHASE, 0, folds, f"{len(y)} images, {folds} folds", unit="folds")
    assigned = stratified_folds(y, folds, seed)

    def one(fold: int) -> None:
        train, test = np.flatnonzero(assigned != fold), np.flatnonzero(assigned == fold)
        model = fit(X[train], y[train])
        proba[test] = _full_width(model, model.predict_proba(X[test]), n_classes)

    if workers <= 1:
        for done in range(1, folds + 1):
            one(done - 1)
            yield Progress(PHASE, done, folds, f"fold {done} of {folds}", unit="folds")
    else:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        from threadpoolctl import threadpool_limits

        # One BLAS thread per fold, set for the whole stretch (across the yields): set and reset inside each
        # fold, one fold's reset would hand the others several BLAS threads in the middle of their fits.
        limits = threadpool_limits(1)
        pool = ThreadPoolExecutor(min(workers, folds), thread_name_prefix="out-of-fold")
        try:
            pending = [pool.submit(one, fold) for fold in range(folds)]
            for done, future in enumerate(as_completed(pending), start=1):
                future.result()
                yield Progress(PHASE, done, folds, f"fold {done} of {folds}", unit="folds")
        finally:  # closed early (cancelled): the folds not started are dropped, the running ones end
            pool.shutdown(wait=True, cancel_futures=True)
            limits.restore_original_limits()
    yield OutOfFold(proba, folds)


def stratified_folds(y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold of each row: every class dealt out in turn over the folds, in a seeded random order, so
    each fold holds about 1/folds of every class (numpy: scikit-learn's StratifiedKFold costs its import,
    seconds on a busy machine, in every re-training from the command line)."""
    rng = np.random.default_rng(seed)
    assigned = np.empty(len(y), dtype=int)
    start = 0  # the next class starts where this one stopped: small classes do not all land in fold 0
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        assigned[members] = (start + np.arange(len(members))) % folds
        start = (start + len(members)) % folds
    return assigned


def out_of_fold_proba(
    X: np.ndarray, y: np.ndarray, n_classes: int, fit: FitFunction, k: int = DEFAULT_FOLDS, seed: int = 0
) -> np.ndarray:
    """The probabilities alone, for callers that need no progress."""
    result = None
    for event in out_of_fold(X, y, n_classes, fit, k, seed):
        if isinstance(event, OutOfFold):
            result = event.proba
    return result


def _full_width(model: ProbabilisticModel, proba: np.ndarray, n_classes: int) -> np.ndarray:
    """A model that knows only the classes of its training folds (scikit-learn's classes_) gets zero columns
    for the others, so every row has the run's full class order."""
    proba = np.asarray(proba, dtype=np.float32)
    if proba.shape[1] == n_classes:
        return proba
    known = getattr(model, "classes_", None)
    if known is None or len(known) != proba.shape[1]:
        raise ValueError(f"predict_proba gave {proba.shape[1]} columns for {n_classes} classes")
    full = np.zeros((len(proba), n_classes), dtype=np.float32)
    full[:, np.asarray(known, dtype=int)] = proba
    return full

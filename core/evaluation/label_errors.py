"""Suspected label errors by confident learning on out-of-fold probabilities.

Confident learning (Northcutt, Jiang & Chuang, 2021), as used here:
1. Each class j gets a threshold t_j: the mean probability of j over the images labelled j (how sure the
   model usually is about that class). Per-class thresholds keep a hard or rare class from being flagged
   wholesale just because the model is less sure of it everywhere.
2. The confident joint counts, for each given class i, the images confidently of class j (p_j >= t_j; the most
   probable such j). Scaled so each row sums to the number of images labelled i, its off-diagonal cell (i, j)
   estimates how many images labelled i are really j.
3. For each such cell, that many images labelled i with the largest margin p_j - p_i are suspect, with j
   suggested ("prune by noise rate").
4. Images that confident learning's count leaves out but that the model, calibrated, puts in another class
   with probability >= CONFIDENT_DISAGREEMENT are suspect too: the count is cautious (it listed 79 of 89
   flipped digits), and a calibrated "80 % sure it is a 7" is right about 80 % of the time. On
   benchmarks/bench_label_errors.py (5 % flipped, mean of 3 draws) it raises recall@k from 0.843 to 0.891
   (digits), 0.871 to 0.943 (photo textures) and 0.843 to 0.855 (animal silhouettes), for a precision of
   0.955 against 0.965, 0.978 against 0.979 and 0.872 against 0.875. A lower bar finds more, at a lower
   precision (0.7: digits 0.929 at 0.943, animals 0.890 at 0.838): the list is to be trusted first.
5. The list is ordered by a ranking rule (RANKINGS): "self-confidence", 1 - p(given), how doubtful the label
   is; "margin", p(suggested) - p(given), how strongly the model disagrees; "normalised margin", max over
   j != given of p_j minus p(given) (confident learning's two rules, and ours). The default is the rule that
   puts most flipped labels first on benchmarks/bench_label_errors.py (5 % flipped; recall@k, k = the number
   flipped, on the calibrated out-of-fold probabilities a run stores). Where the out-of-fold predictions are
   96-99 % right (digits, photo textures, animal silhouettes) the rules tie. Where the model's own mistakes compete with the
   flips (28 px jittered animal silhouettes and grey textures, 0.78-0.79 right) self-confidence finds
   0.726 and 0.714, margin 0.607 and 0.598 (3 draws): an image the model doubts is worth a look whether or not the
   model is sure of another class."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


MARGIN, SELF_CONFIDENCE, NORMALISED_MARGIN = "margin", "self-confidence", "normalised margin"
RANKINGS = (MARGIN, SELF_CONFIDENCE, NORMALISED_MARGIN)
DEFAULT_RANKING = SELF_CONFIDENCE
CONFIDENT_DISAGREEMENT = 0.8  # on calibrated probabilities (the stored out-of-fold ones are)


@dataclass(frozen=True)
class SuspectedError:
    index: int  # row in the arrays given
    given: int  # class index
    suggested: int  # class index the model finds instead
    score: float  # in (0, 1], by the list's ranking rule: higher is more suspicious; the list is in its order
    confidence: float  # p(suggested)


def class_thresholds(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Mean self-confidence per class; a class without images gets a threshold nothing reaches."""
    thresholds = np.full(proba.shape[1], np.inf)
    for k in range(proba.shape[1]):
        mine = labels == k
        if mine.any():
            thresholds[k] = proba[mine, k].mean()
    return thresholds


def estimated_label_counts(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """[C, C]: about how many images labelled i (row) truly belong to j (column); rows sum to the label counts."""
    n_classes = proba.shape[1]
    confident = proba >= class_thresholds(labels, proba)[None, :]
    confident_class = np.where(confident, proba, -1.0).argmax(axis=1)
    has_confident = confident.any(axis=1)
    joint = np.zeros((n_classes, n_classes))
    np.add.at(joint, (labels[has_confident], confident_class[has_confident]), 1)
    given = np.bincount(labels, minlength=n_classes)[:, None]
    rows = joint.sum(axis=1, keepdims=True)
    return np.divide(joint * given, rows, out=np.zeros_like(joint), where=rows > 0)


def _rank_key(rule: str, row: np.ndarray, given: int, suggested: int) -> float:
    """Higher is more suspicious (`rule` is one of RANKINGS: find_label_errors checks it)."""
    if rule == MARGIN:
        return float(row[suggested] - row[given])
    if rule == SELF_CONFIDENCE:
        return float(1.0 - row[given])
    return float(np.delete(row, given).max() - row[given])  # NORMALISED_MARGIN


def find_label_errors(labels: np.ndarray, proba: np.ndarray, ranking: str = DEFAULT_RANKING,
                      disagreement: float | None = CONFIDENT_DISAGREEMENT) -> list[SuspectedError]:
    """The suspect labels, most suspicious first (by `ranking`, one of RANKINGS). `disagreement`: also
    list images whose most probable class is another with at least this probability (None: not)."""
    if ranking not in RANKINGS:
        raise ValueError(f"unknown ranking {ranking!r}; use one of {', '.join(RANKINGS)}")
    labels = np.asarray(labels, dtype=int)
    proba = np.asarray(proba, dtype=float)
    if len(labels) == 0:
        return []
    expected = np.rint(estimated_label_counts(labels, proba)).astype(int)
    best: dict[int, tuple[int, float]] = {}  # image -> (suggested class, its margin over the given one)
    for given, suggested in zip(*np.nonzero(expected)):
        if given == suggested:
            continue
        rows = np.flatnonzero(labels == given)
        margin = proba[rows, suggested] - proba[rows, given]
        for pick in np.argsort(-margin, kind="stable")[: expected[given, suggested]]:
            i = int(rows[pick])
            if margin[pick] > 0 and (i not in best or margin[pick] > best[i][1]):
                best[i] = (int(suggested), float(margin[pick]))
    if disagreement is not None:
        suggested = proba.argmax(axis=1)
        rows = np.flatnonzero((suggested != labels) & (proba.max(axis=1) >= disagreement))
        for i in (int(r) for r in rows if int(r) not in best):
            best[i] = (int(suggested[i]), float(proba[i, suggested[i]] - proba[i, labels[i]]))
    suspects = [SuspectedError(i, int(labels[i]), k, _rank_key(ranking, proba[i], int(labels[i]), k),
                               float(proba[i, k])) for i, (k, _) in best.items()]
    return sorted(suspects, key=lambda s: (-s.score, s.index))

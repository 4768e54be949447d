"""How good a model is: metrics and a confusion matrix whose cells know their images.

Pure functions on arrays (scikit-learn's metrics, never hand-written ones). `y_true` holds class indices
0..C-1 in the order of `class_names`; `proba` is [N, C]. Everything returned is plain data (to_dict() for
JSON), so the CLI, the report and the GUI read the same numbers. scikit-learn is imported where a number is
computed, not with the module: the window reads these types and would otherwise load sklearn and scipy (~1,900
modules, seconds at start, and a heap that every full garbage collection walks)."""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # labelled images of this class
    roc_auc: float | None = None  # this class against the rest; None when it cannot be computed


@dataclass(frozen=True)
class Averages:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Metrics:
    n_images: int
    accuracy: float
    balanced_accuracy: float
    per_class: list[ClassMetrics]
    macro: Averages
    weighted: Averages
    roc_auc: float | None  # binary, or the macro average of one-vs-rest; None if a class has no images
    log_loss: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RocCurve:
    name: str  # the class taken as positive
    fpr: list[float]
    tpr: list[float]
    auc: float


@dataclass(frozen=True)
class CellImage:
    image_id: int
    confidence: float  # the probability the model gave its predicted class


@dataclass(frozen=True)
class Confusion:
    """Rows: the given class; columns: the predicted class."""

    class_names: list[str]
    counts: list[list[int]]
    normalised: list[list[float]]  # each row divided by its total (0 for an empty row)
    cells: dict[tuple[int, int], list[CellImage]] = field(default_factory=dict)

    def images(self, given: int, predicted: int) -> list[CellImage]:
        """The images of one cell, most confident first (for a mistake: the most blatant first)."""
        return self.cells.get((given, predicted), [])

    def to_dict(self) -> dict:
        return {
            "classes": self.class_names,
            "counts": self.counts,
            "normalised": self.normalised,
            "cells": [
                {"given": g, "predicted": p, "images": [asdict(c) for c in images]}
                for (g, p), images in sorted(self.cells.items())
            ],
        }


def compute_metrics(y_true: np.ndarray, proba: np.ndarray, class_names: list[str]) -> Metrics:
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=float)
    labels = list(range(len(class_names)))
    y_pred = proba.argmax(axis=1)
    with warnings.catch_warnings():
        # A class never predicted has precision 0 (zero_division=0 says so), not a warning on the console.
        warnings.simplefilter("ignore")
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, zero_division=0
        )
        macro = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        weighted = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average="weighted", zero_division=0
        )
        balanced = skm.balanced_accuracy_score(y_true, y_pred)
    class_auc = _per_class_auc(y_true, proba, labels)
    per_class = [
        ClassMetrics(name, float(p), float(r), float(f), int(s), auc)
        for name, p, r, f, s, auc in zip(class_names, precision, recall, f1, support, class_auc)
    ]
    return Metrics(
        n_images=len(y_true),
        accuracy=float(skm.accuracy_score(y_true, y_pred)),
        balanced_accuracy=float(balanced),
        per_class=per_class,
        macro=Averages(*(float(v) for v in macro[:3])),
        weighted=Averages(*(float(v) for v in weighted[:3])),
        roc_auc=_overall_auc(y_true, proba, labels),
        log_loss=_log_loss(y_true, proba, labels),
    )


def _overall_auc(y_true: np.ndarray, proba: np.ndarray, labels: list[int]) -> float | None:
    from sklearn import metrics as skm

    if len(set(y_true.tolist())) < len(labels) or len(labels) < 2:
        return None  # AUC needs images of every class
    if len(labels) == 2:
        return float(skm.roc_auc_score(y_true, proba[:, 1]))
    return float(skm.roc_auc_score(y_true, _renormalised(proba), multi_class="ovr", labels=labels))


def _per_class_auc(y_true: np.ndarray, proba: np.ndarray, labels: list[int]) -> list[float | None]:
    from sklearn import metrics as skm

    out: list[float | None] = []
    for k in labels:
        positive = y_true == k
        out.append(float(skm.roc_auc_score(positive, proba[:, k])) if 0 < positive.sum() < len(y_true) else None)
    return out


def _log_loss(y_true: np.ndarray, proba: np.ndarray, labels: list[int]) -> float | None:
    from sklearn import metrics as skm

    if len(y_true) == 0 or len(labels) < 2:
        return None
    return float(skm.log_loss(y_true, _renormalised(proba), labels=labels))


def _renormalised(proba: np.ndarray) -> np.ndarray:
    # Stored probabilities are rounded; scikit-learn wants rows that sum to 1 within a tight tolerance.
    total = proba.sum(axis=1, keepdims=True)
    return np.divide(proba, total, out=np.full_like(proba, 1.0 / proba.shape[1]), where=total > 0)


def roc_curves(y_true: np.ndarray, proba: np.ndarray, class_names: list[str]) -> list[RocCurve]:
    """One curve per class against the rest (binary: one curve, the second class as positive)."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=float)
    positives = [1] if len(class_names) == 2 else range(len(class_names))
    curves = []
    for k in positives:
        is_k = y_true == k
        if not 0 < is_k.sum() < len(y_true):
            continue
        fpr, tpr, _ = skm.roc_curve(is_k, proba[:, k])
        curves.append(RocCurve(class_names[k], fpr.tolist(), tpr.tolist(), float(skm.auc(fpr, tpr))))
    return curves


def confusion(
    y_true: np.ndarray, proba: np.ndarray, image_ids: list[int], class_names: list[str]
) -> Confusion:
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=float)
    n = len(class_names)
    y_pred = proba.argmax(axis=1) if len(y_true) else np.zeros(0, dtype=int)
    counts = skm.confusion_matrix(y_true, y_pred, labels=list(range(n))) if len(y_true) else np.zeros((n, n), int)
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros((n, n)), where=rows > 0)
    cells: dict[tuple[int, int], list[CellImage]] = {}
    confidence = proba.max(axis=1) if len(y_true) else np.zeros(0)
    for image_id, given, predicted, conf in zip(image_ids, y_true, y_pred, confidence):
        cells.setdefault((int(given), int(predicted)), []).append(CellImage(int(image_id), float(conf)))
    for images in cells.values():
        images.sort(key=lambda c: (-c.confidence, c.image_id))
    return Confusion(list(class_names), counts.astype(int).tolist(), normalised.tolist(), cells)

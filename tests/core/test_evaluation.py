"""Metrics against hand-checked tiny cases, and the confusion matrix's cell → images mapping."""
import math

import numpy as np
import pytest

from core.evaluation.metrics import compute_metrics, confusion, roc_curves

# Five images, two classes. Given: 0 0 1 1 1; predicted (argmax): 0 1 1 1 0.
Y = np.array([0, 0, 1, 1, 1])
P1 = np.array([0.2, 0.7, 0.9, 0.6, 0.4])
PROBA = np.stack([1 - P1, P1], axis=1)
IDS = [10, 11, 12, 13, 14]


def test_binary_metrics_match_hand_computation():
    m = compute_metrics(Y, PROBA, ["cat", "dog"])
    assert m.n_images == 5
    assert m.accuracy == pytest.approx(3 / 5)
    # recall: cat 1/2, dog 2/3
    assert m.balanced_accuracy == pytest.approx((1 / 2 + 2 / 3) / 2)
    cat, dog = m.per_class
    assert (cat.name, cat.precision, cat.recall, cat.f1, cat.support) == ("cat", 0.5, 0.5, 0.5, 2)
    assert (dog.precision, dog.recall, dog.f1, dog.support) == pytest.approx((2 / 3, 2 / 3, 2 / 3, 3))
    assert m.macro.f1 == pytest.approx((0.5 + 2 / 3) / 2)
    assert m.weighted.f1 == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 5)
    # Dog scores 0.9, 0.6, 0.4 against cat scores 0.2, 0.7: 4 of 6 pairs ordered right.
    assert m.roc_auc == pytest.approx(4 / 6)
    expected_loss = -(math.log(0.8) + math.log(0.3) + math.log(0.9) + math.log(0.6) + math.log(0.4)) / 5
    assert m.log_loss == pytest.approx(expected_loss)


def test_multiclass_auc_is_one_vs_rest_and_absent_class_gives_none():
    y = np.array([0, 1, 2, 0, 1, 2])
    proba = np.array([
        [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8],
        [0.6, 0.3, 0.1], [0.3, 0.6, 0.1], [0.2, 0.2, 0.6],
    ])
    m = compute_metrics(y, proba, ["a", "b", "c"])
    assert m.accuracy == 1.0 and m.roc_auc == pytest.approx(1.0)
    assert [c.roc_auc for c in m.per_class] == pytest.approx([1.0, 1.0, 1.0])

    four = np.hstack([proba * 0.9, np.full((6, 1), 0.1)])  # class "d" has no labelled images
    m = compute_metrics(y, four, ["a", "b", "c", "d"])
    assert m.roc_auc is None
    assert m.per_class[3].support == 0 and m.per_class[3].roc_auc is None
    assert m.to_dict()["per_class"][0]["name"] == "a"


def test_confusion_counts_rows_and_cells_know_their_images():
    c = confusion(Y, PROBA, IDS, ["cat", "dog"])
    assert c.counts == [[1, 1], [1, 2]]
    assert np.allclose(c.normalised, [[0.5, 0.5], [1 / 3, 2 / 3]])
    # Every image is in exactly one cell.
    assert sorted(i.image_id for cell in c.cells.values() for i in cell) == IDS
    assert [(i.image_id, i.confidence) for i in c.images(1, 0)] == [(14, pytest.approx(0.6))]
    assert [i.image_id for i in c.images(1, 1)] == [12, 13]  # most confident first
    assert c.images(0, 1)[0].image_id == 11
    d = c.to_dict()
    assert d["classes"] == ["cat", "dog"]
    assert {"given": 1, "predicted": 0, "images": [{"image_id": 14, "confidence": pytest.approx(0.6)}]} in d["cells"]


def test_empty_rows_normalise_to_zero():
    c = confusion(np.array([0, 0]), np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]]), [1, 2], ["a", "b", "c"])
    assert c.counts == [[1, 1, 0], [0, 0, 0], [0, 0, 0]]
    assert c.normalised[1] == [0.0, 0.0, 0.0]


def test_roc_curves_one_for_binary_one_per_class_otherwise():
    (curve,) = roc_curves(Y, PROBA, ["cat", "dog"])
    assert curve.name == "dog" and curve.auc == pytest.approx(4 / 6)
    assert curve.fpr[0] == 0.0 and curve.tpr[-1] == 1.0
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[[0, 1, 2, 1]]
    assert [c.name for c in roc_curves(y, proba, ["a", "b", "c"])] == ["a", "b", "c"]

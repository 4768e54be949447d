"""Finding flipped labels: scikit-learn's real handwritten digits (1,797 images, 10 classes) with a share of
labels flipped on purpose, out-of-fold predictions from Dovecote's own head (core/heads.fit_head, 5 folds),
then the confident-learning ranking against two baselines measured in the same run: images in random order,
and every image the out-of-fold model gets wrong ranked by its margin (no per-class thresholds).

    .venv/bin/python benchmarks/bench_label_errors.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.models.heads import HeadConfig, fit_head  # noqa: E402
from core.evaluation.label_errors import find_label_errors  # noqa: E402
from core.evaluation.out_of_fold import out_of_fold_proba  # noqa: E402

HEAD = HeadConfig(kind="mlp", hidden=128, max_epochs=40, patience=None)


def flip(y: np.ndarray, share: float, n_classes: int, seed: int) -> tuple[np.ndarray, set[int]]:
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(y), int(len(y) * share), replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return noisy, set(flipped.tolist())


def precision_at(ranked: list[int], truth: set[int], k: int) -> float:
    return len(set(ranked[:k]) & truth) / k


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    print(f"{'flipped':>8} {'method':<26} {'listed':>6} {'P@50':>6} {'P@k':>6} {'recall':>7}   (k = flipped count)")
    for share in (0.05, 0.10, 0.20):
        noisy, truth = flip(y, share, 10, seed=1)
        k = len(truth)
        started = time.perf_counter()
        proba = out_of_fold_proba(X, noisy, 10, lambda a, b: fit_head(a, b, 10, HEAD, 0), k=5, seed=0)
        seconds = time.perf_counter() - started
        confident = [s.index for s in find_label_errors(noisy, proba)]
        rows = np.arange(len(y))
        margin = proba.max(axis=1) - proba[rows, noisy]
        wrong = [int(i) for i in np.argsort(-margin, kind="stable") if proba[i].argmax() != noisy[i]]
        rng = np.random.default_rng(2)
        shuffled = rng.permutation(len(y)).tolist()
        results = {"confident learning": confident, "baseline: model disagrees": wrong,
                   "baseline: random order": shuffled[:k]}
        for name, ranked in results.items():
            found = len(set(ranked) & truth)
            print(f"{share:>8.0%} {name:<26} {len(ranked):>6} {precision_at(ranked, truth, 50):>6.2f} "
                  f"{precision_at(ranked, truth, k):>6.2f} {found / k:>7.2f}")
        ratio = precision_at(confident, truth, k) / max(precision_at(shuffled, truth, k), 1e-9)
        listed_precision = len(set(confident) & truth) / max(len(confident), 1)
        wrong_precision = len(set(wrong) & truth) / max(len(wrong), 1)
        print(f"{'':>8} P@k {ratio:.1f}x random order; precision of the whole list {listed_precision:.2f} vs "
              f"{wrong_precision:.2f} for every disagreement; OOF took {seconds:.1f} s (5 head fits)")


if __name__ == "__main__":
    main()

"""Finding flipped labels: real images with a share of labels flipped on purpose, out-of-fold predictions
from Dovecote's default head (core.models.heads.fit_head, 5 folds, the run's own path), then Dovecote's list
(core.evaluation.label_errors: confident learning's count of wrong labels, filled with the lowest
self-confidence among the images the model puts elsewhere) ordered by each ranking rule of Northcutt et al.
(self-confidence, normalised margin), on one set of folds and on an ensemble of two (folds drawn with two seeds,
probabilities averaged); with three baselines in the same run: confident learning's "prune by noise rate" list
(each cell's count of wrong labels, by margin, and the confident disagreements: Dovecote's list until
December 2026), every disagreement ranked by margin (no per-class thresholds), and random order.

Data: the frozen EfficientNet-Lite0 embeddings of scikit-learn's digits (1,797) and of the photo textures
(2,800) of benchmarks/bench_accuracy.py, computed once there and cached (run that first, or this computes them);
on both the out-of-fold predictions are 98-99 % right, so that nearly every disagreement is a flipped label.
Harder, where the model's own errors compete with the flips (the owner's set A: ~0.89): the 28 px sets of
benchmarks/finetune_data.py (2,800 images each), `animals` (0.96), `animals-jittered` (0.78) and
`small-textures` (0.79), and `animals-mixed` (0.88, set A's regime: 30 % of the silhouettes jittered);
`animals*` need `pip install --no-deps animal-mnist`. Each set's line says how often its
out-of-fold predictions match the true labels.
"recall@k": the share of the flipped labels among the first k suspects, k = the number flipped (what the issue
measures on `evaluate --json`); "precision": the share of the whole list that is truly flipped; "precision@L":
that share over the first L entries, L = the length of the prune-by-noise-rate list (a longer list that finds
more can have a lower precision in all and still be right more often at every depth). Which labels are flipped
moves recall@k by several points (0.707 or 0.757 on animals-jittered, two draws), so each figure is the mean
over --seeds draws, with the lowest and highest recall@k.

With --mirror, also the heads with each image's mirror image (confident learning's ensemble across views):
their probabilities the mean over both, trained on the plain images or on both as samples.

    python benchmarks/bench_label_errors.py [--share 0.05] [--seeds 3] [--sets digits,textures,animals-jittered]
                                            [--mirror]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_accuracy import POOLS, imported, labelled_embeddings, write_folder  # noqa: E402
from core.evaluation.calibration import fit_temperature, scaled  # noqa: E402
from core.evaluation.label_errors import (  # noqa: E402
    CONFIDENT_DISAGREEMENT, DEFAULT_RANKING, RANKINGS, estimated_label_counts, find_label_errors)
from core.evaluation.out_of_fold import out_of_fold_proba  # noqa: E402
from core.models.backbones import DEFAULT_BACKBONE, cache_dir  # noqa: E402
from core.models.head_fitting import fit_head, fold_config, make_head_trainer  # noqa: E402
from core.models.heads import HeadConfig  # noqa: E402
from finetune_data import finetune_data  # noqa: E402

SMALL = {"animals": "animals", "animals-jittered": "animals-jittered", "animals-mixed": "animals-mixed",
         "small-textures": "textures"}


def flip(y: np.ndarray, share: float, n_classes: int, seed: int) -> tuple[np.ndarray, set[int]]:
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(y), int(len(y) * share), replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return noisy, set(flipped.tolist())


def embeddings(name: str, cache: Path, views: tuple[int, ...] = (0,)) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings [images, views, D], true classes)."""
    if name in SMALL:
        root = finetune_data(cache / name, SMALL[name])[0]
        folders = [root / "train", root / "test"]
    else:
        pool = POOLS[name]()
        folders = [write_folder(cache / name / part, items) for part, items in (("train-all", pool.train),
                                                                                  ("test", pool.test))]
    X, names = [], []
    for folder in folders:
        with imported(folder) as project:
            each = [labelled_embeddings(project, DEFAULT_BACKBONE, view) for view in views]
        X.append(np.stack([vectors for vectors, _ in each], axis=1))
        names += each[0][1]
    classes = sorted(set(names))
    return np.concatenate(X), np.array([classes.index(n) for n in names])


def oof(X, noisy, n_classes, seed: int, trained: tuple[int, ...] = (0,), averaged: tuple[int, ...] = (0,)
        ) -> np.ndarray:
    """The run's path: L2 chosen on a validation split (20 %) of the plain images, then the folds refit with
    it; each head trained on the views `trained` as samples, its probabilities the mean over `averaged`."""
    rng = np.random.default_rng(seed)
    val = rng.random(len(noisy)) < 0.2
    rows = np.concatenate([X[~val, v] for v in trained])
    trainer = make_head_trainer(rows, np.tile(noisy[~val], len(trained)), n_classes, HeadConfig(), 0, X[val, 0],
                                noisy[val])
    for _ in trainer.epochs():
        pass
    config = fold_config(HeadConfig(), {"head_l2": trainer.chosen_l2})

    def fit(A, b):
        head = fit_head(np.concatenate([A[:, v] for v in trained]), np.tile(b, len(trained)), n_classes, config, 0)
        return _Averaged(head, averaged)

    return out_of_fold_proba(X, noisy, n_classes, fit, k=5, seed=seed)


class _Averaged:
    def __init__(self, head, views: tuple[int, ...]):
        self.head, self.views = head, views

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([self.head.predict_proba(X[:, v]) for v in self.views], axis=0)


def prune_by_noise_rate(noisy: np.ndarray, proba: np.ndarray) -> list[int]:
    """The baseline (Dovecote's list until December 2026): for each cell (i, j) of the estimated label counts,
    that many images labelled i with the largest margin p_j - p_i, and every image put in another class with a
    probability of CONFIDENT_DISAGREEMENT or more; ranked by self-confidence."""
    expected = np.rint(estimated_label_counts(noisy, proba)).astype(int)
    best: dict[int, float] = {}
    for given, true in zip(*np.nonzero(expected)):
        if given != true:
            rows = np.flatnonzero(noisy == given)
            margin = proba[rows, true] - proba[rows, given]
            for pick in np.argsort(-margin, kind="stable")[: expected[given, true]]:
                if margin[pick] > 0:
                    best[int(rows[pick])] = proba[rows[pick], given]
    sure = np.flatnonzero((proba.argmax(axis=1) != noisy) & (proba.max(axis=1) >= CONFIDENT_DISAGREEMENT))
    best.update({int(i): proba[i, noisy[i]] for i in sure})
    return sorted(best, key=lambda i: (best[i], i))


def scores(ranked: list[int], truth: set[int], depth: int) -> tuple[int, float, float, float, float]:
    """(listed, recall@k, recall, precision, precision over the first `depth`)."""
    k, found = len(truth), len(set(ranked) & truth)
    return (len(ranked), len(set(ranked[:k]) & truth) / k, found / k, found / max(len(ranked), 1),
            len(set(ranked[:depth]) & truth) / max(min(depth, len(ranked)), 1))


def report(name: str, rows: list[tuple[int, float, float, float, float]], note: str = "") -> None:
    """One line per ranking: the mean over the flip draws, and the lowest and highest recall@k."""
    listed, at_k, found, precision, at_depth = np.mean(rows, axis=0)
    low, high = min(r[1] for r in rows), max(r[1] for r in rows)
    spread = f" ({low:.3f}-{high:.3f})" if len(rows) > 1 else ""
    print(f"  {name:<62} listed {listed:>6.0f}  recall@k {at_k:.3f}{spread}  recall {found:.3f}  "
          f"precision {precision:.3f}  precision@L {at_depth:.3f}{note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--sets", default="digits,textures")
    parser.add_argument("--seeds", type=int, default=3, help="draws of flipped labels; the figures are means")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--mirror", action="store_true",
                        help="also with each image's mirror image (embedded once more): averaged, and as samples")
    args = parser.parse_args()
    cache = args.cache or cache_dir() / "bench-accuracy"
    for name in args.sets.split(","):
        X, y = embeddings(name, cache, (0, 1) if args.mirror else (0,))
        n_classes = int(y.max()) + 1
        results: dict[str, list] = {}
        seconds, right = [], []
        for seed in range(1, args.seeds + 1):
            noisy, truth = flip(y, args.share, n_classes, seed=seed)
            started = time.perf_counter()
            first = oof(X, noisy, n_classes, seed=0)
            seconds.append(time.perf_counter() - started)
            right.append(np.mean(first.argmax(axis=1) == y))
            second = oof(X, noisy, n_classes, seed=1)
            calibrated = scaled(first, fit_temperature(noisy, first))
            pruned = prune_by_noise_rate(noisy, calibrated)
            depth = len(pruned)
            for label, proba in (("one set of folds", first), ("calibrated", calibrated),
                                 ("ensemble of 2 fold seeds", (first + second) / 2)):
                for rule in RANKINGS:
                    ranked = [s.index for s in find_label_errors(noisy, proba, rule)]
                    results.setdefault(f"{label}, {rule}", []).append(scores(ranked, truth, depth))
            if args.mirror:
                for label, trained in (("mirror: heads on plain, mean of both", (0,)),
                                       ("mirror: heads on both, mean of both", (0, 1))):
                    proba = oof(X, noisy, n_classes, 0, trained, (0, 1))
                    ranked = [s.index for s in find_label_errors(noisy, scaled(proba, fit_temperature(noisy, proba)))]
                    results.setdefault(f"{label}, calibrated, {DEFAULT_RANKING}", []).append(
                        scores(ranked, truth, depth))
            results.setdefault("baseline: prune by noise rate, calibrated", []).append(scores(pruned, truth, depth))
            rows = np.arange(len(y))
            margin = first.max(axis=1) - first[rows, noisy]
            wrong = [int(i) for i in np.argsort(-margin, kind="stable") if first[i].argmax() != noisy[i]]
            results.setdefault("baseline: every disagreement by margin", []).append(scores(wrong, truth, depth))
            shuffled = np.random.default_rng(seed + 100).permutation(len(y)).tolist()
            results.setdefault("baseline: random order", []).append(scores(shuffled, truth, depth))
        print(f"== {name}: {len(y)} images, {len(truth)} labels flipped ({args.share:.0%}), {args.seeds} draws; "
              f"one OOF pass {np.mean(seconds):.1f} s, right about {np.mean(right):.3f} of the true labels")
        for label, rows in results.items():
            product = label == f"calibrated, {DEFAULT_RANKING}"  # what a run stores and lists
            report(label, rows, "  <- Dovecote's" if product else "")


if __name__ == "__main__":
    main()

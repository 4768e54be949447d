"""The quick head's fitting, as a run does it, against its previous version in the same process.

A run fits the linear head (core.models.linear_head) once per L2 strength on the validation split, refits
the chosen strength on every labelled image, then fits 5 out-of-fold heads (two at a time on two cores) for
the evaluation: on a 2,000-image project this is nearly all of a re-training's seconds. "before": every
strength of the grid tried, L-BFGS on the features as they are; "now": the search stops when the validation
loss rises (GRID_PATIENCE) and L-BFGS works on features whose dominant directions are rescaled
(PRECONDITIONED). Printed per set and regime: test accuracy and log loss of the run's head, the objective
(the training loss it minimises) of one out-of-fold head, and the seconds of the grid + refit and of the
out-of-fold pass, with the ratio now / before. Same data, folds and seeds for both.

Data: the cached frozen embeddings of benchmarks/bench_label_errors.py (run it or bench_accuracy.py first, or
this computes them); `animals*` need `pip install --no-deps animal-mnist`. Training images: 10 or 30 per class,
or 70 % of each class ("all"); the rest is the test set; the validation split is 20 % of the training images.

    python benchmarks/bench_head_fit.py [--sets digits,textures,animals-mixed,small-textures] [--regimes 10,30,all]
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

from bench_label_errors import embeddings  # noqa: E402
from core.evaluation.out_of_fold import out_of_fold  # noqa: E402
from core.models import linear_head  # noqa: E402
from core.models.backbones import cache_dir  # noqa: E402
from core.models.head_fitting import fit_head, fold_config, make_head_trainer  # noqa: E402
from core.models.heads import HeadConfig  # noqa: E402

VERSIONS = {"before": {"GRID_PATIENCE": None, "PRECONDITIONED": 0},
            "now": {"GRID_PATIENCE": linear_head.GRID_PATIENCE, "PRECONDITIONED": linear_head.PRECONDITIONED}}


def run_like(X, y, n_classes, train, test, seed: int) -> dict:
    """The run's head (grid on the validation split, then the refit), then its out-of-fold pass."""
    rng = np.random.default_rng(seed)
    val = rng.random(len(train)) < 0.2
    fit_rows, val_rows = train[~val], train[val]
    started = time.perf_counter()
    trainer = make_head_trainer(X[fit_rows], y[fit_rows], n_classes, HeadConfig(), seed, X[val_rows], y[val_rows])
    tried = sum(1 for _ in trainer.epochs())
    head_s = time.perf_counter() - started
    proba = trainer.best_model().predict_proba(X[test])
    config = fold_config(HeadConfig(), {"head_l2": trainer.chosen_l2})
    started = time.perf_counter()
    for _ in out_of_fold(X[train], y[train], n_classes, lambda A, b: fit_head(A, b, n_classes, config, seed), 5,
                         seed, workers=2):
        pass
    oof_s = time.perf_counter() - started
    one_fold = linear_head._Fit(X[train], y[train], n_classes, True, linear_head.class_weights)
    objective = one_fold.run(trainer.chosen_l2)[0]
    truth = y[test]
    return {"acc": float((proba.argmax(1) == truth).mean()),
            "nll": float(-np.log(np.maximum(proba[np.arange(len(truth)), truth], 1e-9)).mean()),
            "objective": objective, "head_s": head_s, "oof_s": oof_s, "tried": tried, "l2": trainer.chosen_l2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="digits,textures,animals-mixed,small-textures")
    parser.add_argument("--regimes", default="10,30,all")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    cache = args.cache or cache_dir() / "bench-accuracy"
    totals = {name: [] for name in VERSIONS}
    for name in args.sets.split(","):
        X3, y = embeddings(name, cache)
        X, n_classes = X3[:, 0], int(y.max()) + 1
        for regime in args.regimes.split(","):
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                per_class = [np.flatnonzero(y == c) for c in range(n_classes)]
                train = np.concatenate([rng.permutation(rows)[: int(0.7 * len(rows)) if regime == "all"
                                                              else int(regime)] for rows in per_class])
                test = np.setdiff1d(np.arange(len(y)), train)
                line = f"{name:<15} {regime:>4}/class seed {seed}:"
                for version, settings in VERSIONS.items():
                    for key, value in settings.items():
                        setattr(linear_head, key, value)
                    result = run_like(X, y, n_classes, train, test, seed)
                    totals[version].append(result)
                    line += (f"  {version} acc {result['acc']:.3f} log loss {result['nll']:.3f} objective "
                             f"{result['objective']:.5f} head {result['head_s']:.2f} s ({result['tried']} L2) "
                             f"out-of-fold {result['oof_s']:.2f} s |")
                print(line, flush=True)
    for key, value in VERSIONS["now"].items():
        setattr(linear_head, key, value)
    print("\nmeans over every line:")
    for version, rows in totals.items():
        print(f"  {version:<7} acc {np.mean([r['acc'] for r in rows]):.4f}  log loss "
              f"{np.mean([r['nll'] for r in rows]):.4f}  head {sum(r['head_s'] for r in rows):.1f} s  out-of-fold "
              f"{sum(r['oof_s'] for r in rows):.1f} s")
    for part in ("head_s", "oof_s"):
        ratio = sum(r[part] for r in totals["now"]) / sum(r[part] for r in totals["before"])
        print(f"  ratio now / before, {part[:-2]}: {ratio:.2f}")
    lower = np.mean([n["objective"] <= b["objective"] + 1e-6 for n, b in zip(totals["now"], totals["before"])])
    print(f"  the out-of-fold head's objective as low as before or lower: {lower:.0%} of lines")


if __name__ == "__main__":
    main()

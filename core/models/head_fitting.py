"""Fitting a head of either kind (core.models.heads: the Dense "mlp"; core.models.linear_head: the default
"linear"), with or without events: the one entry point the runner, the out-of-fold folds and warm-up use."""
from __future__ import annotations

import numpy as np

from core.errors import InvalidRequest
from core.models.heads import LINEAR, MLP, HeadConfig, HeadModel, HeadTrainer
from core.models.linear_head import LinearHeadTrainer


def make_head_trainer(X: np.ndarray, y: np.ndarray, n_classes: int, config: HeadConfig, seed: int,
                      X_val: np.ndarray | None = None, y_val: np.ndarray | None = None):
    """The trainer for config.kind: a LinearHeadTrainer or a HeadTrainer (the same interface)."""
    if config.kind == LINEAR:
        return LinearHeadTrainer(X, y, n_classes, config, seed, X_val, y_val)
    if config.kind != MLP:
        raise InvalidRequest(f"Unknown head {config.kind!r}: use {LINEAR!r} or {MLP!r}.")
    return HeadTrainer(X, y, n_classes, config, seed, X_val, y_val)


def fit_head(X: np.ndarray, y: np.ndarray, n_classes: int, config: HeadConfig, seed: int,
             X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> HeadModel:
    """A head trained without the events (k-fold). Without a validation set an MLP runs config.max_epochs
    epochs and a linear head uses config.l2: pass what a validated run chose (see fold_config)."""
    trainer = make_head_trainer(X, y, n_classes, config, seed, X_val, y_val)
    for _ in trainer.epochs():
        pass
    return trainer.best_model()


def fold_config(config: HeadConfig, run_metrics: dict) -> HeadConfig:
    """The run's head settings for refits without a validation split (k-fold): the L2 strength or the number
    of epochs that the run's validation chose."""
    from dataclasses import replace

    if config.kind == LINEAR:
        return replace(config, l2=run_metrics.get("head_l2") or config.l2)
    return replace(config, max_epochs=max(1, int(run_metrics.get("head_best_epoch") or config.max_epochs)))

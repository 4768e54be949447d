"""Retraining after label changes (the Review view's Retrain, `dovecote train --retrain`): the latest model's
settings, the head alone. After fine-tuning, the head is trained again on that run's network, frozen, at its
input size: a head on the pretrained network instead would drop what fine-tuning gained and embed every image
again at the network's full input size (`benchmarks/bench_retrain_finetuned.py --data animals-mixed`: test
accuracy 0.946 kept, against 0.884, in 5.9 s against 27.6 s). The fine-tuned network's embeddings of the
labelled images are cached by the run's int8 check, or else by the first retrain: later ones take seconds."""
from __future__ import annotations

import dataclasses

from core.storage.runs import RunInfo
from core.training.runner import TrainConfig


def retrain_config(base: RunInfo) -> TrainConfig:
    """The settings of a retrain of `base` (the latest run with a model)."""
    config = TrainConfig.from_dict(base.config)
    trained_network = base.metrics.get("fine_tuned") or config.network_of_run is not None
    return dataclasses.replace(config, fine_tune=None, network_of_run=base.id if trained_network else None)

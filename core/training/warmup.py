"""What a process that will train pays once, done ahead of need (the window's warm worker calls warm_up()
while it is idle): importing torch, scikit-learn, the store's migrations and the training and evaluation
code, and a fit of the default (linear, numpy) head, as a quick training run does. torch is imported too
(fine-tuning and computing embeddings need it), though the default head does not.
A tiny head on made-up numbers, never a project's data; nothing is written."""
from __future__ import annotations

import numpy as np


def warm_up() -> None:
    import safetensors.numpy  # noqa: F401 - the model is saved with it

    import core.evaluation.review  # noqa: F401 - what the review view reads after a run
    import core.evaluation.run_evaluation  # noqa: F401 - out-of-fold predictions
    import core.evaluation.unlabelled  # noqa: F401 - predictions of the unlabelled images after a run
    import core.project  # noqa: F401 - opens the store (Alembic)
    import torch  # noqa: F401 - fine-tuning and computing embeddings need it; the default head does not

    from core.models.head_fitting import fit_head
    from core.models.heads import HeadConfig
    from core.training import runner  # noqa: F401

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 4)).astype(np.float32), np.array([0, 1] * 4)
    fit_head(X, y, 2, HeadConfig(l2=1e-2), seed=0)

"""A model bundle applied to image batches: its backbone through the Embedder (ONNX Runtime on the CPU, torch
on a GPU), then its head in numpy: what classifying a folder runs."""
from __future__ import annotations

import numpy as np

from core.features.embedder import Embedder
from core.models.bundles import ModelBundle


class Predictor:
    """Probabilities [N, C] for preprocessed batches [N, 3, S, S], with the stock or the bundled backbone."""

    def __init__(self, bundle: ModelBundle, device: str = "auto"):
        self.bundle = bundle
        self.classes = list(bundle.classes)
        self._embedder = Embedder(bundle.spec, device, bundle.backbone_weights_file())
        self.device = self._embedder.device

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self.bundle.head.predict_proba(self._embedder.embed(batch))

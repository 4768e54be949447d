"""A model bundle applied to image batches: its backbone through the Embedder (ONNX Runtime on the CPU, torch
on a GPU; or the bundle's int8 backbone on the CPU), then its head in numpy: what classifying a folder runs."""
from __future__ import annotations

import numpy as np

from core.features.embedder import Embedder
from core.models.bundles import ModelBundle

class Predictor:
    """Probabilities [N, C] for preprocessed batches [N, 3, S, S], with the stock or the bundled backbone.

    precision "int8" runs the bundle's int8 network (core.models.int8; the caller decides whether its check
    allows it, see core.classify.precision). `threads`: ONNX Runtime's threads (default: all cores)."""

    def __init__(self, bundle: ModelBundle, device: str = "auto", precision: str = "fp32",
                 threads: int | None = None):
        self.bundle = bundle
        self.classes = list(bundle.classes)
        self.precision = precision
        if precision == "int8":
            from core.models.int8 import check_network

            check_network(bundle.int8_network)
            self._embedder = Embedder(bundle.spec, "cpu", network=bundle.int8_network, threads=threads)
            self.device = f"{self._embedder.device}, int8"
        else:
            self._embedder = Embedder(bundle.spec, device, bundle.backbone_weights_file(), threads=threads)
            self.device = self._embedder.device

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        probabilities = self.bundle.head.predict_proba(self._embedder.embed(batch))
        if self.bundle.flip_average:  # as core.models.classifier.Classifier does, and so the exported network
            mirrored = self._embedder.embed(np.ascontiguousarray(batch[..., ::-1]))
            probabilities = (probabilities + self.bundle.head.predict_proba(mirrored)) / 2
        return probabilities

"""The default quick head: multinomial logistic regression on standardised embeddings, its L2 strength chosen
on the validation split, fitted by full-batch L-BFGS (convex: one optimum, reached in a fraction of a second).

Why linear by default: on every benchmark of benchmarks/bench_accuracy.py (digits, faces, textures; 10 and
30 labels per class and 2,000 images) a plain logistic regression on the frozen features ("linear probe")
beat the Dense(256) head, and it trains several times faster, which keeps re-training after a relabel quick.

It is stored in the two-layer HeadModel layout, exactly: fc1 = [W; -W], ReLU, fc2 = [I, -I], since
relu(z) - relu(-z) = z. So bundles, ONNX export, classifying and fine-tuning need no second kind of head."""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from core.errors import InvalidRequest
from core.models.early_stopping import EarlyStopping

# L2 strengths tried, strongest first (each fit starts from the previous one's weights): per image, on
# features standardised to unit variance. 1/(C*N) in scikit-learn's terms.
L2_GRID = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4)
DEFAULT_L2 = 1e-3  # without a validation split to choose on
MAX_ITERATIONS = 200
TOLERANCE = 1e-6
HEAD_THREADS = 1


class LinearHeadTrainer:
    """Same interface as core.models.heads.HeadTrainer: `epochs()` yields an EpochEnded per L2 strength
    tried (the "epoch" is its place in L2_GRID), `stopping` says which was best on the validation loss, and
    `best_model()` is a head with that strength refitted on training and validation images together."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n_classes: int, config, seed: int,
                 X_val: np.ndarray | None = None, y_val: np.ndarray | None = None):
        from core.models.heads import class_weights

        if n_classes < 2:
            raise InvalidRequest("A classifier needs at least 2 classes.")
        X = np.asarray(X, np.float32)
        if X.ndim != 2 or len(X) != len(y) or len(X) == 0:
            raise ValueError("X must be [N, D] with one label per row")
        self.config, self.seed, self.n_classes = config, seed, n_classes
        self.X, self.y = X, np.asarray(y, np.int64)
        has_val = X_val is not None and len(X_val) > 0
        self.X_val = np.asarray(X_val, np.float32) if has_val else None
        self.y_val = np.asarray(y_val, np.int64) if has_val else None
        self._weights = class_weights
        self.grid = (config.l2,) if config.l2 is not None else (L2_GRID if has_val else (DEFAULT_L2,))
        self.stopping = EarlyStopping(None)
        self.chosen_l2: float | None = None
        self._model = None

    def epochs(self) -> Iterator:
        import torch

        from core.models.heads import HEAD_PHASE, EpochEnded

        threads = torch.get_num_threads()
        torch.set_num_threads(HEAD_THREADS)
        try:
            fit = _Fit(self.X, self.y, self.n_classes, self.config.class_weighting, self._weights)
            val = fit.transform(self.X_val) if self.X_val is not None else None
            durations = []
            best_state = None
            for epoch, l2 in enumerate(self.grid, start=1):
                started = time.perf_counter()
                train_loss, train_acc = fit.run(l2)
                val_loss, val_acc = fit.evaluate(val, self.y_val) if val is not None else (None, None)
                if self.stopping.update(epoch, val_loss, val_acc):
                    self.chosen_l2, best_state = l2, fit.state()
                durations.append(time.perf_counter() - started)
                yield EpochEnded(HEAD_PHASE, epoch, train_loss, train_acc, val_loss, val_acc,
                                 images_per_s=len(self.X) / max(durations[-1], 1e-9),
                                 eta_s=(len(self.grid) - epoch) * float(np.mean(durations)), seconds=durations[-1])
            self._model = self._refit(fit, best_state)
        finally:
            torch.set_num_threads(threads)

    def _refit(self, fit: "_Fit", state):
        """The chosen strength on every image given (a fifth more data matters with 10 per class), warm-started
        from the validated fit; without validation images, that fit itself."""
        if self.X_val is None:
            fit.load(state)
            return fit.head()
        both = _Fit(np.concatenate([self.X, self.X_val]), np.concatenate([self.y, self.y_val]), self.n_classes,
                    self.config.class_weighting, self._weights)
        both.load(state)
        both.run(self.chosen_l2)
        return both.head()

    def best_model(self):
        return self._model


class _Fit:
    """One standardisation and the weights being fitted, in torch (float64 for a clean L-BFGS)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n_classes: int, weighting: bool, class_weights):
        import torch

        self.mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        # Per-feature scaling, with a floor: a near-constant feature must not get a huge factor (few images).
        self.scale = 1.0 / np.maximum(std, 0.1 * float(std.mean()) + 1e-12)
        self.X = torch.from_numpy((X - self.mean) * self.scale)
        self.y = torch.from_numpy(y)
        weights = class_weights(y, n_classes) if weighting else np.ones(n_classes, np.float32)
        self.sample_weight = torch.from_numpy(weights.astype(np.float64))[self.y]
        self.sample_weight /= self.sample_weight.sum()
        self.W = torch.zeros(n_classes, X.shape[1], dtype=torch.float64, requires_grad=True)
        self.b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)

    def transform(self, X: np.ndarray):
        import torch

        return torch.from_numpy((np.asarray(X, np.float64) - self.mean) * self.scale)

    def _loss(self, l2: float):
        import torch

        logits = self.X @ self.W.T + self.b
        nll = torch.nn.functional.cross_entropy(logits, self.y, reduction="none")
        return (nll * self.sample_weight).sum() + 0.5 * l2 * (self.W * self.W).sum(), logits

    def run(self, l2: float) -> tuple[float, float]:
        import torch

        optimiser = torch.optim.LBFGS([self.W, self.b], lr=1, max_iter=MAX_ITERATIONS, history_size=20,
                                      tolerance_grad=TOLERANCE, tolerance_change=TOLERANCE * 1e-3,
                                      line_search_fn="strong_wolfe")

        def closure():
            optimiser.zero_grad()
            loss, _ = self._loss(l2)
            loss.backward()
            return loss

        optimiser.step(closure)
        with torch.no_grad():
            loss, logits = self._loss(l2)
            return float(loss), float((logits.argmax(1) == self.y).double().mean())

    def evaluate(self, X, y: np.ndarray) -> tuple[float, float]:
        import torch

        with torch.no_grad():
            logits = X @ self.W.T + self.b
            target = torch.from_numpy(y)
            # Unweighted: the validation loss is how surprised the model is by the images it will meet.
            return (float(torch.nn.functional.cross_entropy(logits, target)),
                    float((logits.argmax(1) == target).double().mean()))

    def state(self):
        """The weights in raw feature units (standardisation folded in), so another _Fit can start from them."""
        W = self.W.detach().numpy() * self.scale[None, :]
        return W, self.b.detach().numpy() - W @ self.mean

    def load(self, state) -> None:
        import torch

        W, b = state
        with torch.no_grad():
            self.W.copy_(torch.from_numpy(W / self.scale[None, :]))
            self.b.copy_(torch.from_numpy(b + W @ self.mean))

    def head(self):
        from core.models.heads import HeadModel

        W, b = self.state()
        n_classes = W.shape[0]
        eye = np.eye(n_classes)
        return HeadModel({"fc1.weight": np.concatenate([W, -W]), "fc1.bias": np.concatenate([b, -b]),
                          "fc2.weight": np.concatenate([eye, -eye], axis=1), "fc2.bias": np.zeros(n_classes)})

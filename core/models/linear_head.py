"""The default quick head: multinomial logistic regression on standardised embeddings, its L2 strength chosen
on the validation split, fitted by full-batch L-BFGS (convex: one optimum, reached in a fraction of a second).
Embeddings vary mostly along a few directions, which makes plain L-BFGS crawl; it works on weights with those
directions rescaled (preconditioned): the same optimum in about half the steps on hard sets.

Why linear by default: on every benchmark of benchmarks/bench_accuracy.py (digits, faces, textures; 10 and
30 labels per class and 2,000 images) a plain logistic regression on the frozen features ("linear probe")
beat the Dense(256) head, and it trains several times faster, which keeps re-training after a relabel quick.

It is stored in the two-layer HeadModel layout, exactly: fc1 = [W; -W], ReLU, fc2 = [I, -I], since
relu(z) - relu(-z) = z. So bundles, ONNX export, classifying and fine-tuning need no second kind of head."""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from core.models.early_stopping import EarlyStopping
from core.models.heads import HEAD_PHASE, EpochEnded, HeadModel, checked_training_set, class_weights

# L2 strengths tried, strongest first (each fit starts from the previous one's weights): per image, on
# features standardised to unit variance. 1/(C*N) in scikit-learn's terms.
L2_GRID = (1e-1, 1e-2, 1e-3, 1e-4)
DEFAULT_L2 = 1e-3  # without a validation split to choose on
MAX_ITERATIONS = 100
TOLERANCE = 1e-5
HEAD_THREADS = 1
PRECONDITIONED = 32  # top feature directions the fit rescales (see _scaling)
# Strengths tried past the best: the validation loss over the grid had one minimum on all 36 splits of
# benchmarks/bench_head_fit.py, so the first rise ends the search.
GRID_PATIENCE = 1


class LinearHeadTrainer:
    """Same interface as core.models.heads.HeadTrainer: `epochs()` yields an EpochEnded per L2 strength
    tried (the "epoch" is its place in L2_GRID) until the validation loss rises, `stopping` says which was
    best on it, and `best_model()` is a head with that strength refitted on training and validation images
    together."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n_classes: int, config, seed: int,
                 X_val: np.ndarray | None = None, y_val: np.ndarray | None = None):
        self.X, self.y = checked_training_set(X, y, n_classes)
        self.config, self.seed, self.n_classes = config, seed, n_classes
        has_val = X_val is not None and len(X_val) > 0
        self.X_val = np.asarray(X_val, np.float32) if has_val else None
        self.y_val = np.asarray(y_val, np.int64) if has_val else None
        self._weights = class_weights
        self.grid = (config.l2,) if config.l2 is not None else (L2_GRID if has_val else (DEFAULT_L2,))
        self.stopping = EarlyStopping(GRID_PATIENCE)
        self.chosen_l2: float | None = None
        self._best_state = None  # (W, b) of the best strength so far: what a cancel keeps
        self._model = None

    def epochs(self) -> Iterator:
        from threadpoolctl import threadpool_limits

        # One thread: these matrices are small, and two threads slow down tenfold as soon as another program
        # competes for the cores. Set around each stretch of work, not across a yield.
        with threadpool_limits(HEAD_THREADS):
            fit = _Fit(self.X, self.y, self.n_classes, self.config.class_weighting, self._weights)
            val = fit.transform(self.X_val) if self.X_val is not None else None
        durations = []
        for epoch, l2 in enumerate(self.grid, start=1):
            started = time.perf_counter()
            with threadpool_limits(HEAD_THREADS):
                train_loss, train_acc = fit.run(l2)
                val_loss, val_acc = fit.evaluate(val, self.y_val) if val is not None else (None, None)
            if self.stopping.update(epoch, val_loss, val_acc):
                self.chosen_l2, self._best_state = l2, fit.state()
            durations.append(time.perf_counter() - started)
            yield EpochEnded(HEAD_PHASE, epoch, train_loss, train_acc, val_loss, val_acc,
                             images_per_s=len(self.X) / max(durations[-1], 1e-9),
                             eta_s=(len(self.grid) - epoch) * float(np.mean(durations)), seconds=durations[-1])
            if self.stopping.should_stop:
                break
        with threadpool_limits(HEAD_THREADS):
            self._model = self._refit(fit, self._best_state)

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

    def validated_model(self):
        """The chosen strength's fit on the training images alone: what fine-tuning starts from, so that its
        validation figures are measured on images none of its weights has seen (the refit saw them)."""
        return _head(*self._best_state) if self._best_state is not None else None

    def best_model(self):
        """The refitted head; before the refit (a cancel mid-way), the best strength's fit so far."""
        if self._model is None and self._best_state is not None:
            return _head(*self._best_state)
        return self._model


class _Fit:
    """One standardisation and the weights being fitted, in numpy, not torch: torch's first optimiser step
    imports its compiler stack (sympy, torch.distributed: 2-6 s on a busy 2-core machine), which every
    re-training from the command line would pay."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n_classes: int, weighting: bool, class_weights):
        # float32 statistics: float64 ones on [N, D] float32 cost half a second for 2,000 images.
        self.mean = X.mean(axis=0).astype(np.float64)
        std = X.std(axis=0).astype(np.float64)
        # Per-feature scaling, with a floor: a near-constant feature must not get a huge factor (few images).
        self.scale = 1.0 / np.maximum(std, 0.1 * float(std.mean()) + 1e-12)
        self.X = self.transform(X)
        self.y, self.n_classes = y, n_classes
        weights = class_weights(y, n_classes) if weighting else np.ones(n_classes, np.float32)
        self.sample_weight = (weights[y] / weights[y].sum()).astype(np.float32)[:, None]
        self.onehot = np.eye(n_classes, dtype=np.float32)[y]
        self.theta = np.zeros(n_classes * (X.shape[1] + 1))  # W [C, D] then b [C], raveled
        self.variances, self.directions = _top_directions(self.X)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardised, float32: half the memory traffic of float64, and the same accuracy at this tolerance."""
        X = np.asarray(X, np.float32)
        return (X - self.mean.astype(np.float32)) * self.scale.astype(np.float32)

    def _unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        C, D = self.n_classes, self.X.shape[1]
        return theta[: C * D].reshape(C, D).astype(np.float32), theta[C * D :].astype(np.float32)

    def _loss_and_gradient(self, theta: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
        W, b = self._unpack(theta)
        logits = self.X @ W.T + b
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        total = exp.sum(axis=1, keepdims=True)
        nll = np.log(total)[:, 0] - (logits * self.onehot).sum(axis=1)
        loss = float(np.dot(nll.astype(np.float64), self.sample_weight[:, 0])) + 0.5 * l2 * float(np.vdot(W, W))
        residual = (exp / total - self.onehot) * self.sample_weight
        grad_W = residual.T @ self.X + l2 * W
        return loss, np.concatenate([grad_W.ravel(), residual.sum(axis=0)]).astype(np.float64)

    def run(self, l2: float) -> tuple[float, float]:
        """Minimised over W' = W P^-1 rather than W: the same optimum, reached in fewer steps (see _scaling)."""
        scale = _scaling(self.variances, l2, self._spread())

        def in_scaled(theta: np.ndarray) -> tuple[float, np.ndarray]:
            loss, gradient = self._loss_and_gradient(self._map(theta, scale), l2)
            return loss, self._map(gradient, scale)

        scaled, loss = minimise(in_scaled, self._map(self.theta, 1.0 / scale))
        self.theta = self._map(scaled, scale)
        return loss, self.evaluate(self.X, self.y)[1]

    def _spread(self) -> float:
        """p (1 - p) at the starting weights, averaged over images and classes: how much the loss bends per
        unit of feature variance there (0.09 from zero weights for 10 classes; far less near a confident fit)."""
        W, b = self._unpack(self.theta)
        logits = self.X @ W.T + b
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        return float(((proba * (1 - proba)).mean(axis=1) * self.sample_weight[:, 0]).sum())

    def _map(self, theta: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """W -> W (I + V diag(scale - 1) V^T), b unchanged: P (scale) or its inverse (1 / scale)."""
        C, D = self.n_classes, self.X.shape[1]
        W, V = theta[: C * D].reshape(C, D), self.directions
        mapped = W + ((W @ V) * (scale - 1.0)) @ V.T
        return np.concatenate([mapped.ravel(), theta[C * D :]])

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Unweighted: the validation loss is how surprised the model is by the images it will meet."""
        W, b = self._unpack(self.theta)
        logits = X @ W.T + b
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(y)), y].mean()), float((logits.argmax(1) == y).mean())

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """The weights in raw feature units (standardisation folded in), so another _Fit can start from them."""
        W, b = self._unpack(self.theta)
        W = W.astype(np.float64) * self.scale[None, :]
        return W, b.astype(np.float64) - W @ self.mean

    def load(self, state) -> None:
        W, b = state
        self.theta = np.concatenate([(W / self.scale[None, :]).ravel(), b + W @ self.mean])

    def head(self):
        return _head(*self.state())


def _top_directions(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The PRECONDITIONED directions in which the standardised features vary most, and their variances
    (randomised range finder with one power iteration, seeded: the same X gives the same result); float64,
    [k] and [D, k]."""
    k = min(PRECONDITIONED, len(X) - 1, X.shape[1] - 1)
    if k < 1:
        return np.zeros(0), np.zeros((X.shape[1], 0))
    probe = np.random.default_rng(0).standard_normal((X.shape[1], k + 8)).astype(np.float32)
    basis = np.linalg.qr(X.T @ (X @ probe))[0]
    basis = np.linalg.qr(X.T @ (X @ basis))[0]
    projected = (X @ basis).astype(np.float64)
    variances, rotation = np.linalg.eigh(projected.T @ projected / len(X))
    order = np.argsort(variances)[::-1][:k]
    return np.maximum(variances[order], 0.0), basis.astype(np.float64) @ rotation[:, order]


def _scaling(variances: np.ndarray, l2: float, spread: float) -> np.ndarray:
    """How much to shrink each top direction: the loss curves about variance * spread + l2 along it, so
    the features' few dominant directions make the problem ill-conditioned (hundreds of times steeper than
    the rest); scaled to the k-th direction's curvature, L-BFGS sees an even bowl there."""
    if not len(variances):
        return variances
    steepness = variances * spread + l2
    return np.sqrt(steepness[-1] / steepness)


def _head(W: np.ndarray, b: np.ndarray):
    """logits = x @ W.T + b as a HeadModel: fc1 = [W; -W], ReLU, fc2 = [I, -I] (relu(z) - relu(-z) = z)."""
    eye = np.eye(len(b))
    return HeadModel({"fc1.weight": np.concatenate([W, -W]), "fc1.bias": np.concatenate([b, -b]),
                      "fc2.weight": np.concatenate([eye, -eye], axis=1), "fc2.bias": np.zeros(len(b))})


def minimise(function, x: np.ndarray, history: int = 10) -> tuple[np.ndarray, float]:
    """L-BFGS (two-loop recursion, backtracking Armijo line search) for a smooth convex function returning
    (value, gradient). Ours rather than SciPy's: its import and its L-BFGS-B driver measured 1-2 s and 20 ms a
    step on this machine, more than the whole fit. Stops at MAX_ITERATIONS, when the largest gradient entry
    is below TOLERANCE, or when the value changes by less than a millionth (it is summed in float32)."""
    value, gradient = function(x)
    steps: list[tuple[np.ndarray, np.ndarray, float]] = []  # (s, y, 1 / y.s), newest last
    for _ in range(MAX_ITERATIONS):
        if np.abs(gradient).max() <= TOLERANCE:
            break
        direction = -_inverse_hessian_times(gradient, steps)
        slope = float(gradient @ direction)
        if slope >= 0:  # not a descent direction (numerical noise): restart from the gradient
            steps.clear()
            direction = -_inverse_hessian_times(gradient, steps)
            slope = float(gradient @ direction)
        step = 1.0
        while True:
            candidate = x + step * direction
            new_value, new_gradient = function(candidate)
            if new_value <= value + 1e-4 * step * slope or step < 1e-8:
                break
            step *= 0.5
        s, y = candidate - x, new_gradient - gradient
        curvature = float(s @ y)
        if curvature > 1e-12:
            steps = (steps + [(s, y, 1.0 / curvature)])[-history:]
        converged = value - new_value <= 1e-6 * max(abs(value), abs(new_value), 1.0)
        x, value, gradient = candidate, new_value, new_gradient
        if converged:
            break
    return x, float(value)


def _inverse_hessian_times(gradient: np.ndarray, steps) -> np.ndarray:
    q = gradient.copy()
    alphas = []
    for s, y, rho in reversed(steps):
        alpha = rho * float(s @ q)
        alphas.append(alpha)
        q -= alpha * y
    if steps:
        s, y, _ = steps[-1]
        q *= float(s @ y) / float(y @ y)
    else:  # the first step: a gradient step of length at most 1
        q /= max(1.0, float(np.linalg.norm(gradient)))
    for (s, y, rho), alpha in zip(steps, reversed(alphas)):
        q += s * (alpha - rho * float(y @ q))
    return q

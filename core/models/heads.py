"""The classifier head trained on cached backbone embeddings: by default a logistic regression
(core.models.linear_head), or Dense(256) ReLU -> Dropout -> softmax ("mlp"); both stored as HeadModel.

Training the head alone on embeddings computed once is what makes re-training after a few label fixes take
seconds. Prediction needs only numpy (`HeadModel.predict_proba`), so classifying never has to import torch
for the head; torch is imported lazily, for training and export."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Iterator

import numpy as np

from core.errors import InvalidRequest
from core.models.early_stopping import EarlyStopping
from core.models.threads import torch_threads

HEAD_PHASE = "head"
# A validation loss must fall by this fraction to count as better: tiny gains on an easy problem must
# not keep training for its whole budget.
MIN_GAIN = 1e-3
HEAD_THREADS = 1


LINEAR, MLP = "linear", "mlp"


@dataclass(frozen=True)
class HeadConfig:
    kind: str = LINEAR  # "linear": L2 logistic regression (the rest but class_weighting is for "mlp")
    l2: float | None = None  # linear: the L2 strength; None: chosen on the validation split
    hidden: int = 256
    dropout: float = 0.5
    lr: float = 1e-3
    weight_decay: float = 1e-4
    max_epochs: int = 100
    patience: int | None = 10  # epochs without a lower validation loss before stopping; None: all epochs
    batch_size: int = 128  # larger batches than the usual 32-64: fewer steps, and re-training stays quick
    class_weighting: bool = True  # weigh each class by 1/its frequency so that rare classes count as much

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "HeadConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class EpochEnded:
    """One finished epoch of a phase ("head" or "fine-tune"); what the progress chart plots."""

    phase: str
    epoch: int  # from 1
    train_loss: float
    train_acc: float
    val_loss: float | None  # None without a validation split
    val_acc: float | None
    images_per_s: float
    eta_s: float | None  # upper bound for the phase: early stopping can end it sooner
    seconds: float = 0.0
    planned: int | None = None  # the epochs the phase plans as of this one (a time budget re-plans them)


class HeadModel:
    """Two dense layers as numpy arrays: fc1 [H, D] (+ bias), fc2 [C, H] (+ bias). The input standardisation
    used in training is folded into fc1, so the head takes the raw embeddings."""

    KEYS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")

    def __init__(self, tensors: dict[str, np.ndarray]):
        missing = [k for k in self.KEYS if k not in tensors]
        if missing:
            raise ValueError(f"head weights lack {', '.join(missing)}")
        self.tensors = {k: np.ascontiguousarray(tensors[k], dtype=np.float32) for k in self.KEYS}

    @property
    def feature_dim(self) -> int:
        return self.tensors["fc1.weight"].shape[1]

    @property
    def n_classes(self) -> int:
        return self.tensors["fc2.weight"].shape[0]

    def logits(self, X: np.ndarray) -> np.ndarray:
        t = self.tensors
        hidden = np.maximum(np.asarray(X, np.float32) @ t["fc1.weight"].T + t["fc1.bias"], 0.0)
        return hidden @ t["fc2.weight"].T + t["fc2.bias"]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.logits(X))

    def with_temperature(self, temperature: float) -> "HeadModel":
        """The same head with its logits divided by `temperature` (calibration): folded into fc2, so every
        consumer of the weights (ONNX export, fine-tuning, classifying) gets calibrated probabilities."""
        t = dict(self.tensors)
        t["fc2.weight"], t["fc2.bias"] = t["fc2.weight"] / temperature, t["fc2.bias"] / temperature
        return HeadModel(t)

    def state_dict(self) -> dict[str, np.ndarray]:
        return dict(self.tensors)

    def to_module(self, dropout: float = 0.0):
        """The head as a torch module producing logits (core.models.classifier.HeadNet: same names)."""
        import torch

        from core.models.classifier import HeadNet

        net = HeadNet(self.feature_dim, self.n_classes, self.tensors["fc1.weight"].shape[0], dropout)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in self.tensors.items()})
        return net

    @classmethod
    def from_state(cls, state: dict, mean: np.ndarray | None = None, scale: np.ndarray | None = None) -> "HeadModel":
        """From a HeadNet's state dict (torch tensors); `mean`/`scale` (the standardisation its input had)
        are folded into fc1."""
        w1 = state["fc1.weight"].detach().cpu().double().numpy()
        b1 = state["fc1.bias"].detach().cpu().double().numpy()
        if mean is not None:
            # ((x - m) * s) @ W.T + b == x @ (W * s).T + (b - W @ (m * s))
            b1 = b1 - w1 @ (mean * scale)
            w1 = w1 * scale[None, :]
        return cls({"fc1.weight": w1, "fc1.bias": b1, "fc2.weight": state["fc2.weight"].detach().cpu().float().numpy(),
                    "fc2.bias": state["fc2.bias"].detach().cpu().float().numpy()})


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """N / (C * n_c) for the classes present (1 for absent ones): the mean weight of a sample is 1."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(n_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights.astype(np.float32)


def epoch_seed(seed: int, epoch: int, step: int = 0) -> int:
    """A torch seed per (run seed, epoch, step): reseeding at each stretch of work between two yields keeps a
    run reproducible even if other code draws from torch's global generator while the run is paused."""
    return (seed * 1_000_003 + epoch * 10_007 + step) % (2**63)


def checked_training_set(X: np.ndarray, y, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(features as float32 [N, D], labels as int64), or the error a head trainer raises for them."""
    if n_classes < 2:
        raise InvalidRequest("A classifier needs at least 2 classes.")
    X = np.asarray(X, np.float32)
    if X.ndim != 2 or len(X) != len(y) or len(X) == 0:
        raise ValueError("X must be [N, D] with one label per row")
    return X, np.asarray(y, np.int64)


class HeadTrainer:
    """Mini-batch AdamW with early stopping on the validation loss, keeping the best weights.
    `epochs()` yields an EpochEnded per epoch; `best_model()` is the best head so far (also after a cancel),
    `stopping` says which epoch that is."""

    def __init__(self, X: np.ndarray, y: np.ndarray, n_classes: int, config: HeadConfig, seed: int,
                 X_val: np.ndarray | None = None, y_val: np.ndarray | None = None):
        X, self.y = checked_training_set(X, y, n_classes)
        self.config, self.seed, self.n_classes = config, seed, n_classes
        # Centre each feature and divide all by one overall spread (folded into the first layer at the end).
        # One spread, not one per feature: with few images, near-constant features would get huge factors.
        self.mean = X.mean(axis=0).astype(np.float64)
        spread = float(np.sqrt(np.mean(X.var(axis=0, dtype=np.float64))))
        self.scale = np.full(X.shape[1], 1.0 / max(spread, 1e-6))
        self.X = ((X - self.mean) * self.scale).astype(np.float32)
        has_val = X_val is not None and len(X_val) > 0
        self.X_val = ((np.asarray(X_val, np.float32) - self.mean) * self.scale).astype(np.float32) if has_val else None
        self.y_val = np.asarray(y_val, np.int64) if has_val else None
        self.weights = class_weights(self.y, n_classes) if config.class_weighting else np.ones(n_classes, np.float32)
        self.stopping = EarlyStopping(config.patience, MIN_GAIN)
        self._best_state = None

    def epochs(self) -> Iterator[EpochEnded]:
        import torch

        from core.models.classifier import HeadNet

        cfg = self.config
        torch.manual_seed(epoch_seed(self.seed, 0))
        net = HeadNet(self.X.shape[1], self.n_classes, cfg.hidden, cfg.dropout)
        optimiser = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(self.weights))
        X, y = torch.from_numpy(self.X), torch.from_numpy(self.y)
        order_rng = np.random.default_rng(self.seed)
        with torch_threads(HEAD_THREADS):  # small matrices: see core/models/threads.py
            yield from self._epochs(net, optimiser, loss_fn, X, y, order_rng)

    def _epochs(self, net, optimiser, loss_fn, X, y, order_rng) -> Iterator[EpochEnded]:
        import torch

        cfg, stopping, durations = self.config, self.stopping, []
        for epoch in range(1, cfg.max_epochs + 1):
            started = time.perf_counter()
            torch.manual_seed(epoch_seed(self.seed, epoch))  # dropout masks
            train_loss, train_acc = self._train_epoch(net, optimiser, loss_fn, X, y, order_rng)
            val_loss, val_acc = self._evaluate(net, loss_fn)
            durations.append(time.perf_counter() - started)
            if stopping.update(epoch, val_loss, val_acc):
                self._best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            remaining = 0 if stopping.should_stop else cfg.max_epochs - epoch
            seconds = durations[-1]
            yield EpochEnded(HEAD_PHASE, epoch, train_loss, train_acc, val_loss, val_acc,
                             images_per_s=len(self.X) / max(seconds, 1e-9),
                             eta_s=remaining * float(np.mean(durations[-5:])), seconds=seconds)
            if stopping.should_stop:
                break

    def _train_epoch(self, net, optimiser, loss_fn, X, y, order_rng) -> tuple[float, float]:
        import torch

        net.train()
        order = torch.from_numpy(order_rng.permutation(len(X)))
        total_loss, correct, size = 0.0, 0, self.config.batch_size
        for start in range(0, len(X), size):
            index = order[start : start + size]
            logits = net(X[index])
            loss = loss_fn(logits, y[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total_loss += loss.item() * len(index)
            correct += int((logits.argmax(1) == y[index]).sum())
        return total_loss / len(X), correct / len(X)

    def _evaluate(self, net, loss_fn) -> tuple[float | None, float | None]:
        if self.X_val is None:
            return None, None
        import torch

        net.eval()
        with torch.no_grad():
            logits = net(torch.from_numpy(self.X_val))
            target = torch.from_numpy(self.y_val)
            loss = float(loss_fn(logits, target))
            acc = float((logits.argmax(1) == target).float().mean())
        return loss, acc

    def best_model(self) -> HeadModel | None:
        """The head with the lowest validation loss so far (the last epoch's without validation)."""
        if self._best_state is None:
            return None
        return HeadModel.from_state(self._best_state, self.mean, self.scale)

    def validated_model(self) -> HeadModel | None:
        """What fine-tuning starts from: this head saw the training images alone already."""
        return self.best_model()

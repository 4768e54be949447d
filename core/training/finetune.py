"""Fine-tuning: the backbone (or its last blocks) trained together with the head, at a low learning rate,
on randomly augmented images (crop/zoom, flip, rotation, contrast). This is the GPU path (CUDA or MPS: the
whole network, mixed precision on CUDA); on a CPU core.training.staged_finetune trains the last blocks on
cached outputs of the frozen ones, with the same config and interface. The input size is the run's
(core.models.backbones.fit_to_images: small images train at a small size, on a CPU smaller still: CPU_UPSCALE).

Both start from the quick head fitted on the training images alone (its validation figures, and so the gain
reported over the head, are measured on images no weight has seen), without dropout on the linear head."""
from __future__ import annotations

import itertools
import math
import time
from contextlib import closing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np

from core.events import Notice, Progress
from core.images.decode_ahead import decode_ahead
from core.models.backbones import BackboneSpec, Preprocessing
from core.models.bundles import split_tensors
from core.models.early_stopping import EarlyStopping
from core.models.heads import EpochEnded, HeadModel, class_weights, epoch_seed
from core.models.preprocessing import preprocessed_or_reason

FINE_TUNE_PHASE = "fine-tune"
# Fine-tuning asked for without a number of epochs (the CLI's --fine-tune, the Train view's checkbox): the
# whole run planned to fit this, minutes on a CPU rather than the better part of an hour.
DEFAULT_TIME_BUDGET_S = 300.0
PROGRESS_PHASE = "Fine-tuning"
# On a CPU small images are fine-tuned at this many times their size (core.models.backbones.fit_to_images;
# a GPU keeps its default, 8): 28 px grey textures (benchmarks/bench_training.py --part finetune) gave the
# frozen head 0.84 test accuracy at 128 px against 0.83 at 224 px, and each step costs a third, which buys
# the epochs that fine-tuning needs within its budget.
CPU_UPSCALE = 4
# Decoded training images are kept in memory (float16) up to this size; beyond it they are decoded again
# each epoch.
CACHE_BYTES = 1_500_000_000
WARMUP_FRACTION = 0.1
# Every block from the first trains: low, so that the pretrained features are adjusted, not overwritten.
WHOLE_NETWORK_LR = 1e-4


@dataclass(frozen=True)
class FineTuneConfig:
    epochs: int = 10
    # The backbone's learning rate; None: the method's own (WHOLE_NETWORK_LR here, on a GPU; on a CPU
    # core.training.staged_finetune.STAGED_LR).
    lr: float | None = None
    # The head, too, starts trained (from the quick head). Its input is the raw features (the standardisation
    # is folded into it), 2,560 of them for EfficientNet-Lite: Adam moves every weight by about the learning
    # rate each step, so 1e-3 shifted the logits by O(1) a step and undid the head in the first epoch.
    head_lr: float = 1e-5
    weight_decay: float = 1e-4
    batch_size: int = 32
    # Epochs without a lower validation loss before stopping; None: all epochs (the learning rate decays to
    # zero over them, and the last epochs are often the best; the best epoch is kept either way).
    patience: int | None = None
    unfreeze_blocks: int | None = None  # train the last N backbone blocks; None: all of them
    augment: bool = True
    flip: bool = True  # turn off for images whose mirror image means something else (text, digits)
    # With flip: the fine-tuned model may classify each image as the mean of it and its mirror image, where
    # that is more accurate on the validation images (it halves classifying's speed). CPU fine-tuning only.
    test_time_flip: bool = True
    max_rotation: float = 10.0  # degrees
    max_zoom: float = 0.15  # random crops keep at least 1 - max_zoom of the side
    contrast: float = 0.2
    mixed_precision: bool = True  # CUDA only
    # Seconds the whole run (features, head, fine-tuning, evaluation) may take: fine-tuning is planned to fit
    # (on a CPU: how many blocks train, on how many cached views, for how many of `epochs`; on a GPU: epochs
    # stop when the next would not fit). None: `epochs` epochs.
    time_budget_s: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FineTuneConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def lr_factor(step: int, total_steps: int) -> float:
    """A short linear warm-up (the first steps' gradients come from a head that has never seen these
    features move, and full-size steps would scramble the pretrained weights), then cosine decay to zero."""
    warmup = max(1, round(WARMUP_FRACTION * total_steps))
    return min(1.0, (step + 1) / warmup) * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


class _Images:
    """Preprocessed training images by index, decoded ahead of the training step in threads; cached in
    memory (float16) when they fit. Failures are recorded in order, on the consumer's thread."""

    def __init__(self, paths: list[Path], prep: Preprocessing):
        self.paths, self.prep = paths, prep
        size = prep.input_size
        fits = len(paths) * 3 * size * size * 2 <= CACHE_BYTES
        self._cache = np.zeros((len(paths), 3, size, size), np.float16) if fits else None
        self._loaded = np.zeros(len(paths), bool)
        self.failed: dict[int, str] = {}
        self._reported = 0

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(float32 batch, the indices it holds) for each slice of `order` in turn, while the next two batches
        decode: images that fail to decode are left out of their batch (see .failed)."""
        stream = decode_ahead(self._load, order, 2 * batch_size, "finetune-decode")
        size = self.prep.input_size
        try:
            for start in range(0, len(order), batch_size):
                kept, batch = [], []
                for index, array in itertools.islice(stream, batch_size):
                    if isinstance(array, str):
                        self.failed.setdefault(index, array)
                        continue
                    kept.append(index)
                    batch.append(array)
                stacked = np.stack(batch).astype(np.float32) if batch else np.zeros((0, 3, size, size), np.float32)
                yield stacked, np.asarray(kept, dtype=np.int64)
        finally:
            stream.close()

    def _load(self, index: int) -> np.ndarray | str:
        """In a decoding thread: the image (the cached copy once decoded), or why it cannot be had."""
        if index in self.failed:
            return self.failed[index]
        if self._cache is not None and self._loaded[index]:
            return self._cache[index]
        loaded = preprocessed_or_reason(self.paths[index], self.prep)
        if isinstance(loaded, str):
            return loaded
        array = loaded[0]
        if self._cache is not None:
            self._cache[index], self._loaded[index] = array, True
        return array

    def new_failures(self) -> list[Notice]:
        """A Notice for each image that failed to decode since the last call."""
        fresh = list(self.failed.items())[self._reported:]
        self._reported += len(fresh)
        return [Notice(f"{self.paths[i]}: {reason} (skipped)") for i, reason in fresh]


def augment(batch, rng: np.random.Generator, config: FineTuneConfig):
    """Random zoom/crop, rotation and flip as one affine resampling per image, then a contrast change."""
    import torch
    import torch.nn.functional as F

    n = batch.shape[0]
    scale = rng.uniform(1.0 - config.max_zoom, 1.0, n)
    angle = np.deg2rad(rng.uniform(-config.max_rotation, config.max_rotation, n))
    shift = rng.uniform(-1.0, 1.0, (2, n)) * (1.0 - scale)  # the crop stays inside the image
    mirror = np.where(rng.random(n) < 0.5, -1.0, 1.0) if config.flip else np.ones(n)
    contrast = rng.uniform(1.0 - config.contrast, 1.0 + config.contrast, n)
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    theta = np.stack([np.stack([cos * mirror, -sin, shift[0]], 1), np.stack([sin * mirror, cos, shift[1]], 1)], 1)
    theta = torch.as_tensor(theta, dtype=batch.dtype, device=batch.device)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    factor = torch.as_tensor(contrast, dtype=batch.dtype, device=batch.device).view(n, 1, 1, 1)
    return (out - mean) * factor + mean


class FineTuner:
    """Trains backbone + head end to end (one Classifier). `epochs()` yields Progress per batch, Notices, and
    EpochEnded per epoch; `best()` returns the weights with the lowest validation loss so far (also after a
    cancel), `stopping` says which epoch that is."""

    test_time_flip = False  # never chosen on this path: flip_check stays None

    def __init__(self, spec: BackboneSpec, head: HeadModel, train: list[tuple[Path, int]],
                 val: list[tuple[Path, int]], n_classes: int, config: FineTuneConfig, seed: int, device: str,
                 weights_path=None, dropout: float = 0.5, class_weighting: bool = True,
                 deadline: float | None = None):
        self.spec, self.head, self.config, self.seed, self.device = spec, head, config, seed, device
        self.deadline = deadline  # time.perf_counter() by which the last epoch must have ended
        self.n_classes, self.weights_path, self.dropout = n_classes, weights_path, dropout
        self.train_images = _Images([p for p, _ in train], spec.preprocessing)
        self.val_images = _Images([p for p, _ in val], spec.preprocessing)
        self.y_train = np.array([c for _, c in train], np.int64)
        self.y_val = np.array([c for _, c in val], np.int64)
        weights = class_weights(self.y_train, n_classes) if class_weighting else np.ones(n_classes, np.float32)
        self.class_weights = weights
        self.stopping = EarlyStopping(config.patience)
        self._best_state = None
        self.flip_check = None  # mirror averaging is not measured on this path: plain images only

    def epochs(self) -> Iterator[Progress | Notice | EpochEnded]:
        import torch

        cfg = self.config
        torch.manual_seed(epoch_seed(self.seed, 0))
        model = self._model().to(self.device)
        backbone_params = [p for p in model.backbone.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(
            [{"params": backbone_params, "lr": WHOLE_NETWORK_LR if cfg.lr is None else cfg.lr},
             {"params": model.head.parameters(), "lr": cfg.head_lr}],
            weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(self.y_train) / cfg.batch_size))
        total_steps = max(1, steps_per_epoch * cfg.epochs)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: lr_factor(step, total_steps))
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(self.class_weights).to(self.device))
        amp = self.device.startswith("cuda") and cfg.mixed_precision
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        stopping, durations = self.stopping, []
        for epoch in range(1, cfg.epochs + 1):
            started = time.perf_counter()
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.y_train))
            seen, loss_sum, correct = 0, 0.0, 0
            train_mode(model)
            with closing(self.train_images.batches(order, cfg.batch_size)) as batches:
                for step, (batch, kept) in enumerate(batches):
                    if len(kept):
                        torch.manual_seed(epoch_seed(self.seed, epoch, step + 1))  # dropout
                        x = torch.from_numpy(batch).to(self.device)
                        y = torch.from_numpy(self.y_train[kept]).to(self.device)
                        if cfg.augment:
                            x = augment(x, rng, cfg)
                        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                            logits = model(x)
                            loss = loss_fn(logits.float(), y)
                        optimiser.zero_grad(set_to_none=True)
                        scaler.scale(loss).backward()
                        scaler.step(optimiser)
                        scaler.update()
                        loss_sum += loss.item() * len(kept)
                        correct += int((logits.argmax(1) == y).sum())
                        seen += len(kept)
                    schedule.step()
                    yield from self.train_images.new_failures()
                    yield Progress(PROGRESS_PHASE, (epoch - 1) * len(order) + min((step + 1) * cfg.batch_size,
                                   len(order)), cfg.epochs * len(order), f"epoch {epoch}/{cfg.epochs}")
            val_loss, val_acc = self._evaluate(model, loss_fn, amp)
            yield from self.val_images.new_failures()
            durations.append(time.perf_counter() - started)
            if stopping.update(epoch, val_loss, val_acc):
                self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            seconds, mean = durations[-1], float(np.mean(durations))
            out_of_time = (self.deadline is not None and epoch < cfg.epochs
                           and time.perf_counter() + mean > self.deadline)
            last = stopping.should_stop or out_of_time
            yield EpochEnded(FINE_TUNE_PHASE, epoch, loss_sum / max(seen, 1), correct / max(seen, 1),
                             val_loss, val_acc, images_per_s=seen / max(seconds, 1e-9),
                             eta_s=0.0 if last else (cfg.epochs - epoch) * mean, seconds=seconds,
                             planned=epoch if out_of_time else cfg.epochs)
            if out_of_time:
                yield Notice(f"Fine-tuning stopped after {epoch} of {cfg.epochs} epochs: another would not "
                             "end within the time budget.")
            if last:
                break

    def _model(self):
        from core.models.backbone_nets import build_feature_extractor
        from core.models.classifier import Classifier

        extractor = build_feature_extractor(self.spec, self.weights_path)
        blocks = extractor.blocks
        count = len(blocks) if self.config.unfreeze_blocks is None else min(self.config.unfreeze_blocks, len(blocks))
        for block in list(blocks)[len(blocks) - count:]:
            block.requires_grad_(True)
        return Classifier(extractor, self.head.to_module(dropout=self.dropout))

    def _evaluate(self, model, loss_fn, amp: bool) -> tuple[float | None, float | None]:
        import torch

        if len(self.y_val) == 0:
            return None, None
        model.eval()
        logits_all, labels = [], []
        with torch.no_grad(), closing(self.val_images.batches(np.arange(len(self.y_val)),
                                                               2 * self.config.batch_size)) as batches:
            for batch, kept in batches:
                if len(kept):
                    with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                        logits_all.append(model(torch.from_numpy(batch).to(self.device)).float())
                    labels.append(torch.from_numpy(self.y_val[kept]).to(self.device))
        if not labels:
            return None, None
        logits, target = torch.cat(logits_all), torch.cat(labels)
        return float(loss_fn(logits, target)), float((logits.argmax(1) == target).float().mean())

    def best(self) -> tuple[dict[str, np.ndarray], HeadModel] | None:
        """(backbone state dict, head) of the best epoch so far; None before the first epoch ends."""
        return best_parts(self._best_state)


def train_mode(model) -> None:
    """Training mode for dropout, but BatchNorm keeps its ImageNet statistics: small batches would
    otherwise replace them with noisy estimates and undo much of the pretraining."""
    from torch import nn

    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def best_parts(state: dict | None) -> tuple[dict[str, np.ndarray], HeadModel] | None:
    """A fine-tuned network's kept state as (backbone state dict as arrays, head); None when nothing was kept."""
    if state is None:
        return None
    backbone, head = split_tensors(state)
    return ({k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in backbone.items()},
            HeadModel.from_state(head))

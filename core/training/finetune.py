"""Fine-tuning: the backbone (or its last blocks) trained together with the head, at a low learning rate,
on randomly augmented images (crop/zoom, flip, rotation, contrast). GPU when present, mixed precision on
CUDA. The input size is the run's (core.models.backbones.fit_to_images: small images train at a small size, which
keeps fine-tuning affordable on a CPU)."""
from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np

from core.models.backbones import BackboneSpec, Preprocessing
from core.features.embedder import cpu_threads
from core.events import Notice, Progress
from core.models.heads import EpochEnded, HeadModel, class_weights, epoch_seed
from core.images.decode import ImageError
from core.models.preprocessing import load_preprocessed

FINE_TUNE_PHASE = "fine-tune"
PROGRESS_PHASE = "Fine-tuning"
# Decoded training images are kept in memory (float16) up to this size; beyond it they are decoded again
# each epoch.
CACHE_BYTES = 1_500_000_000
WARMUP_FRACTION = 0.1


@dataclass(frozen=True)
class FineTuneConfig:
    epochs: int = 10
    lr: float = 1e-4  # backbone: low, so that the pretrained features are adjusted, not overwritten
    head_lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    # Epochs without a lower validation loss before stopping; None: all epochs (the learning rate decays to
    # zero over them, and the last epochs are often the best; the best epoch is kept either way).
    patience: int | None = None
    unfreeze_blocks: int | None = None  # train the last N backbone blocks; None: all of them
    augment: bool = True
    flip: bool = True  # turn off for images whose mirror image means something else (text, digits)
    max_rotation: float = 10.0  # degrees
    max_zoom: float = 0.15  # random crops keep at least 1 - max_zoom of the side
    contrast: float = 0.2
    mixed_precision: bool = True  # CUDA only

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
    """Preprocessed training images by index, decoded in threads; cached in memory when they fit."""

    def __init__(self, paths: list[Path], prep: Preprocessing):
        self.paths, self.prep = paths, prep
        size = prep.input_size
        fits = len(paths) * 3 * size * size * 2 <= CACHE_BYTES
        self._cache = np.zeros((len(paths), 3, size, size), np.float16) if fits else None
        self._loaded = np.zeros(len(paths), bool)
        self.failed: dict[int, str] = {}
        self._reported = 0
        self._pool = ThreadPoolExecutor(max(1, cpu_threads()), thread_name_prefix="finetune-decode")

    def get(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(float32 batch, the indices it holds): images that fail to decode are left out (see .failed)."""
        wanted = [i for i in indices if i not in self.failed]
        todo = [i for i in wanted if self._cache is None or not self._loaded[i]]
        arrays = dict(zip(todo, self._pool.map(self._load, todo)))
        kept, batch = [], []
        for i in wanted:
            array = arrays.get(i)
            if array is None and i in todo:
                continue  # just failed
            if array is None:
                array = self._cache[i]
            elif self._cache is not None:
                self._cache[i], self._loaded[i] = array, True
            kept.append(i)
            batch.append(array)
        size = self.prep.input_size
        stacked = np.stack(batch).astype(np.float32) if batch else np.zeros((0, 3, size, size), np.float32)
        return stacked, np.asarray(kept, dtype=np.int64)

    def _load(self, index: int) -> np.ndarray | None:
        try:
            return load_preprocessed(self.paths[index], self.prep)[0]
        except (ImageError, OSError) as error:
            self.failed[index] = str(error)
            return None

    def new_failures(self) -> list[Notice]:
        """A Notice for each image that failed to decode since the last call."""
        fresh = list(self.failed.items())[self._reported:]
        self._reported += len(fresh)
        return [Notice(f"{self.paths[i]}: {reason} (skipped)") for i, reason in fresh]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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
    """Trains backbone + head end to end. `epochs()` yields Progress per batch, Notices, and EpochEnded per
    epoch; `best()` returns the weights with the lowest validation loss so far (also after a cancel)."""

    def __init__(self, spec: BackboneSpec, head: HeadModel, train: list[tuple[Path, int]],
                 val: list[tuple[Path, int]], n_classes: int, config: FineTuneConfig, seed: int, device: str,
                 weights_path=None, dropout: float = 0.5, class_weighting: bool = True):
        self.spec, self.head, self.config, self.seed, self.device = spec, head, config, seed, device
        self.n_classes, self.weights_path, self.dropout = n_classes, weights_path, dropout
        self.train_images = _Images([p for p, _ in train], spec.preprocessing)
        self.val_images = _Images([p for p, _ in val], spec.preprocessing)
        self.y_train = np.array([c for _, c in train], np.int64)
        self.y_val = np.array([c for _, c in val], np.int64)
        weights = class_weights(self.y_train, n_classes) if class_weighting else np.ones(n_classes, np.float32)
        self.class_weights = weights
        self.best_epoch = 0
        self.best_val_loss: float | None = None
        self.best_val_acc: float | None = None
        self.epochs_run = 0
        self._best_state = None

    def epochs(self) -> Iterator[Progress | Notice | EpochEnded]:
        import torch

        cfg = self.config
        torch.manual_seed(epoch_seed(self.seed, 0))
        model = self._model().to(self.device)
        extractor = model[0]
        backbone_params = [p for p in extractor.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(
            [{"params": backbone_params, "lr": cfg.lr}, {"params": model[1].parameters(), "lr": cfg.head_lr}],
            weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(self.y_train) / cfg.batch_size))
        total_steps = max(1, steps_per_epoch * cfg.epochs)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: lr_factor(step, total_steps))
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(self.class_weights).to(self.device))
        amp = self.device.startswith("cuda") and cfg.mixed_precision
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        since_best, durations = 0, []
        try:
            for epoch in range(1, cfg.epochs + 1):
                started = time.perf_counter()
                rng = np.random.default_rng([self.seed, epoch])
                order = rng.permutation(len(self.y_train))
                seen, loss_sum, correct = 0, 0.0, 0
                _train_mode(model)
                for step, start in enumerate(range(0, len(order), cfg.batch_size)):
                    batch, kept = self.train_images.get(order[start : start + cfg.batch_size])
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
                    yield Progress(PROGRESS_PHASE, min(start + cfg.batch_size, len(order)), len(order),
                                   f"epoch {epoch}/{cfg.epochs}")
                val_loss, val_acc = self._evaluate(model, loss_fn, amp)
                yield from self.val_images.new_failures()
                durations.append(time.perf_counter() - started)
                self.epochs_run = epoch
                if val_loss is None or self.best_val_loss is None or val_loss < self.best_val_loss:
                    self.best_epoch, self.best_val_loss, self.best_val_acc = epoch, val_loss, val_acc
                    self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                    since_best = 0
                else:
                    since_best += 1
                stopping = cfg.patience is not None and val_loss is not None and since_best >= cfg.patience
                seconds = durations[-1]
                yield EpochEnded(FINE_TUNE_PHASE, epoch, loss_sum / max(seen, 1), correct / max(seen, 1),
                                 val_loss, val_acc, images_per_s=seen / max(seconds, 1e-9),
                                 eta_s=0.0 if stopping else (cfg.epochs - epoch) * float(np.mean(durations)),
                                 seconds=seconds)
                if stopping:
                    break
        finally:
            self.train_images.close()
            self.val_images.close()

    def _model(self):
        import torch

        from core.models.backbone_nets import build_feature_extractor

        extractor = build_feature_extractor(self.spec, self.weights_path)
        blocks = extractor.blocks
        count = len(blocks) if self.config.unfreeze_blocks is None else min(self.config.unfreeze_blocks, len(blocks))
        for block in list(blocks)[len(blocks) - count:]:
            block.requires_grad_(True)
        return torch.nn.Sequential(extractor, self.head.to_module(dropout=self.dropout))

    def _evaluate(self, model, loss_fn, amp: bool) -> tuple[float | None, float | None]:
        import torch

        if len(self.y_val) == 0:
            return None, None
        model.eval()
        logits_all, labels = [], []
        with torch.no_grad():
            for start in range(0, len(self.y_val), 2 * self.config.batch_size):
                batch, kept = self.val_images.get(np.arange(start, min(start + 2 * self.config.batch_size,
                                                                       len(self.y_val))))
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
        if self._best_state is None:
            return None
        backbone = {k[len("0."):]: v.float().numpy() if v.is_floating_point() else v.numpy()
                    for k, v in self._best_state.items() if k.startswith("0.")}
        head_net = self.head.to_module()
        head_net.load_state_dict({k[len("1."):]: v.float() for k, v in self._best_state.items() if k.startswith("1.")})
        return backbone, HeadModel.from_module(head_net)


def _train_mode(model) -> None:
    """Training mode for dropout, but BatchNorm keeps its ImageNet statistics: small batches would
    otherwise replace them with noisy estimates and undo much of the pretraining."""
    from torch import nn

    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()

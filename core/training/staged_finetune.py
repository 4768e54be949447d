"""Fine-tuning on a CPU in minutes: the early blocks stay frozen and run once per cached view, the last
blocks and the head train on what they output.

A whole-network step spends most of its time in the early, high-resolution blocks, whose weights fine-tuning
barely moves. So the network is cut (core.training.network_split): the frozen prefix runs once over K views of
each training image (the plain one and K-1 random crops, turns, flips and contrast changes), its outputs are
kept in the project store (core.training.prefix_views), and every epoch trains only the suffix on them, in
channels_last memory order. With a deadline the cut, K and the epochs are planned from costs measured on a
handful of images first (core.training.stage_plan); without one the last DEFAULT_BLOCKS blocks train for the
configured epochs. Same interface as FineTuner (`epochs()`, `best()`, `stopping`), plus `plan` once it is
made."""
from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np

from core.events import Notice, Progress
from core.models.backbones import BackboneSpec
from core.models.early_stopping import EarlyStopping
from core.models.heads import EpochEnded, HeadModel, class_weights, epoch_seed
from core.models.preprocessing import preprocessed_or_reason
from core.training.finetune import (CACHE_BYTES, FINE_TUNE_PHASE, PROGRESS_PHASE, FineTuneConfig, best_parts,
                                    lr_factor, train_mode)
from core.training.network_split import Cut, Suffix, all_pieces, candidate_cuts, rows_at_every_cut, trained_pieces
from core.training.prefix_views import PREPARE_PHASE, PrefixViews
from core.training.mirror_check import mirror_averaging_pays
from core.training.stage_plan import CutCost, StagePlan, choose

DEFAULT_BLOCKS = 3  # without a budget: for EfficientNet-Lite0 its last two stages and the head convolution
# Images the plan's steps are timed on: a realistic batch (the default batch size), as a step's cost per image
# falls with the batch; steps on 4 images made the plan swing from the last block to 12 of 18 on a busy machine.
_SAMPLE = 32
_TIMED_STEPS = 3  # the median of these, after one that warms up
_GROW_MARGIN = 0.15  # re-planned to more epochs only when they fit this much faster than measured
# A re-plan is told when the epochs changed this much since the last one told, and not again before this share
# of the time left has passed (the bar's end follows every one): on tiny projects the count moved by one nearly
# every epoch, 177 lines for a 30 s run; on a busy machine it swung by 10 % every few seconds, 14 lines in 45 s.
_TOLD_CHANGE = 0.1
_TOLD_EVERY = 0.1
_RETIMINGS = 2  # steps timed at a newly chosen cut before the plan is taken as it stands
_EVAL_BATCH = 64  # cached rows a validation forward pass takes
# The trained blocks' learning rate, ten times the whole network's (finetune.WHOLE_NETWORK_LR): only the last,
# low-resolution blocks train, for the few epochs a budget leaves, and at 1e-4 they barely left the pretrained
# weights. The last 5 of 9 blocks trained for 10 epochs on cached views, test accuracy by learning rate
# (benchmarks/bench_finetune_lr.py and its ad hoc forerunner): jittered animal silhouettes 1e-4 0.864,
# 3e-4 0.896, 6e-4 0.920, 1e-3 0.923, 2e-3 0.926, 4e-3 0.916; grey textures 1e-4 0.858, 1e-3 0.859, 2e-3 0.850.
STAGED_LR = 1e-3
# A training step against a forward pass of the same blocks: the prefix's first guess when the embedding pace
# is unknown (then measured).
_STEP_OVER_FORWARD = 3.0


class StagedFineTuner:
    def __init__(self, spec: BackboneSpec, head: HeadModel, train: list[tuple[Path, int, str]],
                 val: list[tuple[Path, int, str]], n_classes: int, config: FineTuneConfig, seed: int,
                 store_dir: Path, weights_path=None, dropout: float = 0.5, class_weighting: bool = True,
                 deadline: float | None = None, cap_bytes: int = CACHE_BYTES, embed_s: float | None = None,
                 clock=time.perf_counter):
        self.spec, self.head, self.config, self.seed = spec, head, config, seed
        self.n_classes, self.weights_path, self.dropout = n_classes, weights_path, dropout
        self.store_dir, self.deadline, self.cap_bytes = Path(store_dir), deadline, cap_bytes
        self.embed_s = embed_s  # seconds per image of the whole extractor in ONNX Runtime, if measured
        self._clock = clock  # what `deadline` is read against (a test's fake one makes steps slow)
        self.train_items, self.val_items = list(train), list(val)
        self.class_weighting = class_weighting
        self.stopping = EarlyStopping(config.patience)
        self.plan: StagePlan | None = None
        # The figures validation decided mirror averaging on, and the choice ("chosen"); None: not measured.
        self.flip_check: dict | None = None
        self._best_state = None
        self._views: PrefixViews | None = None  # made with the network, in epochs()
        self._sample_rows = None  # the prefix's rows of the timing sample, at every cut

    # -- the run ---------------------------------------------------------------------------------------------

    def epochs(self) -> Iterator[Progress | Notice | EpochEnded]:
        import torch

        from core.models.backbone_nets import build_feature_extractor
        from core.models.classifier import Classifier

        torch.manual_seed(epoch_seed(self.seed, 0))
        extractor = build_feature_extractor(self.spec, self.weights_path)
        model = Classifier(extractor, self.head.to_module(dropout=self.dropout))
        model.to(memory_format=torch.channels_last)
        yield Progress(PREPARE_PHASE, 0, None, "timing a few steps" if self.deadline else "")
        # Its layout runs the network once: after the Progress, which the window shows at once.
        self._views = PrefixViews(self.spec, self.config, self.store_dir, self.weights_path, extractor,
                                  self.train_items, self.val_items)
        plan = self._plan(extractor, model)
        if plan is None:
            yield Notice("No time is left in the budget for fine-tuning; the head's model is kept.")
            return
        self.plan = plan
        yield Notice(f"Fine-tuning {plan.describe()}.")
        suffix = Suffix(extractor, plan.cut, self._views.layout.shapes[plan.cut])
        train_rows, val_rows, val_mirrored = yield from self._views.rows(plan.cut, plan.views)
        yield from self._views.failures()
        if train_rows is None:
            return
        yield from self._train(model, suffix, plan, train_rows, val_rows)
        if val_mirrored is not None and self._best_state is not None:
            self._choose_test_time_flip(model, suffix, val_rows, val_mirrored)

    def _train(self, model, suffix, plan: StagePlan, train_rows, val_rows) -> Iterator[object]:
        import torch

        cfg, (x_train, y_train), (x_val, y_val) = self.config, train_rows, val_rows
        for module in suffix.pieces:
            module.requires_grad_(True)
        for index in range(plan.cut.block + 1, len(model.backbone.blocks)):
            model.backbone.blocks[index].requires_grad_(True)
        optimiser = torch.optim.AdamW(
            [{"params": suffix.trainable(), "lr": STAGED_LR if cfg.lr is None else cfg.lr},
             {"params": model.head.parameters(), "lr": cfg.head_lr}],
            weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(y_train) / cfg.batch_size))
        if self.deadline is not None:  # the epochs again, from real steps now that the cache is built
            plan = self.plan = self._replanned(model, suffix, plan, x_train, len(y_val), steps_per_epoch)
            yield Notice(f"Fine-tuning: {plan.epochs} epoch{'s' if plan.epochs != 1 else ''} fit in the time "
                         "left, from the pace of the first steps.")
        total_steps = [steps_per_epoch * plan.epochs]  # shortened (or lengthened) when the epochs are re-planned
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: lr_factor(step, total_steps[0]))
        weights = class_weights(y_train, self.n_classes) if self.class_weighting else np.ones(self.n_classes,
                                                                                              np.float32)
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weights))
        offsets = np.random.default_rng([self.seed, 0]).integers(0, plan.views, len(y_train))
        stopping, durations, starts, n = self.stopping, [], [], len(y_train)
        epoch, announced, told_at = 0, plan.epochs, self._clock()
        quiet_s = (self.deadline - told_at) * _TOLD_EVERY if self.deadline is not None else 0.0
        while epoch < plan.epochs:
            epoch += 1
            starts.append(self._clock())
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(n)
            views = (offsets + epoch - 1) % plan.views  # each image goes through its views in turn
            seen, loss_sum, correct, late = 0, 0.0, 0, False
            train_mode(model)
            for step, start in enumerate(range(0, n, cfg.batch_size)):
                index = order[start:start + cfg.batch_size]
                torch.manual_seed(epoch_seed(self.seed, epoch, step + 1))  # dropout
                x = torch.from_numpy(x_train[index, views[index]].astype(np.float32))
                y = torch.from_numpy(y_train[index])
                loss, hits = self._step(model, suffix, loss_fn, optimiser, x, y)
                schedule.step()
                loss_sum += loss * len(index)
                correct += hits
                seen += len(index)
                yield Progress(PROGRESS_PHASE, (epoch - 1) * n + seen, plan.epochs * n, f"epoch {epoch}/{plan.epochs}")
                if self._past_deadline():  # the last resort: re-planning after each epoch should prevent it
                    late = True
                    break
            val_loss, val_acc = self._evaluate(model, suffix, loss_fn, x_val, y_val)
            durations.append(self._clock() - starts[-1])
            if stopping.update(epoch, val_loss, val_acc):
                self._best_state = {k: v.detach().to("cpu", copy=True).contiguous()
                                    for k, v in model.state_dict().items()}
            if self.deadline is not None and not late:
                fit = self._epochs_that_fit(epoch, plan.epochs, durations, starts)
                if fit != plan.epochs:
                    plan = replace(plan, epochs=fit, first_epochs=plan.first_epochs or plan.epochs)
                    total_steps[0] = steps_per_epoch * fit
                    if (abs(fit - announced) >= max(1.0, _TOLD_CHANGE * announced)
                            and self._clock() - told_at >= quiet_s):
                        yield Notice(f"Fine-tuning re-planned at the pace of its epochs so far: {fit} epochs fit "
                                     f"the time budget, not {announced}.")
                        announced, told_at = fit, self._clock()
                    yield Progress(PROGRESS_PHASE, epoch * n, fit * n, f"epoch {epoch}/{fit}")  # the bar's new end
            plan = self.plan = replace(plan, epochs_run=epoch)
            mean = float(np.mean(durations))
            last = stopping.should_stop or late or epoch >= plan.epochs
            yield EpochEnded(FINE_TUNE_PHASE, epoch, loss_sum / max(seen, 1), correct / max(seen, 1), val_loss,
                             val_acc, images_per_s=seen / max(durations[-1], 1e-9),
                             eta_s=0.0 if last else (plan.epochs - epoch) * mean, seconds=durations[-1],
                             planned=plan.epochs)
            if late:
                yield Notice(f"Fine-tuning stopped during epoch {epoch} of {plan.epochs} to keep within the time "
                             "budget (this computer ran slower than measured).")
            if last:
                break

    def _step(self, model, suffix, loss_fn, optimiser, x, y) -> tuple[float, int]:
        """One training step on a batch of cached rows: (its loss, how many it got right)."""
        logits = model.head(suffix(x, channels_last=True))
        loss = loss_fn(logits, y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.item(), int((logits.argmax(1) == y).sum())

    def _epochs_that_fit(self, done: int, planned: int, durations: list[float], starts: list[float]) -> int:
        """How many epochs in all (up to the configured most, at least the `done` ones) end before the deadline
        at the pace measured so far: fewer than `planned` as soon as they do not fit, more only when they fit
        with _GROW_MARGIN to spare (a plan that changes back and forth with every epoch's noise says
        nothing). An epoch's cost is its own time plus what happens between epochs (the caller saves the best
        model), known from the second epoch on; the slower of the last and the median epoch is assumed, since a
        busy computer slows down in stretches."""
        cycles = [b - a for a, b in zip(starts, starts[1:])]
        between = max(0.0, float(np.median([c - d for c, d in zip(cycles, durations)]))) if cycles else 0.0
        pace = max(durations[-1], float(np.median(durations))) + between
        left = self.deadline - self._clock() - between  # the save after this epoch comes first
        fit = done + int(left // max(pace, 1e-9))
        if fit > planned:
            fit = max(planned, done + int(left // max(pace * (1 + _GROW_MARGIN), 1e-9)))
        return max(done, min(self.config.epochs, fit))

    def _replanned(self, model, suffix, plan: StagePlan, x_train, n_val: int, steps_per_epoch: int) -> StagePlan:
        """The plan with as many epochs (up to the configured most) as fit before the deadline at the pace
        of real training steps on real rows, timed here (the median of a few; the weights do not change)."""
        import torch

        rows = torch.from_numpy(x_train[: self.config.batch_size, 0].astype(np.float32))
        step_s = self._median_step_s(model, suffix, rows)
        epoch_s = step_s * (steps_per_epoch * self.config.batch_size + n_val / 3)
        left = (self.deadline - self._clock()) * 0.9
        epochs = max(1, min(self.config.epochs, int(left // max(epoch_s, 1e-9))))
        return replace(plan, epochs=epochs)

    def _median_step_s(self, model, suffix, rows) -> float:
        """Seconds per image of a forward and backward pass of `suffix` and the head on `rows`: the median of
        _TIMED_STEPS after one that warms up. Gradients are left cleared, the weights as they were."""
        train_mode(model)
        seconds = []
        for _ in range(1 + _TIMED_STEPS):
            started = self._clock()
            model.head(suffix(rows, channels_last=True)).logsumexp(1).mean().backward()
            seconds.append(self._clock() - started)
        model.zero_grad(set_to_none=True)
        return float(np.median(seconds[1:])) / len(rows)

    def _evaluate(self, model, suffix, loss_fn, x_val, y_val) -> tuple[float | None, float | None]:
        import torch

        if len(y_val) == 0:
            return None, None
        logits, target = self._logits(model, suffix, x_val), torch.from_numpy(y_val)
        return float(loss_fn(logits, target)), float((logits.argmax(1) == target).float().mean())

    def _logits(self, model, suffix, rows: np.ndarray):
        import torch

        model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(rows), _EVAL_BATCH):
                batch = torch.from_numpy(rows[start:start + _EVAL_BATCH].astype(np.float32))
                out.append(model.head(suffix(batch, channels_last=True)))
        return torch.cat(out)

    def _choose_test_time_flip(self, model, suffix, val_rows, val_mirrored) -> None:
        """Whether the best epoch's model should classify each image as the mean of its and its mirror
        image's probabilities (see mirror_averaging_pays). Sets .flip_check (the figures it was decided on, and
        the choice)."""
        import torch

        x_val, y_val = val_rows
        if len(y_val) == 0:
            return
        model.load_state_dict(self._best_state)
        target = torch.from_numpy(y_val)
        plain = torch.softmax(self._logits(model, suffix, x_val), 1)
        both = (plain + torch.softmax(self._logits(model, suffix, val_mirrored), 1)) / 2

        def scores(probabilities) -> tuple[float, float]:
            picked = probabilities[torch.arange(len(target)), target].clamp_min(1e-12)
            return float((probabilities.argmax(1) == target).float().mean()), float(-picked.log().mean())

        (plain_acc, plain_loss), (both_acc, both_loss) = scores(plain), scores(both)
        self.flip_check = {"val_acc": plain_acc, "val_acc_with_flip": both_acc, "val_loss": plain_loss,
                           "val_loss_with_flip": both_loss,
                           "chosen": mirror_averaging_pays(plain_acc, plain_loss, both_acc, both_loss)}

    @property
    def test_time_flip(self) -> bool:
        """Whether the kept model averages each image with its mirror image, as validation decided."""
        return bool(self.flip_check and self.flip_check["chosen"])

    def _past_deadline(self) -> bool:
        return self.deadline is not None and self._clock() > self.deadline

    def best(self) -> tuple[dict[str, np.ndarray], HeadModel] | None:
        """(backbone state dict, head) of the best epoch so far; None before the first epoch ends."""
        return best_parts(self._best_state)

    # -- planning --------------------------------------------------------------------------------------------

    def _plan(self, extractor, model) -> StagePlan | None:
        """Without a deadline: the configured (or default) blocks. With one: step costs at every cut scaled
        by multiply-adds from one timed step, prefix costs from the embedding pace (or, unknown, a timed run
        of the prefix in ONNX Runtime); then the chosen cut's own step timed, and chosen again with that."""
        lay = self._views.layout
        n_train, n_val = len(self.train_items), len(self.val_items)
        fixed = self.config.unfreeze_blocks is not None or self.deadline is None
        if fixed:
            cuts = [Cut(max(1, len(extractor.blocks) - (self.config.unfreeze_blocks or DEFAULT_BLOCKS)))]
        else:
            first = max(1, min(index for index, _ in extractor.taps))
            cuts = list(reversed(candidate_cuts(extractor, first)))  # shallowest (cheapest) first
        costs = [CutCost(c, trained_pieces(extractor, c), 0.0, 0.0, lay.rows[c], self._views.cached_share(c))
                 for c in cuts]

        def plan_for(options):
            left = None if self.deadline is None else self.deadline - self._clock()
            return choose(options, all_pieces(extractor), n_train, n_val, self.config.epochs, left, self.cap_bytes,
                          None if self.config.augment else 1)

        if self.deadline is None:
            return plan_for(costs)
        sample = self._sample()
        if sample is None:
            return None
        reference = cuts[0]  # the cheapest cut to time: planning costs seconds of the budget too
        step_per_mac = self._timed_step(extractor, model, reference, sample) / max(1, lay.macs_after(reference))
        view_per_mac = self.embed_s / max(1, lay.macs_total) if self.embed_s else step_per_mac / _STEP_OVER_FORWARD
        costs = [replace(c, step_s=step_per_mac * lay.macs_after(c.cut), view_s=view_per_mac * lay.macs_before[c.cut])
                 for c in costs]
        if not self.embed_s:  # the prefix's pace unknown: timed at the cut the first plan takes
            first_plan = plan_for(costs)
            if first_plan is not None:
                at = next(c for c in costs if c.cut == first_plan.cut)
                factor = self._timed_prefix(at.cut, sample) / max(at.view_s, 1e-12)
                costs = [replace(c, view_s=c.view_s * factor) for c in costs]
        timed: set[Cut] = {reference}
        plan = plan_for(costs)
        for _ in range(_RETIMINGS):  # the chosen cut's own step, until the choice settles
            if plan is None or plan.cut in timed:
                break
            cost = next(c for c in costs if c.cut == plan.cut)
            factor = self._timed_step(extractor, model, plan.cut, sample) / max(cost.step_s, 1e-12)
            timed.add(plan.cut)
            costs = [c if c.cut in timed - {plan.cut} else replace(c, step_s=c.step_s * factor) for c in costs]
            plan = plan_for(costs)
        return plan

    def _timed_prefix(self, cut: Cut, sample: np.ndarray) -> float:
        """Seconds per image of the prefix in ONNX Runtime (the second of two runs: the first warms up)."""
        self._views.prefix_rows(cut, sample)
        started = self._clock()
        self._views.prefix_rows(cut, sample)
        return (self._clock() - started) / len(sample)

    def _timed_step(self, extractor, model, cut: Cut, sample: np.ndarray) -> float:
        """Seconds per image of a training step at `cut` on the sample (a median, see _median_step_s); the
        weights are left as they were."""
        import torch

        if self._sample_rows is None:
            self._sample_rows = rows_at_every_cut(extractor, torch.from_numpy(sample))
        suffix = Suffix(extractor, cut, self._views.layout.shapes[cut])
        params = suffix.trainable() + list(model.head.parameters())
        saved = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(True)
        seconds = self._median_step_s(model, suffix, self._sample_rows[cut])
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)
        model.eval()
        return seconds

    def _sample(self) -> np.ndarray | None:
        arrays = []
        for path, _, _ in self.train_items:
            loaded = preprocessed_or_reason(path, self.spec.preprocessing)
            if not isinstance(loaded, str):
                arrays.append(loaded[0])
            if len(arrays) == min(_SAMPLE, self.config.batch_size):
                break
        return np.stack(arrays) if arrays else None

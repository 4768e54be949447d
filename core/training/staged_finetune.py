"""Fine-tuning on a CPU in minutes: the early blocks stay frozen and run once per cached view, the last
blocks and the head train on what they output.

A whole-network step spends most of its time in the early, high-resolution blocks, whose weights fine-tuning
barely moves. So the network is cut (core.training.network_split): the frozen prefix runs in ONNX Runtime
(several times faster than torch eager here) over K views of each training image (the plain one and K-1
random crops, turns, flips and contrast changes, decided by the image's content and the view number), its
outputs are kept in the project store (core.training.activation_cache: reused by the next run), and every
epoch trains only the suffix on them, in channels_last memory order. With a deadline the cut, K and the epochs
are planned from costs measured on a handful of images first (core.training.stage_plan); without one the
last DEFAULT_BLOCKS blocks train for the configured epochs. Same interface as FineTuner (`epochs()`,
`best()`, `stopping`), plus `plan` once it is made."""
from __future__ import annotations

import hashlib
import math
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np

from core.events import Notice, Progress
from core.images.decode_ahead import decode_ahead
from core.models.backbones import BackboneSpec, cache_dir, weights_identity
from core.models.early_stopping import EarlyStopping
from core.models.heads import EpochEnded, HeadModel, class_weights, epoch_seed
from core.models.preprocessing import preprocessed_or_reason
from core.training.activation_cache import ActivationCache
from core.training.finetune import (CACHE_BYTES, FINE_TUNE_PHASE, PROGRESS_PHASE, FineTuneConfig, augment, best_parts,
                                    lr_factor, train_mode)
from core.training.network_split import (Cut, Layout, Prefix, Suffix, all_pieces, candidate_cuts, layout,
                                         rows_at_every_cut, trained_pieces)
from core.training.stage_plan import CutCost, StagePlan, choose

PREPARE_PHASE = "Preparing fine-tuning"
DEFAULT_BLOCKS = 3  # without a budget: for EfficientNet-Lite0 its last two stages and the head convolution
# Images the plan's steps are timed on: a realistic batch (the default batch size), as a step's cost per image
# falls with the batch; steps on 4 images made the plan swing from the last block to 12 of 18 on a busy machine.
_SAMPLE = 32
_TIMED_STEPS = 3  # the median of these, after one that warms up
# The view of a validation image that decides whether classifying averages each image with its mirror image.
MIRRORED = -1
_GROW_MARGIN = 0.15  # re-planned to more epochs only when they fit this much faster than measured
_RETIMINGS = 2  # steps timed at a newly chosen cut before the plan is taken as it stands
_BATCH = 32  # images a prefix run takes
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
        self._failed: dict[Path, str] = {}
        self._sessions: dict[Cut, object] = {}  # ONNX Runtime sessions of the prefix, by cut
        self._layouts: Layout | None = None
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
        plan = self._plan(extractor, model)
        if plan is None:
            yield Notice("No time is left in the budget for fine-tuning; the head's model is kept.")
            return
        self.plan = plan
        yield Notice(f"Fine-tuning {plan.describe()}.")
        suffix = Suffix(extractor, plan.cut, self._layout(extractor).shapes[plan.cut])
        train_rows, val_rows, val_mirrored = yield from self._cached_rows(extractor, plan)
        yield from self._report_failures()
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
        epoch = 0
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
                    before = plan.epochs
                    plan = replace(plan, epochs=fit, first_epochs=plan.first_epochs or plan.epochs)
                    total_steps[0] = steps_per_epoch * fit
                    yield Notice(f"Fine-tuning re-planned at the pace of its epochs so far: {fit} epochs fit the "
                                 f"time budget, not {before}.")
                    yield Progress(PROGRESS_PHASE, epoch * n, fit * n, f"epoch {epoch}/{fit}")  # the bar's new end
            plan = self.plan = replace(plan, epochs_run=epoch)
            mean = float(np.mean(durations))
            last = stopping.should_stop or late or epoch >= plan.epochs
            yield EpochEnded(FINE_TUNE_PHASE, epoch, loss_sum / max(seen, 1), correct / max(seen, 1), val_loss,
                             val_acc, images_per_s=seen / max(durations[-1], 1e-9),
                             eta_s=0.0 if last else (plan.epochs - epoch) * mean, seconds=durations[-1])
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
            for start in range(0, len(rows), 2 * _BATCH):
                batch = torch.from_numpy(rows[start:start + 2 * _BATCH].astype(np.float32))
                out.append(model.head(suffix(batch, channels_last=True)))
        return torch.cat(out)

    def _choose_test_time_flip(self, model, suffix, val_rows, val_mirrored) -> None:
        """Whether the best epoch's model should classify each image as the mean of its and its mirror
        image's probabilities: only when that is more accurate on the validation images, at no higher loss,
        since it runs the network twice per image (classifying at half the speed). Sets .flip_check (the
        figures it was decided on, and the choice)."""
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
                           "val_loss_with_flip": both_loss, "chosen": both_acc > plain_acc and both_loss <= plain_loss}

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
        lay = self._layout(extractor)
        n_train, n_val = len(self.train_items), len(self.val_items)
        fixed = self.config.unfreeze_blocks is not None or self.deadline is None
        if fixed:
            cuts = [Cut(max(1, len(extractor.blocks) - (self.config.unfreeze_blocks or DEFAULT_BLOCKS)))]
        else:
            first = max(1, min(index for index, _ in extractor.taps))
            cuts = list(reversed(candidate_cuts(extractor, first)))  # shallowest (cheapest) first
        costs = [CutCost(c, trained_pieces(extractor, c), 0.0, 0.0, lay.rows[c], self._cached_share(c))
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
                factor = self._timed_prefix(extractor, at.cut, sample) / max(at.view_s, 1e-12)
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

    def _timed_prefix(self, extractor, cut: Cut, sample: np.ndarray) -> float:
        """Seconds per image of the prefix in ONNX Runtime (the second of two runs: the first warms up)."""
        self._prefix_rows(extractor, cut, sample)
        started = self._clock()
        self._prefix_rows(extractor, cut, sample)
        return (self._clock() - started) / len(sample)

    def _timed_step(self, extractor, model, cut: Cut, sample: np.ndarray) -> float:
        """Seconds per image of a training step at `cut` on the sample (a median, see _median_step_s); the
        weights are left as they were."""
        import torch

        if self._sample_rows is None:
            self._sample_rows = rows_at_every_cut(extractor, torch.from_numpy(sample))
        suffix = Suffix(extractor, cut, self._layout(extractor).shapes[cut])
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

    # -- the cache -------------------------------------------------------------------------------------------

    def _key(self, cut: Cut) -> str:
        from core.features.cache import model_key

        c = self.config
        views = f"aug{int(c.augment)}-f{int(c.flip)}-r{c.max_rotation}-z{c.max_zoom}-c{c.contrast}"
        return f"{model_key(self.spec, self.weights_path)}|cut{cut.block}.{cut.unit}|{views}|v1"

    def _layout(self, extractor) -> Layout:
        if self._layouts is None:
            self._layouts = layout(extractor, self.spec.preprocessing.input_size)
        return self._layouts

    def _cache(self, cut: Cut) -> ActivationCache:
        return ActivationCache(self.store_dir, self._key(cut), self._layouts.rows[cut])

    def _cached_share(self, cut: Cut) -> float:
        cache = self._cache(cut)
        pairs = [(h, 0) for _, _, h in self.train_items + self.val_items]
        return sum(cache.has(h, v) for h, v in pairs) / max(1, len(pairs))

    def _cached_rows(self, extractor, plan: StagePlan):
        """Generator: computes the missing views (Progress), then returns ((train rows [N, K, row], labels),
        (validation rows [M, row], labels), the validation images' mirror images' rows or None when mirroring
        is not allowed); (None, ..) when no training image could be read."""
        cache = self._cache(plan.cut)
        mirror = self.config.flip and self.config.test_time_flip
        val_views = [0, MIRRORED] if mirror else [0]
        wanted = [(i, list(range(plan.views))) for i in range(len(self.train_items))]
        wanted += [(len(self.train_items) + i, val_views) for i in range(len(self.val_items))]
        items = self.train_items + self.val_items
        todo = [(i, [v for v in views if not cache.has(items[i][2], v)]) for i, views in wanted]
        todo = [(i, views) for i, views in todo if views]
        total = sum(len(views) for _, views in todo)
        if todo:
            session = self._session(extractor, plan.cut)
            done = 0
            yield Progress(PREPARE_PHASE, 0, total, f"{plan.views} view(s) per image", unit="views")
            pending_pairs, pending_arrays = [], []
            stream = decode_ahead(lambda item: self._views(items[item[0]], item[1]), todo, 2 * _BATCH,
                                  "finetune-decode")
            with closing(stream):
                for position, ((i, views), arrays) in enumerate(stream):
                    if isinstance(arrays, str):
                        self._failed[items[i][0]] = arrays
                    else:
                        pending_pairs += [(items[i][2], v) for v in views]
                        pending_arrays += arrays
                    if len(pending_arrays) >= _BATCH or (position == len(todo) - 1 and pending_arrays):
                        rows = session.run(None, {session.get_inputs()[0].name: np.stack(pending_arrays)})[0]
                        cache.add(pending_pairs, rows)
                        done += len(pending_arrays)
                        pending_pairs, pending_arrays = [], []
                        yield Progress(PREPARE_PHASE, done, total, f"{plan.views} view(s) per image", unit="views")
        keep_train = [i for i, (p, _, h) in enumerate(self.train_items) if p not in self._failed and cache.has(h, 0)]
        keep_val = [i for i, (p, _, h) in enumerate(self.val_items)
                    if p not in self._failed and all(cache.has(h, v) for v in val_views)]
        if not keep_train:
            return None, None, None
        x_train = np.empty((len(keep_train), plan.views, cache.row_size), np.float16)
        for view in range(plan.views):
            cache.read([(self.train_items[i][2], view) for i in keep_train], x_train[:, view])
        x_val = cache.read([(self.val_items[i][2], 0) for i in keep_val])
        y_train = np.array([self.train_items[i][1] for i in keep_train], np.int64)
        y_val = np.array([self.val_items[i][1] for i in keep_val], np.int64)
        x_mirrored = cache.read([(self.val_items[i][2], MIRRORED) for i in keep_val]) if mirror else None
        return (x_train, y_train), (x_val, y_val), x_mirrored

    def _views(self, item: tuple[Path, int, str], views: list[int]) -> list[np.ndarray] | str:
        """In a decoding thread: the inputs of the wanted views of one image, or why it cannot be read."""
        path, _, content_hash = item
        loaded = preprocessed_or_reason(path, self.spec.preprocessing)
        if isinstance(loaded, str):
            return loaded
        return [view_input(loaded[0], content_hash, view, self.config) for view in views]

    def _prefix_rows(self, extractor, cut: Cut, images: np.ndarray) -> np.ndarray:
        session = self._session(extractor, cut)
        return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(images, np.float32)})[0]

    def _session(self, extractor, cut: Cut):
        if cut not in self._sessions:
            from core.features.embedder import onnx_session
            from core.models.onnx_export import export_onnx

            size = self.spec.preprocessing.input_size
            ident = weights_identity(self.spec, self.weights_path)
            path = cache_dir() / "onnx" / f"{self.spec.name}-prefix-b{cut.block}u{cut.unit}-s{size}-{ident}.onnx"
            if not path.exists():
                export_onnx(Prefix(extractor, cut).eval(), size, path, "rows")
            self._sessions[cut] = onnx_session(str(path))
        return self._sessions[cut]

    def _report_failures(self) -> Iterator[Notice]:
        for path, reason in self._failed.items():
            yield Notice(f"{path}: {reason} (skipped)")


def view_input(plain: np.ndarray, content_hash: str, view: int, config: FineTuneConfig) -> np.ndarray:
    """View 0: the plain image; MIRRORED: its mirror image; others: a random crop, turn, flip and contrast
    change decided by the image's content and the view number alone, so that every run (any seed) finds the
    same views in the cache."""
    if view == 0:
        return plain
    if view == MIRRORED:
        return np.ascontiguousarray(plain[..., ::-1])
    import torch

    seed = int.from_bytes(hashlib.blake2b(f"{content_hash}:{view}".encode(), digest_size=8).digest(), "little")
    with torch.no_grad():
        out = augment(torch.from_numpy(plain[None]), np.random.default_rng(seed), config)
    return out[0].numpy()

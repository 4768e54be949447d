"""How much of the network to fine-tune on a CPU, on how many cached views, for how many epochs: chosen from
costs measured on this computer a moment before, so that the run fits its time budget.

The trade: training more blocks learns more, but each step costs more; more cached views per image give
the epochs more variety, but each costs a pass of the frozen part over the training images. The plan takes
the deepest cut that still leaves MIN_EPOCHS epochs, spends up to VIEW_SHARE of the time on extra views
(never more views than epochs: a view no epoch reads is wasted), and fills the rest with epochs."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.training.network_split import Cut

MIN_EPOCHS = 5
MAX_VIEWS = 6
VIEW_SHARE = 0.2
# Each epoch also runs the suffix forward over the validation images: about a third of a training step.
_VAL_FRACTION_OF_STEP = 1 / 3
# Planned time is this share of what is left: the machine may slow down, and each epoch ends with a save.
_SAFETY = 0.9


@dataclass(frozen=True)
class CutCost:
    cut: Cut
    pieces: int  # pieces (blocks or residual blocks) this cut trains
    step_s: float  # seconds per training image per step (forward and backward of the suffix)
    view_s: float  # seconds per image to run the frozen prefix (one view)
    row_size: int  # float16 values the cache holds per view
    cached: float = 0.0  # share of the views this cut needs that an earlier run cached already


@dataclass(frozen=True)
class StagePlan:
    cut: Cut
    pieces: int
    total_pieces: int
    views: int  # per training image (view 0, the plain image, is one of them)
    epochs: int
    row_bytes: int  # what one cached view costs
    cache_bytes: int  # the whole cache this run uses (training views + validation images)
    seconds: float  # expected, for the cache still to compute and all epochs
    budget_s: float | None  # the time this phase had, None without a budget
    # Epochs the plan first set, when the pace of the epochs themselves changed it (None: not changed), and
    # how many have ended.
    first_epochs: int | None = None
    epochs_run: int = 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["cut"] = [self.cut.block, self.cut.unit]
        return data

    def describe(self) -> str:
        text = (f"training the last {self.pieces} of {self.total_pieces} blocks for {self.epochs} epoch"
                f"{'s' if self.epochs != 1 else ''} on {self.views} cached view{'s' if self.views != 1 else ''} "
                f"per image ({self.row_bytes / 1024:,.0f} KB a view, {self.cache_bytes / 2**20:,.0f} MB in all)")
        if self.budget_s is not None:
            text = f"planned to fit {self.budget_s:,.0f} s: " + text
        return text


def expected_seconds(cost: CutCost, views: int, epochs: int, n_train: int, n_val: int) -> float:
    cache = (n_train * views + n_val) * cost.view_s * (1.0 - cost.cached)
    return cache + epochs * epoch_seconds(cost, n_train, n_val)


def epoch_seconds(cost: CutCost, n_train: int, n_val: int) -> float:
    return cost.step_s * (n_train + n_val * _VAL_FRACTION_OF_STEP)


def choose(costs: list[CutCost], total_pieces: int, n_train: int, n_val: int, max_epochs: int,
           available_s: float | None, cap_bytes: int, most_views: int | None = None) -> StagePlan | None:
    """The plan for the cheapest-first `costs` (their cut shallowest first), or None when not even one epoch
    of the cheapest cut fits `available_s`. `most_views`: at most this many views (1: no augmentation).
    Without a budget (None): the deepest cut given, max_epochs,
    and as many views as epochs (up to MAX_VIEWS) that the cache cap allows."""
    if not costs:
        return None

    def max_views(cost: CutCost) -> int:
        per_image = cost.row_size * 2
        room = cap_bytes // per_image - n_val
        return max(0, min(most_views or MAX_VIEWS, room // max(1, n_train)))

    def plan(cost: CutCost, views: int, epochs: int) -> StagePlan:
        row = cost.row_size * 2
        return StagePlan(cost.cut, cost.pieces, total_pieces, views, epochs, row, row * (n_train * views + n_val),
                         expected_seconds(cost, views, epochs, n_train, n_val),
                         available_s)

    if available_s is None:
        cost = costs[-1]
        views = min(max_epochs, max_views(cost))
        return plan(cost, max(1, views), max_epochs) if views >= 1 else None

    usable = available_s * _SAFETY
    least = min(MIN_EPOCHS, max_epochs)
    fitting = [c for c in costs if max_views(c) >= 1
               and expected_seconds(c, 1, least, n_train, n_val) <= usable]
    if not fitting:
        fitting = [c for c in costs[:1] if max_views(c) >= 1
                   and expected_seconds(c, 1, 1, n_train, n_val) <= usable]
        if not fitting:
            return None
    cost = fitting[-1]
    extra_view_s = max(1e-9, n_train * cost.view_s * (1.0 - cost.cached))
    base = expected_seconds(cost, 1, 0, n_train, n_val)
    epoch_s = max(1e-9, epoch_seconds(cost, n_train, n_val))
    views = 1 + min(max_views(cost) - 1, int(VIEW_SHARE * usable // extra_view_s))
    epochs = min(max_epochs, math.floor((usable - base - (views - 1) * extra_view_s) / epoch_s))
    while epochs < views and views > 1:  # fewer views, more epochs
        views -= 1
        epochs = min(max_epochs, math.floor((usable - base - (views - 1) * extra_view_s) / epoch_s))
    return plan(cost, views, max(1, epochs))

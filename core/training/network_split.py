"""A feature extractor cut in two for fine-tuning on a CPU: a frozen prefix, run once per cached view (its
output stored by core.training.activation_cache), and the trainable suffix that every training step runs.

The cut falls between blocks or, inside a stage made of several residual blocks (EfficientNet's MBConv
stages), between two of them: a finer choice of how much to train. The prefix's output is one flat row per
image: the activation at the cut, then the pooled features of the tapped blocks it has passed (they take no
further part in training, but the head reads them). The suffix takes that row back apart and ends with the
same features the whole extractor computes, in the same order, so a Classifier made of the extractor and the
head predicts exactly what the suffix and head trained."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from core.models.backbone_nets import FeatureExtractor, _grid_pool

_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.MaxPool2d, nn.Identity)


@dataclass(frozen=True, order=True)
class Cut:
    """Training starts at child `unit` of extractor.blocks[block] (unit 0: the whole block)."""

    block: int
    unit: int = 0


def units(extractor: FeatureExtractor, block: int) -> list[nn.Module]:
    """The pieces block `block` may be cut between: its residual blocks, or itself as one piece."""
    module = extractor.blocks[block]
    children = list(module.children()) if isinstance(module, nn.Sequential) else []
    if len(children) >= 2 and not any(isinstance(child, _LAYERS) for child in children):
        return children
    return [module]


def candidate_cuts(extractor: FeatureExtractor, first_block: int = 1) -> list[Cut]:
    """Every cut from the deepest (train the most) to the shallowest (only the last piece), skipping the
    stem: training reaches no further back than `first_block`."""
    cuts = [Cut(block, unit) for block in range(first_block, len(extractor.blocks))
            for unit in range(len(units(extractor, block)))]
    return cuts


def trained_pieces(extractor: FeatureExtractor, cut: Cut) -> int:
    """How many pieces (blocks or residual blocks) a cut trains: a count a person can be told."""
    total = sum(len(units(extractor, b)) for b in range(cut.block, len(extractor.blocks)))
    return total - cut.unit


def all_pieces(extractor: FeatureExtractor) -> int:
    return sum(len(units(extractor, b)) for b in range(len(extractor.blocks)))


class Prefix(nn.Module):
    """Images [N, 3, S, S] -> [N, row]: the activation at the cut (flattened), then the frozen taps."""

    def __init__(self, extractor: FeatureExtractor, cut: Cut):
        super().__init__()
        self.extractor, self.cut = extractor, cut

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grids = dict(self.extractor.taps)
        x, pooled = images, []
        for index in range(self.cut.block):
            x = self.extractor.blocks[index](x)
            if index in grids:
                pooled.append(_grid_pool(x, grids[index]))
        for piece in units(self.extractor, self.cut.block)[: self.cut.unit]:
            x = piece(x)
        return torch.cat([x.flatten(1)] + pooled, dim=1)


class Suffix(nn.Module):
    """Rows from Prefix -> the extractor's features [N, feature_dim]. Shares its modules with the
    extractor: training it trains the extractor."""

    def __init__(self, extractor: FeatureExtractor, cut: Cut, shape: tuple[int, int, int]):
        super().__init__()
        self.extractor, self.cut, self.shape = extractor, cut, tuple(int(v) for v in shape)
        self.size = self.shape[0] * self.shape[1] * self.shape[2]
        self.pieces = nn.ModuleList(units(extractor, cut.block)[cut.unit:])

    def forward(self, rows: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
        grids = dict(self.extractor.taps)
        x = rows[:, : self.size].reshape(-1, *self.shape)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        pooled = [rows[:, self.size:]] if rows.shape[1] > self.size else []
        for piece in self.pieces:
            x = piece(x)
        if self.cut.block in grids:
            pooled.append(_grid_pool(x, grids[self.cut.block]))
        for index in range(self.cut.block + 1, len(self.extractor.blocks)):
            x = self.extractor.blocks[index](x)
            if index in grids:
                pooled.append(_grid_pool(x, grids[index]))
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1)

    def trainable(self) -> list[nn.Parameter]:
        params = list(self.pieces.parameters())
        for index in range(self.cut.block + 1, len(self.extractor.blocks)):
            params += list(self.extractor.blocks[index].parameters())
        return params


def rows_at_every_cut(extractor: FeatureExtractor, images: torch.Tensor) -> dict[Cut, torch.Tensor]:
    """What Prefix would output at each cut, from one forward pass (a few images, to time steps on)."""
    grids = dict(extractor.taps)
    found, pooled, x = {}, [], images
    with torch.no_grad():
        for index in range(len(extractor.blocks)):
            for unit, piece in enumerate(units(extractor, index)):
                found[Cut(index, unit)] = torch.cat([x.flatten(1)] + pooled, dim=1)
                x = piece(x)
            if index in grids:
                pooled.append(_grid_pool(x, grids[index]))
    return found


@dataclass(frozen=True)
class Layout:
    """Where each cut falls for one input size: the activation's shape there, the prefix's row length, and
    the multiply-adds of the network before and after it (for one image), which scale a measured cost from
    one cut to another."""

    shapes: dict
    rows: dict
    macs_before: dict
    macs_total: int

    def macs_after(self, cut: Cut) -> int:
        return self.macs_total - self.macs_before[cut]


def layout(extractor: FeatureExtractor, input_size: int) -> Layout:
    """The Layout of every cut: one forward pass of a single blank image, counting the convolutions' and
    linear layers' multiply-adds."""
    grids = dict(extractor.taps)
    shapes, rows, before = {}, {}, {}
    macs = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs[0] += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            macs[0] += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in extractor.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    x, taps = torch.zeros(1, 3, input_size, input_size), 0
    try:
        with torch.no_grad():
            for index in range(len(extractor.blocks)):
                for unit, piece in enumerate(units(extractor, index)):
                    cut = Cut(index, unit)
                    shapes[cut] = tuple(int(v) for v in x.shape[1:])
                    rows[cut] = int(x[0].numel()) + taps
                    before[cut] = macs[0]
                    x = piece(x)
                if index in grids:
                    taps += int(_grid_pool(x, grids[index]).shape[1])
    finally:
        for hook in hooks:
            hook.remove()
    return Layout(shapes, rows, before, macs[0])

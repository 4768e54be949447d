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


def activation_shape(extractor: FeatureExtractor, cut: Cut, input_size: int) -> tuple[tuple[int, int, int], int]:
    """((C, H, W) of the activation at the cut, length of the prefix's row) for this input size."""
    with torch.no_grad():
        row = Prefix(extractor, cut)(torch.zeros(1, 3, input_size, input_size))
        x = torch.zeros(1, 3, input_size, input_size)
        for index in range(cut.block):
            x = extractor.blocks[index](x)
        for piece in units(extractor, cut.block)[: cut.unit]:
            x = piece(x)
    return tuple(x.shape[1:]), int(row.shape[1])

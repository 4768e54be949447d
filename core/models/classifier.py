"""The one classifier network, in torch: `backbone` (a FeatureExtractor) then `head` (HeadNet).

Its parameter names are the model bundle's tensor names (`backbone.blocks.…`, `head.fc1.weight`, …; see
core.models.bundles.split_tensors): a bundle loads into it, and its state saves as a bundle, unrenamed.
Fine-tuning trains it and export writes it; on the CPU, classifying runs the same weights in ONNX Runtime."""
from __future__ import annotations

import torch
from torch import nn

from core.models.backbone_nets import FeatureExtractor

class HeadNet(nn.Module):
    """Dense(hidden) ReLU -> Dropout -> Dense(classes), producing logits. Parameters: fc1.*, fc2.*."""

    def __init__(self, dim: int, n_classes: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(torch.relu(self.fc1(features))))


class Classifier(nn.Module):
    """Normalised images [N, 3, S, S] -> logits [N, C], or probabilities with `probabilities` (export).

    `flip_average`: the probabilities are the mean of the image's and its mirror image's (a bundle's
    test-time flip); the logits are then their logarithm, so that softmax still gives them."""

    def __init__(self, backbone: FeatureExtractor, head: HeadNet, probabilities: bool = False,
                 flip_average: bool = False):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.probabilities = probabilities
        self.flip_average = flip_average

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.backbone(images))
        if not self.flip_average:
            return torch.softmax(logits, dim=1) if self.probabilities else logits
        mirrored = self.head(self.backbone(torch.flip(images, dims=(3,))))
        probabilities = (torch.softmax(logits, dim=1) + torch.softmax(mirrored, dim=1)) / 2
        return probabilities if self.probabilities else torch.log(probabilities)


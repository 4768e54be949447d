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
    """Normalised images [N, 3, S, S] -> logits [N, C], or probabilities with `probabilities` (export)."""

    def __init__(self, backbone: FeatureExtractor, head: HeadNet, probabilities: bool = False):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.probabilities = probabilities

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.backbone(images))
        return torch.softmax(logits, dim=1) if self.probabilities else logits


"""What the user chose in the Train view, remembered per project, and the TrainConfig it makes."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from core.models.backbones import DEFAULT_BACKBONE
from core.training.finetune import DEFAULT_TIME_BUDGET_S
from core.training.runner import FineTuneConfig, HeadConfig, TrainConfig

AUTOMATIC = 0  # spin boxes: 0 shows "Automatic"


@dataclass(frozen=True)
class TrainChoices:
    backbone: str = DEFAULT_BACKBONE
    weights_path: str = ""  # a weights file for a backbone that would otherwise need a download
    fine_tune: bool = False
    fine_tune_minutes: int = round(DEFAULT_TIME_BUDGET_S / 60)  # the whole run's time limit when fine-tuning
    device: str = "auto"
    epochs: int = AUTOMATIC  # the head's most epochs, or fine-tuning's epochs
    val_fraction: float = 0.2
    seed: int = 0
    augment: bool = True
    flip: bool = True
    batch_size: int = AUTOMATIC
    input_size: int = AUTOMATIC  # network input in pixels

    def config(self) -> TrainConfig:
        head, fine = HeadConfig(), None
        if self.fine_tune:
            fine = FineTuneConfig(augment=self.augment, flip=self.flip, time_budget_s=60.0 * self.fine_tune_minutes)
            if self.epochs:  # the user's number of epochs, with no time limit: as the CLI's --epochs
                fine = replace(fine, epochs=self.epochs, time_budget_s=None)
            if self.batch_size:
                fine = replace(fine, batch_size=self.batch_size)
        else:
            # Epochs and batches are the Dense head's: the default linear head (core.models.linear_head) has none.
            if self.epochs:
                head = replace(head, kind="mlp", max_epochs=self.epochs)
            if self.batch_size:
                head = replace(head, kind="mlp", batch_size=self.batch_size)
        return TrainConfig(backbone=self.backbone, head=head, fine_tune=fine, val_fraction=self.val_fraction,
                           seed=self.seed, device=self.device, weights_path=self.weights_path or None,
                           input_size=self.input_size or None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainChoices":
        """Unknown keys and values of the wrong type (an older or damaged settings file) fall back to defaults."""
        default = cls()
        values = {}
        for f in fields(cls):
            value = data.get(f.name, getattr(default, f.name))
            wanted = type(getattr(default, f.name))
            if wanted is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            values[f.name] = value if isinstance(value, wanted) else getattr(default, f.name)
        return cls(**values)

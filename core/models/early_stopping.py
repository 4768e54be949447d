"""Which epoch of a training phase to keep, and when to stop: the lowest validation loss, with patience."""
from __future__ import annotations


class EarlyStopping:
    """Tracks the best epoch by validation loss. Without validation every epoch counts as the best (the last
    is kept) and nothing stops early. A loss counts as better below best * (1 - min_gain); `patience` epochs
    in a row without one stop the phase (None: never)."""

    def __init__(self, patience: int | None, min_gain: float = 0.0):
        self.patience, self.min_gain = patience, min_gain
        self.best_epoch = 0
        self.best_val_loss: float | None = None
        self.best_val_acc: float | None = None
        self.epochs_run = 0
        self._since_best = 0
        self._validated = False

    def update(self, epoch: int, val_loss: float | None, val_acc: float | None) -> bool:
        """Record an epoch's validation; True when it is the best so far (the caller keeps its weights)."""
        self.epochs_run, self._validated = epoch, val_loss is not None
        best = self.best_val_loss
        if val_loss is None or best is None or val_loss < best * (1 - self.min_gain):
            self.best_epoch, self.best_val_loss, self.best_val_acc = epoch, val_loss, val_acc
            self._since_best = 0
            return True
        self._since_best += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self._validated and self._since_best >= self.patience

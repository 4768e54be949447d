"""The Review view's choice of run: "Latest" (follow each new run) or one stored run that has a model."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget


class RunBox(QComboBox):
    run_chosen = Signal(object)  # the run id chosen by the user, None for "Latest"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip("The run whose out-of-fold predictions are shown")
        self.activated.connect(lambda index: self.run_chosen.emit(self.itemData(index)))

    def fill(self, runs: list, chosen: int | None) -> None:
        """Lists the runs that can be reviewed, `chosen` (None: "Latest") selected, without emitting."""
        self.blockSignals(True)
        self.clear()
        self.addItem("Latest", None)
        for run in reviewable(runs):
            kind = run.network or "quick"
            self.addItem(f"Run {run.id} ({kind}, {run.started_at:%d %b %H:%M})", run.id)
        self.setCurrentIndex(max(0, self.findData(chosen)))
        self.blockSignals(False)

    def outdated(self, runs: list) -> bool:
        """Whether the runs listed differ from the reviewable ones of `runs`."""
        listed = {self.itemData(i) for i in range(1, self.count())}
        return listed != {run.id for run in reviewable(runs)}


def reviewable(runs: list) -> list:
    """The runs that ended (finished or cancelled) with a model stored."""
    return [run for run in runs if run.model_path and run.status in ("finished", "cancelled")]

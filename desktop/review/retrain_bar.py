"""The bar over the matrix: "Retrain (about N s)", the "Keep the model up to date while I label" switch,
and what the last retrain changed ("cat→dog: 12 → 3")."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QWidget

from core.evaluation.comparison import CellChange

SHOWN_CHANGES = 4


class RetrainBar(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.button = QPushButton("Retrain")
        self.button.setObjectName("retrain")
        self.button.setToolTip("Train the head again on the cached embeddings with the last run's settings, "
                               "then show the new matrix (no fine-tuning: after a fine-tuned run, on its "
                               "fine-tuned network, kept as it is)")
        self.auto = QCheckBox("Keep the model up to date while I label")
        self.auto.setToolTip("Retrain by itself a few seconds after the last label change (the head alone; "
                             "never during a fine-tuning run)")
        self.changes = QLabel()
        self.changes.setObjectName("retrainChanges")
        self.changes.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.auto)
        layout.addWidget(self.changes, 1)

    def set_estimate(self, seconds: float | None) -> None:
        self.button.setText(f"Retrain (about {max(1, round(seconds))} s)" if seconds else "Retrain")

    def show_changes(self, before_run: int, after_run: int, changes: list[CellChange]) -> None:
        if not changes:
            self.changes.setText(f"Run {after_run} against run {before_run}: the mistakes are the same.")
            return
        parts = [f"{c.given}→{c.predicted}: {c.before} → {c.after}" for c in changes[:SHOWN_CHANGES]]
        more = f" (and {len(changes) - SHOWN_CHANGES} more)" if len(changes) > SHOWN_CHANGES else ""
        self.changes.setText(f"Run {after_run} against run {before_run}:  " + ",  ".join(parts) + more)

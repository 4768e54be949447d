"""The runs list's model: a thin table over the project's run ids, newest first, each row read from the store
with the list (a project has tens or hundreds of runs, not thousands)."""
from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt

from core.durations import elapsed_text
from core.storage import runs
from core.storage.runs import RunInfo
from desktop.project.context import ProjectContext

RUN_ID_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Run", "Status", "Started", "Network", "Device", "Duration", "All images", "Validation", "Images",
           "Note")
TIPS = {
    "All images": "Out-of-fold accuracy: every labelled image judged by a model that did not train on it",
    "Validation": "Accuracy on the images kept aside during training",
    "Images": "Labelled images the run trained and validated on",
}
STATUS_TEXT = {"running": "Running", "finished": "Finished", "cancelled": "Cancelled (model kept)",
               "failed": "Failed", "interrupted": "Interrupted"}


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f} %"


def status_text(run: RunInfo) -> str:
    if run.status == "cancelled" and not run.model_path:
        return "Cancelled"
    return STATUS_TEXT.get(run.status, run.status)


class RunsModel(QAbstractTableModel):
    def __init__(self, context: ProjectContext, parent: QObject | None = None):
        super().__init__(parent)
        self._context = context
        self._runs: list[RunInfo] = []
        context.opened.connect(lambda _project: self.refresh())
        context.closed.connect(self.refresh)  # runs_changed: the panel showing it refreshes it when seen

    def refresh(self) -> None:
        self.beginResetModel()
        self._runs = self._context.read(runs.list_runs) if self._context.project is not None else []
        self.endResetModel()

    def run(self, row: int) -> RunInfo:
        return self._runs[row]

    def row_of(self, run_id: int) -> int | None:
        return next((row for row, run in enumerate(self._runs) if run.id == run_id), None)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS.get(COLUMNS[section])
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._runs):
            return None
        run = self._runs[index.row()]
        if role == RUN_ID_ROLE:
            return run.id
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(run, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == "Status" and run.error:
                return run.error
            if column == "Status" and run.status == "interrupted":
                return "The program running it stopped (a crash or a kill) before it ended"
            return run.note or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("Duration", "All images", "Validation", "Images"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, run: RunInfo, column: str) -> str:
        m = run.metrics
        if column == "Run":
            return run.title
        if column == "Status":
            return status_text(run)
        if column == "Started":
            return run.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
        if column == "Network":
            return run.backbone + (f" + {run.network}" if run.network else "")
        if column == "Device":
            return run.device
        if column == "Duration":
            if run.status == "running":
                return elapsed_text((datetime.now(timezone.utc) - run.started_at).total_seconds())
            return elapsed_text(run.duration_s)
        if column == "All images":
            return percent(run.oof_acc)
        if column == "Validation":
            return percent(run.val_acc)
        if column == "Images":
            count = (m.get("train_images") or 0) + (m.get("val_images") or 0)
            return f"{count:,}" if count else ""
        if column == "Note":
            return (run.note or "").splitlines()[0] if run.note else ""
        return ""

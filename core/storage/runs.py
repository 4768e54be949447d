"""Training runs and their per-epoch metrics (tables runs, run_epochs)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.errors import InvalidRequest
from core.storage.labels import latest_batch_id
from core.storage.models import Run, RunEpoch, utcnow

STATUSES = ("running", "finished", "cancelled", "failed", "interrupted")


@dataclass(frozen=True)
class RunInfo:
    id: int
    status: str
    backbone: str
    config: dict
    seed: int
    device: str
    metrics: dict
    model_path: str | None  # relative to the store
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    last_batch_id: int | None
    name: str | None = None  # given by the user
    note: str | None = None

    @property
    def title(self) -> str:
        return self.name or f"Run {self.id}"

    @property
    def oof_acc(self) -> float | None:
        """Accuracy of the out-of-fold predictions: every labelled image judged by a model that did not see it."""
        return (self.metrics.get("oof") or {}).get("accuracy")

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (_aware(self.finished_at) - _aware(self.started_at)).total_seconds()

    @property
    def val_acc(self) -> float | None:
        return self.metrics.get("val_acc")

    @property
    def network(self) -> str | None:
        """How its network differs from the pretrained one, in a few words ("fine-tuned", "fine-tuned in run 3":
        a head trained again on that run's network, core.training.retrain); None: the pretrained one."""
        if self.metrics.get("fine_tuned"):
            return "fine-tuned"
        earlier = self.metrics.get("fine_tuned_in")
        return None if earlier is None else f"fine-tuned in run {earlier}"


@dataclass(frozen=True)
class EpochRow:
    phase: str
    epoch: int
    train_loss: float | None
    train_acc: float | None
    val_loss: float | None
    val_acc: float | None
    images_per_s: float | None
    seconds: float | None


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _info(row: Run) -> RunInfo:
    return RunInfo(row.id, row.status, row.backbone, dict(row.config or {}), row.seed, row.device,
                   dict(row.metrics or {}), row.model_path, row.error, _aware(row.started_at),
                   _aware(row.finished_at) if row.finished_at else None, row.last_batch_id, row.name, row.note)


def start_run(session: Session, backbone: str, config: dict, seed: int, device: str) -> int:
    """A new run, owned by this process, covering every label change made so far."""
    row = Run(status="running", backbone=backbone, config=config, seed=seed, device=device, metrics={},
              owner_pid=os.getpid(), last_batch_id=latest_batch_id(session))
    session.add(row)
    session.flush()
    return row.id


def add_epoch(session: Session, run_id: int, phase: str, epoch: int, train_loss: float | None,
              train_acc: float | None, val_loss: float | None, val_acc: float | None,
              images_per_s: float | None, seconds: float | None) -> None:
    session.add(RunEpoch(run_id=run_id, phase=phase, epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                         val_loss=val_loss, val_acc=val_acc, images_per_s=images_per_s, seconds=seconds))


def update_run(session: Session, run_id: int, **fields) -> None:
    """Set columns of a run (metrics, model_path, device, config...); `metrics` is merged, not replaced."""
    row = _row(session, run_id)
    if "metrics" in fields:
        row.metrics = {**(row.metrics or {}), **fields.pop("metrics")}
    for name, value in fields.items():
        setattr(row, name, value)


def end_run(session: Session, run_id: int, status: str, error: str | None = None) -> None:
    if status not in STATUSES or status == "running":
        raise ValueError(f"not a final run status: {status}")
    row = _row(session, run_id)
    row.status, row.error, row.finished_at, row.owner_pid = status, error, utcnow(), None


def end_if_running(session: Session, run_id: int, status: str, error: str | None = None) -> bool:
    """End a run whose process was stopped from outside (it could not record its end itself); a run that
    ended already is left as it is. True when it was still running."""
    row = session.get(Run, run_id)
    if row is None or row.status != "running":
        return False
    end_run(session, run_id, status, error)
    return True


def get_run(session: Session, run_id: int) -> RunInfo:
    return _info(_row(session, run_id))


def list_runs(session: Session) -> list[RunInfo]:
    """Newest first."""
    return [_info(r) for r in session.scalars(select(Run).order_by(Run.id.desc()))]


def epochs(session: Session, run_id: int) -> list[EpochRow]:
    rows = session.scalars(select(RunEpoch).where(RunEpoch.run_id == run_id).order_by(RunEpoch.id))
    return [EpochRow(r.phase, r.epoch, r.train_loss, r.train_acc, r.val_loss, r.val_acc, r.images_per_s, r.seconds)
            for r in rows]


def set_name(session: Session, run_id: int, name: str | None, note: str | None) -> None:
    """The user's name and note for a run (empty: none)."""
    row = _row(session, run_id)
    row.name = (name or "").strip() or None
    row.note = (note or "").strip() or None


def delete_run(session: Session, run_id: int) -> str | None:
    """Delete a finished, cancelled, failed or interrupted run with its epochs and predictions; returns its
    model file (relative to the store) for the caller to remove. A running run cannot be deleted."""
    row = _row(session, run_id)
    if row.status == "running":
        raise InvalidRequest(f"Run {run_id} is still running; stop it first.")
    model = row.model_path
    session.delete(row)
    return model


def signature(session: Session) -> tuple:
    """Changes whenever a run is added, ends or is deleted, by any process: cheap enough to poll."""
    return tuple(session.execute(select(func.count(Run.id), func.max(Run.id), func.max(Run.finished_at),
                                        func.sum(case((Run.status == "running", 1), else_=0)))).one())


def latest_model_run(session: Session) -> RunInfo | None:
    """The newest finished run with a model; failing that, the newest cancelled one that kept a model."""
    for status in ("finished", "cancelled"):
        row = session.scalar(select(Run).where(Run.status == status, Run.model_path.is_not(None))
                             .order_by(Run.id.desc()).limit(1))
        if row is not None:
            return _info(row)
    return None


def _row(session: Session, run_id: int) -> Run:
    row = session.get(Run, run_id)
    if row is None:
        raise InvalidRequest(f"There is no run {run_id} in this project; 'dovecote runs FOLDER' lists them.")
    return row


def keep_labels(session: Session, run_id: int, kept: dict[int, int | None]) -> None:
    """Record that the user looked at these suspected mistakes of the run and kept their labels
    (image id -> the class id kept), so the run's mistake queue does not ask again."""
    row = _row(session, run_id)
    known = dict((row.metrics or {}).get("kept_labels") or {})
    known.update({str(image_id): class_id for image_id, class_id in kept.items()})
    row.metrics = {**(row.metrics or {}), "kept_labels": known}


def kept_labels(session: Session, run_id: int) -> dict[int, int | None]:
    """image id -> class id for the labels the user kept when the run suspected them (see keep_labels)."""
    return {int(k): v for k, v in (get_run(session, run_id).metrics.get("kept_labels") or {}).items()}

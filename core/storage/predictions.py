"""A run's stored predictions (table predictions): "oof" (out-of-fold), "model" (the final model) and
"oof-ranking" (out-of-fold, what a fine-tuned run's suspects are ranked by: core.evaluation.run_evaluation)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from core.storage.models import ClassRow, Prediction

RANKING = "oof-ranking"
KINDS = ("oof", "model", RANKING)


@dataclass(frozen=True)
class StoredPrediction:
    image_id: int
    predicted_class_id: int | None  # None if that class was deleted since
    confidence: float
    probabilities: list[float]  # in the order of the run's classes


def replace_predictions(session: Session, run_id: int, kind: str, rows: list[StoredPrediction]) -> None:
    """Make `rows` the run's predictions of this kind (any earlier ones are dropped)."""
    if kind not in KINDS:
        raise ValueError(f"unknown prediction kind {kind!r}")
    session.execute(delete(Prediction).where(Prediction.run_id == run_id, Prediction.kind == kind))
    values = [
        {"run_id": run_id, "image_id": r.image_id, "kind": kind, "predicted_class_id": r.predicted_class_id,
         "confidence": r.confidence, "probabilities": r.probabilities}
        for r in rows
    ]
    for start in range(0, len(values), 1000):
        session.execute(insert(Prediction), values[start : start + 1000])


def load_predictions(session: Session, run_id: int, kind: str) -> list[StoredPrediction]:
    rows = session.execute(
        select(Prediction.image_id, Prediction.predicted_class_id, Prediction.confidence, Prediction.probabilities)
        .where(Prediction.run_id == run_id, Prediction.kind == kind)
        .order_by(Prediction.image_id)
    )
    return [StoredPrediction(r.image_id, r.predicted_class_id, r.confidence, list(r.probabilities)) for r in rows]


def predicted_classes(session: Session, run_id: int, kind: str) -> dict[int, int | None]:
    """image id -> predicted class id, without the probabilities (cheap for run-to-run comparison)."""
    rows = session.execute(select(Prediction.image_id, Prediction.predicted_class_id).where(
        Prediction.run_id == run_id, Prediction.kind == kind))
    return {image_id: class_id for image_id, class_id in rows}


def count_predictions(session: Session, run_id: int, kind: str) -> int:
    return session.scalar(
        select(func.count()).select_from(Prediction).where(Prediction.run_id == run_id, Prediction.kind == kind)
    ) or 0


def class_names(session: Session) -> dict[int, str]:
    """class id -> name for every class, deleted ones included (old runs still name them), in the classes'
    display order."""
    rows = session.execute(select(ClassRow.id, ClassRow.name).order_by(ClassRow.position, ClassRow.id))
    return {class_id: name for class_id, name in rows}

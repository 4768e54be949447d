"""What the Review view shows for one run, read in one go: its evaluation (out-of-fold metrics, confusion
matrix with image ids, suspected mistakes), ROC curves, and the labels the user chose to keep."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from core.evaluation.metrics import RocCurve, roc_curves
from core.evaluation.run_evaluation import Evaluation, ensure_evaluated, load_evaluation, pick_run
from core.storage import labels, runs

@dataclass(frozen=True)
class RunSummary:
    id: int
    backbone: str
    network: str | None  # how its network differs from the pretrained one (RunInfo.network)
    config: dict  # the run's TrainConfig, as stored
    last_batch_id: int | None


@dataclass(frozen=True)
class ReviewData:
    run: RunSummary
    evaluation: Evaluation
    roc: list[RocCurve]
    kept: dict[int, int | None]  # image id -> class id the user kept when this run (or its ancestors) doubted it

    def suspects(self, current: dict[int, int | None]) -> list:
        """The mistake queue: suspects whose label the user has neither changed nor kept as it is."""
        at_run = {i: self.evaluation.class_ids[int(k)] for i, k in zip(self.evaluation.image_ids,
                                                                         self.evaluation.labels)}
        return [s for s in self.evaluation.suspects
                if current.get(s.image_id, at_run[s.image_id]) == at_run[s.image_id]
                and self.kept.get(s.image_id, -1) != at_run[s.image_id]]


@dataclass(frozen=True)
class ReviewLoaded:
    data: ReviewData


def load_review(project, run_id: int | None = None) -> ReviewData:
    with project.session() as session:
        run = pick_run(session, run_id)
        kept = {}
        for earlier in reversed(runs.list_runs(session)):  # oldest first: later decisions win
            if earlier.id <= run.id:
                kept.update(runs.kept_labels(session, earlier.id))
    evaluation = load_evaluation(project, run.id)
    summary = RunSummary(run.id, run.backbone, run.network, run.config, run.last_batch_id)
    return ReviewData(summary, evaluation, roc_curves(evaluation.labels, evaluation.proba, evaluation.class_names),
                      kept)


def review_job(project, run_id: int | None = None) -> Iterator[object]:
    """A job for the window: evaluate the run if it has not been yet, then yield ReviewLoaded."""
    with project.session() as session:
        run = pick_run(session, run_id)
    yield from ensure_evaluated(project, run.id)
    yield ReviewLoaded(load_review(project, run.id))


def current_labels(session, image_ids: list[int]) -> dict[int, int | None]:
    """image id -> its class id now (None: unlabelled or its class deleted)."""
    from core.storage import catalog

    live = {c.id for c in labels.list_classes(session)}
    return {row.id: row.class_id if row.class_id in live else None for row in catalog.images_by_ids(session, image_ids)}

"""Queries for the image browser: which images a view shows (filter, sort, search), the few fields a
thumbnail needs, and the details of one image. Built for 100,000 images: ids first, fields on demand."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Iterable, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.storage.catalog import chunks
from core.storage import labels
from core.storage.models import NOT_READABLE, ClassRow, ImageRow, Prediction, Run

SHOW_ALL, SHOW_UNLABELLED, SHOW_UNREADABLE, SHOW_CLASS = "all", "unlabelled", "unreadable", "class"
# From the latest finished run's held-out predictions: the images it put in one class (needs class_id), its
# unsure guesses, and the labelled images it thinks are wrong.
SHOW_PREDICTED, SHOW_LOW_CONFIDENCE, SHOW_DISAGREES = "predicted", "low-confidence", "disagrees"
PREDICTION_SHOWS = (SHOW_PREDICTED, SHOW_LOW_CONFIDENCE, SHOW_DISAGREES)
LOW_CONFIDENCE = 0.6  # below this a prediction is closer to a guess than an answer: worth a look
# A set of images chosen elsewhere (e.g. those a run comparison found fixed or newly wrong); needs ids.
SHOW_CHOSEN = "chosen"
SORT_NAME, SORT_DATE, SORT_SIZE = "name", "date", "size"
# Unlabelled images the model is least sure of first (what to label next); the rest follow by name.
SORT_CONFIDENCE = "confidence"


@dataclass(frozen=True)
class GalleryQuery:
    show: str = SHOW_ALL  # SHOW_* ; SHOW_CLASS and SHOW_PREDICTED need class_id
    class_id: int | None = None
    sort: str = SORT_NAME  # SORT_*
    descending: bool = False
    search: str = ""  # part of the file's path, any case
    ids: tuple[int, ...] = ()  # SHOW_CHOSEN: the images to show

    @property
    def depends_on_labels(self) -> bool:
        """Whether labelling an image can add it to or drop it from this view."""
        return self.show in (SHOW_UNLABELLED, SHOW_CLASS, SHOW_DISAGREES)


# Plain SQL for the id lists: with 100,000 images, SQLAlchemy's row handling costs 3-4x the query itself.
_ORDER = {SORT_NAME: ("path",), SORT_DATE: ("mtime", "path"), SORT_SIZE: ("size", "path")}
_UNLABELLED = ("status = 'ok' AND (class_id IS NULL OR class_id NOT IN "
               "(SELECT id FROM classes WHERE deleted = 0))")
_LIVE_CLASSES = "(SELECT id FROM classes WHERE deleted = 0)"
# A run's held-out predictions of readable, present images; each filter adds its condition.
_HELD_OUT = ("SELECT p.image_id FROM predictions p JOIN images i ON i.id = p.image_id "
             "WHERE p.run_id = ? AND p.kind = 'oof' AND i.status = 'ok'")
_PREDICTION_FILTERS = {
    SHOW_PREDICTED: " AND p.predicted_class_id = ?",
    SHOW_LOW_CONFIDENCE: " AND p.confidence < ?",
    # Both classes live: after a merge or delete the old prediction names a class the user cannot choose.
    SHOW_DISAGREES: (f" AND p.predicted_class_id != i.class_id AND i.class_id IN {_LIVE_CLASSES}"
                     f" AND p.predicted_class_id IN {_LIVE_CLASSES}"),
}


@contextmanager
def _cursor(session: Session) -> Iterator[sqlite3.Cursor]:
    """The driver's own cursor, inside the session's transaction (pending ORM changes flushed first, as a
    normal query would)."""
    session.flush()
    cursor = session.connection().connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def _rows(session: Session, sql: str, params: dict | tuple = ()) -> list[tuple]:
    with _cursor(session) as cursor:
        return cursor.execute(sql, params).fetchall()


def _ids(session: Session, sql: str, params: dict | tuple = ()) -> list[int]:
    """The first column, row by row: fetching 100,000 rows at once keeps 100,000 tuples alive, and making them
    sets off ~140 garbage collections, which pause every thread of the window's process."""
    with _cursor(session) as cursor:
        return [row[0] for row in cursor.execute(sql, params)]


def image_ids(session: Session, query: GalleryQuery) -> list[int]:
    """Ids of the present images the query selects, in its order (name breaks ties).

    All ids are read in sort order (by name straight from the path index), then filtered with the set
    the filter selects through its own index: much faster than letting SQLite visit every row in order."""
    direction = " DESC" if query.descending else ""
    order = ", ".join(column + direction for column in _ORDER.get(query.sort, _ORDER[SORT_NAME]))
    ordered = _ids(session, f"SELECT id FROM images ORDER BY {order}")
    if query.sort == SORT_CONFIDENCE:
        ordered = _least_confident_first(session, ordered, query.descending)
    keep: set[int] | None = None
    if query.show == SHOW_UNLABELLED:
        keep = set(_ids(session, f"SELECT id FROM images WHERE {_UNLABELLED}"))
    elif query.show == SHOW_UNREADABLE:
        keep = set(_ids(session, "SELECT id FROM images WHERE status = 'unreadable'"))
    elif query.show == SHOW_CLASS:
        keep = set(_ids(session, "SELECT id FROM images WHERE class_id = ? AND status != 'missing'",
                        (query.class_id,)))
    elif query.show in _PREDICTION_FILTERS:
        keep = _predicted_ids(session, query)
    elif query.show == SHOW_CHOSEN:
        keep = set(query.ids)
    else:
        missing = set(_ids(session, "SELECT id FROM images WHERE status = 'missing'"))
        keep = None if not missing else set(ordered) - missing
    if query.search.strip():
        term = query.search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found = set(_ids(session, "SELECT id FROM images WHERE path LIKE ? ESCAPE '\\'", (f"%{term}%",)))
        keep = found if keep is None else keep & found
    return ordered if keep is None else [image_id for image_id in ordered if image_id in keep]


def prediction_run(session: Session) -> int | None:
    """The newest finished run with held-out predictions: the one the prediction filters read."""
    found = _ids(session, "SELECT id FROM runs WHERE status = 'finished' AND EXISTS (SELECT 1 FROM predictions "
                          "WHERE run_id = runs.id AND kind = 'oof') ORDER BY id DESC LIMIT 1")
    return found[0] if found else None


def predicted_class_ids(session: Session, run_id: int) -> set[int]:
    """The classes that run predicted for at least one image, labelled or not (deleted ones included)."""
    return set(_ids(session, "SELECT DISTINCT predicted_class_id FROM predictions "
                             "WHERE run_id = ? AND kind IN ('oof', 'model') AND predicted_class_id IS NOT NULL",
                             (run_id,)))


def _least_confident_first(session: Session, by_name: list[int], descending: bool) -> list[int]:
    source = unlabelled_prediction_source(session)
    if source is None:
        return by_name
    ranked = _ids(session, "SELECT image_id FROM predictions WHERE run_id = ? AND kind = 'model' "
                           f"ORDER BY confidence{' DESC' if descending else ''}, image_id", (source.run_id,))
    known = set(ranked)
    return ranked + [image_id for image_id in by_name if image_id not in known]


def _predicted_ids(session: Session, query: GalleryQuery) -> set[int]:
    run_id = prediction_run(session)
    if run_id is None:
        return set()
    params: tuple = (run_id,)
    if query.show == SHOW_PREDICTED:
        # Labelled images by their held-out prediction, unlabelled ones by the newest model's.
        source = unlabelled_prediction_source(session)
        found = set(_ids(session, _HELD_OUT + _PREDICTION_FILTERS[query.show], params + (query.class_id,)))
        if source is not None:
            guessed = set(_ids(session, "SELECT image_id FROM predictions WHERE run_id = ? AND kind = 'model' "
                                        "AND predicted_class_id = ?", (source.run_id, query.class_id)))
            found |= guessed & unlabelled_ids(session)
        return found
    elif query.show == SHOW_LOW_CONFIDENCE:
        params += (LOW_CONFIDENCE,)
    return set(_ids(session, _HELD_OUT + _PREDICTION_FILTERS[query.show], params))


def unlabelled_ids(session: Session) -> set[int]:
    """Readable, present images without a live class."""
    return set(_ids(session, f"SELECT id FROM images WHERE {_UNLABELLED}"))


def unpredicted_unlabelled(session: Session, run_id: int) -> int:
    """How many readable, present, unlabelled images run `run_id`'s model has not predicted (added since, or
    the run was made where nobody asked it to: `dovecote train`)."""
    return _rows(session, f"SELECT COUNT(*) FROM images WHERE {_UNLABELLED} AND id NOT IN "
                          "(SELECT image_id FROM predictions WHERE run_id = ? AND kind = 'model')", (run_id,))[0][0]


def first_unlabelled(session: Session, candidates: Iterable[int], chunk: int = 64) -> int | None:
    """The first of `candidates` (in their order) that is readable, present and unlabelled: "next
    unlabelled" without reading every unlabelled id of a large project. Asked in chunks that double up to
    4,096, drawn from `candidates` only as far as needed (an iterator: no list of 100,000 ids is made)."""
    candidates = iter(candidates)
    while part := list(islice(candidates, chunk)):
        marks = ",".join("?" * len(part))
        found = set(_ids(session, f"SELECT id FROM images WHERE id IN ({marks}) AND {_UNLABELLED}", tuple(part)))
        if found:
            return next(image_id for image_id in part if image_id in found)
        chunk = min(chunk * 2, 4096)
    return None


@dataclass(frozen=True)
class PredictionSource:
    """The run whose model predicted the unlabelled images the grid shows."""

    run_id: int
    stale: bool  # labels changed since that run trained: its predictions are from an older picture


def unlabelled_prediction_source(session: Session) -> PredictionSource | None:
    """The newest finished run with predictions for unlabelled images (see core/evaluation/unlabelled.py)."""
    found = _rows(session, "SELECT id, last_batch_id FROM runs WHERE status = 'finished' AND EXISTS (SELECT 1 FROM "
                           "predictions WHERE run_id = runs.id AND kind = 'model') ORDER BY id DESC LIMIT 1")
    if not found:
        return None
    run_id, batch = found[0]
    latest = _rows(session, "SELECT MAX(id) FROM change_batches WHERE state = 'done' AND source != 'imported'")[0][0]
    return PredictionSource(run_id, latest is not None and (batch is None or latest > batch))


@dataclass(frozen=True)
class ImageCard:
    """What a thumbnail in the grid shows."""

    id: int
    path: str
    content_hash: str | None
    status: str
    error: str | None
    class_id: int | None
    predicted_class_id: int | None = None  # the newest model's guess for an unlabelled image
    confidence: float | None = None


def cards(session: Session, ids: list[int]) -> dict[int, ImageCard]:
    found: dict[int, ImageCard] = {}
    columns = (ImageRow.id, ImageRow.path, ImageRow.content_hash, ImageRow.status, ImageRow.error, ImageRow.class_id)
    source = unlabelled_prediction_source(session)
    for chunk in chunks(ids):
        guesses = {}
        if source is not None:
            guesses = {row[0]: (row[1], row[2]) for row in session.execute(
                select(Prediction.image_id, Prediction.predicted_class_id, Prediction.confidence).where(
                    Prediction.run_id == source.run_id, Prediction.kind == "model", Prediction.image_id.in_(chunk)))}
        for row in session.execute(select(*columns).where(ImageRow.id.in_(chunk))):
            found[row.id] = ImageCard(*row, *guesses.get(row.id, (None, None)))
    return found


def predictions_of(session: Session, ids: list[int]) -> dict[int, int]:
    """image id -> the class the newest model predicts, for those of `ids` it predicted (unlabelled images)."""
    source = unlabelled_prediction_source(session)
    if source is None:
        return {}
    found: dict[int, int] = {}
    for chunk in chunks(ids):
        found.update({image_id: class_id for image_id, class_id in session.execute(
            select(Prediction.image_id, Prediction.predicted_class_id).where(
                Prediction.run_id == source.run_id, Prediction.kind == "model", Prediction.image_id.in_(chunk),
                Prediction.predicted_class_id.is_not(None)))})
    return found


@dataclass(frozen=True)
class PredictionInfo:
    class_name: str
    confidence: float
    out_of_fold: bool  # made by a model that did not train on this image


@dataclass(frozen=True)
class ImageDetails:
    id: int
    path: str
    size: int
    modified: datetime
    width: int | None
    height: int | None
    status: str
    error: str | None
    class_name: str | None
    class_colour: str | None
    prediction: PredictionInfo | None


def image_details(session: Session, image_id: int) -> ImageDetails | None:
    image = session.get(ImageRow, image_id)
    if image is None:
        return None
    label = session.get(ClassRow, image.class_id) if image.class_id is not None else None
    if label is not None and label.deleted:
        label = None
    return ImageDetails(
        id=image.id, path=image.path, size=image.size, modified=datetime.fromtimestamp(image.mtime),
        width=image.width, height=image.height, status=image.status, error=image.error,
        class_name=label.name if label else None, class_colour=label.colour if label else None,
        prediction=latest_prediction(session, image_id),
    )


def latest_prediction(session: Session, image_id: int) -> PredictionInfo | None:
    """The newest finished run's prediction for the image; its out-of-fold one when there is one,
    since for a labelled image that is the honest guess."""
    latest_run = session.scalar(
        select(func.max(Run.id)).join(Prediction, Prediction.run_id == Run.id)
        .where(Run.status == "finished", Prediction.image_id == image_id)
    )
    if latest_run is None:
        return None
    rows = session.execute(
        select(Prediction.kind, Prediction.confidence, ClassRow.name)
        .join(ClassRow, Prediction.predicted_class_id == ClassRow.id)
        .where(Prediction.run_id == latest_run, Prediction.image_id == image_id)
    ).all()
    if not rows:
        return None
    kind, confidence, name = min(rows, key=lambda r: r.kind != "oof")
    return PredictionInfo(name, confidence, kind == "oof")


def history_step_size(session: Session, undoing: bool) -> int:
    """How many images the next undo (or redo) would relabel: the GUI does small ones at once and large
    ones in the background. Picks the batch as labels.undo / labels.redo do."""
    if undoing:
        batch = ("SELECT id FROM change_batches WHERE state = 'done' AND source != 'imported' "
                 "ORDER BY id DESC LIMIT 1")
    else:
        batch = "SELECT id FROM change_batches WHERE state = 'undone' ORDER BY id LIMIT 1"
    return _rows(session, f"SELECT COUNT(*) FROM label_changes WHERE batch_id = ({batch})")[0][0]


@dataclass(frozen=True)
class Counts:
    images: int
    labelled: int
    unlabelled: int
    unreadable: int


def counts(session: Session, classes: list[labels.ClassInfo] | None = None) -> Counts:
    """images = labelled + unlabelled + unreadable (present ones). From the status index and the class
    counts only: a few milliseconds with 100,000 images. `classes`: list_classes as just read, if at hand."""
    # The whole table's count is SQLite's quick one (its b-tree's page counts); the few images that are not
    # "ok" come from the status index. Grouping every row by status took ~12 ms at 100,000 images, each key press.
    total = _rows(session, "SELECT COUNT(*) FROM images")[0][0]
    by_status = dict(_rows(session, "SELECT status, COUNT(*) FROM images WHERE status IN (?, ?) GROUP BY status",
                           NOT_READABLE))
    unreadable = by_status.get("unreadable", 0)
    readable = total - unreadable - by_status.get("missing", 0)
    labelled = sum(info.count for info in (classes if classes is not None else labels.list_classes(session)))
    return Counts(readable + unreadable, labelled, readable - labelled, unreadable)

"""Queries for the image browser: which images a view shows (filter, sort, search), the few fields a
thumbnail needs, and the details of one image. Built for 100,000 images: ids first, fields on demand."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.storage.catalog import chunks
from core.storage.models import ClassRow, ImageRow, Prediction, Run

SHOW_ALL, SHOW_UNLABELLED, SHOW_UNREADABLE, SHOW_CLASS = "all", "unlabelled", "unreadable", "class"
SORT_NAME, SORT_DATE, SORT_SIZE = "name", "date", "size"
_SORT_COLUMNS = {SORT_NAME: ImageRow.path, SORT_DATE: ImageRow.mtime, SORT_SIZE: ImageRow.size}


@dataclass(frozen=True)
class GalleryQuery:
    show: str = SHOW_ALL  # SHOW_* ; SHOW_CLASS needs class_id
    class_id: int | None = None
    sort: str = SORT_NAME  # SORT_*
    descending: bool = False
    search: str = ""  # part of the file's path, any case

    @property
    def depends_on_labels(self) -> bool:
        """Whether labelling an image can add it to or drop it from this view."""
        return self.show in (SHOW_UNLABELLED, SHOW_CLASS)


def _live_label():
    """Images whose class exists (a retired class's images count as unlabelled)."""
    return ImageRow.class_id.in_(select(ClassRow.id).where(ClassRow.deleted.is_(False)))


def image_ids(session: Session, query: GalleryQuery) -> list[int]:
    """Ids of the present images the query selects, in its order (name breaks ties)."""
    stmt = select(ImageRow.id).where(ImageRow.status != "missing")
    if query.show == SHOW_UNLABELLED:
        stmt = stmt.where(ImageRow.status == "ok", (ImageRow.class_id.is_(None)) | ~_live_label())
    elif query.show == SHOW_UNREADABLE:
        stmt = stmt.where(ImageRow.status == "unreadable")
    elif query.show == SHOW_CLASS:
        stmt = stmt.where(ImageRow.class_id == query.class_id)
    if query.search.strip():
        stmt = stmt.where(ImageRow.path.contains(query.search.strip(), autoescape=True))
    column = _SORT_COLUMNS.get(query.sort, ImageRow.path)
    order = [column.desc() if query.descending else column.asc()]
    if column is not ImageRow.path:
        order.append(ImageRow.path)
    return list(session.scalars(stmt.order_by(*order, ImageRow.id)))


def unlabelled_ids(session: Session) -> set[int]:
    """Readable, present images without a live class: where "next unlabelled" may go."""
    return set(session.scalars(
        select(ImageRow.id).where(ImageRow.status == "ok", (ImageRow.class_id.is_(None)) | ~_live_label())
    ))


@dataclass(frozen=True)
class ImageCard:
    """What a thumbnail in the grid shows."""

    id: int
    path: str
    content_hash: str | None
    status: str
    error: str | None
    class_id: int | None


def cards(session: Session, ids: list[int]) -> dict[int, ImageCard]:
    found: dict[int, ImageCard] = {}
    columns = (ImageRow.id, ImageRow.path, ImageRow.content_hash, ImageRow.status, ImageRow.error, ImageRow.class_id)
    for chunk in chunks(ids):
        for row in session.execute(select(*columns).where(ImageRow.id.in_(chunk))):
            found[row.id] = ImageCard(*row)
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


@dataclass(frozen=True)
class Counts:
    images: int
    labelled: int
    unlabelled: int
    unreadable: int


def counts(session: Session) -> Counts:
    """All four counts in one pass over the images table."""
    live = _live_label()
    unlabelled = (ImageRow.status == "ok") & ((ImageRow.class_id.is_(None)) | ~live)
    row = session.execute(
        select(
            func.count(),
            func.count().filter(ImageRow.status == "unreadable"),
            func.count().filter(live),
            func.count().filter(unlabelled),
        ).where(ImageRow.status != "missing")
    ).one()
    images, unreadable, labelled, waiting = (value or 0 for value in row)
    return Counts(images, labelled, waiting, unreadable)

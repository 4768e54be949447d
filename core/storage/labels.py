"""Classes, the current label of each image, and the change history that undo/redo walk."""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InvalidRequest
from core.storage.catalog import chunks
from core.storage.models import NOT_READABLE, ChangeBatch, ClassRow, ImageRow, LabelChange, utcnow

# Distinct, colour-blind-friendly hues (Okabe-Ito, then Tableau), used in order for new classes.
PALETTE = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000",
    "#8c564b", "#7f7f7f", "#bcbd22", "#17becf",
]
MAX_NAME = 100
# Who made a change (change_batches.source, a plain string column: a new value needs no migration).
MANUAL, IMPORTED = "manual", "imported"
ACCEPTED_SUGGESTION = "suggestion"  # the user accepted the class a suspected mistake suggested
ACCEPTED_PREDICTION = "prediction"  # the user accepted a model's prediction for unlabelled images


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    colour: str
    position: int
    count: int


def list_classes(session: Session) -> list[ClassInfo]:
    """Live classes in order, each with its number of readable images. Counted from the class_id index
    alone, less the few unreadable or missing images found through the status index: ~5 ms at 100,000
    images, where a join took ~250 ms. (`status != 'ok'` would make SQLite walk the class_id index and visit
    every labelled row: ~50 ms.)"""
    labelled = ImageRow.class_id.is_not(None)
    per_class = dict(session.execute(
        select(ImageRow.class_id, func.count()).where(labelled).group_by(ImageRow.class_id)).all())
    for class_id, count in session.execute(
            select(ImageRow.class_id, func.count()).where(ImageRow.status.in_(NOT_READABLE), labelled)
            .group_by(ImageRow.class_id)):
        per_class[class_id] -= count
    rows = session.scalars(select(ClassRow).where(ClassRow.deleted.is_(False)).order_by(ClassRow.position, ClassRow.id))
    return [ClassInfo(c.id, c.name, c.colour, c.position, per_class.get(c.id, 0)) for c in rows]


def find_class(session: Session, name: str) -> ClassRow:
    row = session.scalar(select(ClassRow).where(ClassRow.name == name, ClassRow.deleted.is_(False)))
    if row is None:
        raise InvalidRequest(f"There is no class named {name!r}{_suggest(session, name)}.")
    return row


def _suggest(session: Session, name: str) -> str:
    """ "; did you mean 'cats'? (classes: cats, dogs)": the closest names first, then every one."""
    names = [c.name for c in list_classes(session)]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    close += [n for n in names if n.casefold() == name.casefold() and n not in close]
    hint = f"; did you mean {' or '.join(repr(n) for n in close)}?" if close else ""
    return hint + f" (classes: {', '.join(names) or 'none yet'})"


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequest("A class name cannot be empty.")
    if len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise InvalidRequest(f"A class name must be one line of at most {MAX_NAME} characters.")
    return name


def _check_name(session: Session, name: str) -> str:
    name = _valid_name(name)
    taken = session.scalar(select(ClassRow.id).where(ClassRow.name == name, ClassRow.deleted.is_(False)))
    if taken is not None:
        raise InvalidRequest(f"A class named {name!r} exists already.")
    return name


def add_class(session: Session, name: str, colour: str | None = None, source: str = "manual") -> int:
    class_id = _insert_class(session, _check_name(session, name), colour, source)
    if class_id is None:  # another process made it between our check and our insert
        raise InvalidRequest(f"A class named {name.strip()!r} exists already.")
    return class_id


def ensure_class(session: Session, name: str, source: str = "imported") -> int:
    """The id of the live class `name`, created if there is none; safe when other processes do the same."""
    row = _live_class(session, name.strip())
    if row is not None:
        return row.id
    name = _valid_name(name)
    class_id = _insert_class(session, name, None, source)
    return class_id if class_id is not None else _live_class(session, name).id


def _live_class(session: Session, name: str) -> ClassRow | None:
    return session.scalar(select(ClassRow).where(ClassRow.name == name, ClassRow.deleted.is_(False)))


def _insert_class(session: Session, name: str, colour: str | None, source: str) -> int | None:
    """Insert a live class; None when one of that name exists already. The unique index on live names
    decides, inside the write lock: a look first and an insert after would let two processes both insert."""
    live = list_classes(session)
    if colour is None:
        used = {c.colour for c in live}
        colour = next((c for c in PALETTE if c not in used), PALETTE[len(live) % len(PALETTE)])
    position = max((c.position for c in live), default=-1) + 1
    result = session.execute(insert(ClassRow).prefix_with("OR IGNORE").values(
        name=name, colour=colour, position=position, deleted=False))
    if result.rowcount == 0:
        return None
    class_id = result.inserted_primary_key[0]
    _new_batch(session, "class_add", source, {"class_id": class_id, "name": name})
    return class_id


def rename_class(session: Session, old: str, new: str) -> None:
    row = find_class(session, old)
    new = _check_name(session, new)
    _new_batch(session, "class_rename", "manual", {"class_id": row.id, "old": row.name, "new": new})
    row.name = new
    _flush_names(session, f"A class named {new!r} exists already.")


def _flush_names(session: Session, message: str) -> None:
    """Write pending class changes; a live name taken meanwhile (another process, or an undo that would
    bring back a name in use) becomes a message, not a crash."""
    try:
        session.flush()
    except IntegrityError:
        raise InvalidRequest(message) from None


def merge_classes(session: Session, source: str, target: str) -> int:
    """Relabel every image of `source` as `target`, then retire `source`. Returns images moved."""
    src, dst = find_class(session, source), find_class(session, target)
    if src.id == dst.id:
        raise InvalidRequest("A class cannot be merged into itself.")
    ids = list(session.scalars(select(ImageRow.id).where(ImageRow.class_id == src.id)))
    batch = _new_batch(session, "class_merge", "manual", {"class_id": src.id, "into": dst.id,
                                                          "name": src.name, "into_name": dst.name})
    _apply(session, batch, ids, dst.id)
    src.deleted = True
    return len(ids)


def delete_class(session: Session, name: str) -> int:
    """Retire a class; its images become unlabelled (undo brings both back). Returns images unlabelled."""
    row = find_class(session, name)
    ids = list(session.scalars(select(ImageRow.id).where(ImageRow.class_id == row.id)))
    batch = _new_batch(session, "class_delete", "manual", {"class_id": row.id, "name": row.name})
    _apply(session, batch, ids, None)
    row.deleted = True
    return len(ids)


def set_labels(
    session: Session, image_ids: list[int], class_id: int | None, source: str = "manual"
) -> int | None:
    """Label images (None clears). One undoable batch; returns its id, or None if nothing changed."""
    if class_id is not None:
        row = session.get(ClassRow, class_id)
        if row is None or row.deleted:
            raise InvalidRequest("That class no longer exists.")
    changing = [
        image_id
        for chunk in chunks(image_ids)
        for image_id in session.scalars(
            select(ImageRow.id).where(ImageRow.id.in_(chunk), _differs(ImageRow.class_id, class_id))
        )
    ]
    if not changing:
        return None
    batch = _new_batch(session, "label", source, {"count": len(changing), "class_id": class_id,
                                                  "name": row.name if class_id is not None else None})
    _apply(session, batch, changing, class_id)
    return batch.id


def assign_labels(session: Session, labels_by_image: dict[int, int | None], source: str = MANUAL) -> int | None:
    """Give each image its own class (accepting suggestions or predictions for several images at once), as
    ONE undoable batch; returns its id, or None if nothing changed."""
    wanted: dict[int | None, list[int]] = {}
    for image_id, class_id in labels_by_image.items():
        wanted.setdefault(class_id, []).append(image_id)
    for class_id in wanted:
        if class_id is not None:
            row = session.get(ClassRow, class_id)
            if row is None or row.deleted:
                raise InvalidRequest("That class no longer exists.")
    changing = {
        class_id: [i for chunk in chunks(ids) for i in session.scalars(
            select(ImageRow.id).where(ImageRow.id.in_(chunk), _differs(ImageRow.class_id, class_id)))]
        for class_id, ids in wanted.items()
    }
    count = sum(len(ids) for ids in changing.values())
    if not count:
        return None
    only = next(iter(changing)) if len(changing) == 1 else None
    name = session.get(ClassRow, only).name if only is not None else None
    batch = _new_batch(session, "label", source, {"count": count, "class_id": only, "name": name})
    for class_id, ids in changing.items():
        _apply(session, batch, ids, class_id)
    return batch.id


def _differs(column, value):
    return column.is_not(None) if value is None else (column.is_(None) | (column != value))


def _new_batch(session: Session, kind: str, source: str, detail: dict) -> ChangeBatch:
    # A new change ends the redo chain, as in every editor.
    session.execute(update(ChangeBatch).where(ChangeBatch.state == "undone").values(state="discarded"))
    batch = ChangeBatch(kind=kind, source=source, detail=detail)
    session.add(batch)
    session.flush()
    return batch


def _apply(session: Session, batch: ChangeBatch, image_ids: list[int], class_id: int | None) -> None:
    # Core executemany inserts, not ORM objects: 100,000 changes take a second, not ten.
    for chunk in chunks(image_ids):
        old = session.execute(select(ImageRow.id, ImageRow.class_id).where(ImageRow.id.in_(chunk))).all()
        session.execute(insert(LabelChange), [
            {"batch_id": batch.id, "image_id": i, "old_class_id": c, "new_class_id": class_id} for i, c in old
        ])
        session.execute(update(ImageRow).where(ImageRow.id.in_(chunk)).values(class_id=class_id))


@dataclass(frozen=True)
class UndoStep:
    batch_id: int
    kind: str
    description: str
    image_ids: list[int]


def undo(session: Session) -> UndoStep | None:
    """Revert the latest done user change (label or class operation). None when there is nothing to undo."""
    batch = session.scalar(
        select(ChangeBatch).where(ChangeBatch.state == "done", ChangeBatch.source != "imported")
        .order_by(ChangeBatch.id.desc()).limit(1)
    )
    return _replay(session, batch, undoing=True) if batch else None


def redo(session: Session) -> UndoStep | None:
    """Apply again the earliest undone change, so that several redos retrace the undos in order."""
    batch = session.scalar(
        select(ChangeBatch).where(ChangeBatch.state == "undone").order_by(ChangeBatch.id).limit(1)
    )
    return _replay(session, batch, undoing=False) if batch else None


def _replay(session: Session, batch: ChangeBatch, undoing: bool) -> UndoStep:
    # One UPDATE with a correlated lookup (indexed by batch and image): 100,000 images in about a second.
    in_batch = select(LabelChange.image_id).where(LabelChange.batch_id == batch.id)
    value = (select(LabelChange.old_class_id if undoing else LabelChange.new_class_id)
             .where(LabelChange.batch_id == batch.id, LabelChange.image_id == ImageRow.id).scalar_subquery())
    session.execute(update(ImageRow).where(ImageRow.id.in_(in_batch)).values(class_id=value))
    _class_effect(session, batch, undoing)
    _flush_names(session, f"Cannot {'undo' if undoing else 'redo'} '{describe(batch)}': a class of that name exists "
                          "now. Rename or delete that class first.")
    batch.state, batch.undone_at = ("undone", utcnow()) if undoing else ("done", None)
    return UndoStep(batch.id, batch.kind, describe(batch), list(session.scalars(in_batch)))


def can_undo(session: Session) -> bool:
    return session.scalar(
        select(func.count()).where(ChangeBatch.state == "done", ChangeBatch.source != "imported")
    ) > 0


def can_redo(session: Session) -> bool:
    return session.scalar(select(func.count()).where(ChangeBatch.state == "undone")) > 0


def _class_effect(session: Session, batch: ChangeBatch, undoing: bool) -> None:
    detail = batch.detail or {}
    row = session.get(ClassRow, detail["class_id"]) if "class_id" in detail and detail["class_id"] else None
    if row is None:
        return
    if batch.kind == "class_add":
        row.deleted = undoing
    elif batch.kind in ("class_delete", "class_merge"):
        row.deleted = not undoing
    elif batch.kind == "class_rename":
        row.name = detail["old"] if undoing else detail["new"]


def describe(batch: ChangeBatch) -> str:
    d = batch.detail or {}
    return {
        "label": _describe_labels(d),
        "class_add": f"add class {d.get('name')!r}",
        "class_rename": f"rename {d.get('old')!r} to {d.get('new')!r}",
        "class_merge": f"merge {d.get('name')!r} into {d.get('into_name')!r}",
        "class_delete": f"delete class {d.get('name')!r}",
    }.get(batch.kind, batch.kind)


def _describe_labels(detail: dict) -> str:
    """ "label 20 images as 'cat'", "clear the label of 3 images"; older batches without a name: "label 2 images"."""
    count = detail.get("count", 0)
    images = f"{count:,} image{'s' if count != 1 else ''}"
    if detail.get("name"):
        return f"label {images} as {detail['name']!r}"
    if "class_id" in detail and detail["class_id"] is None and "name" in detail:
        return f"clear the label of {images}"
    return f"label {images}"


@dataclass(frozen=True)
class HistoryEntry:
    batch_id: int
    kind: str
    source: str  # MANUAL, IMPORTED, ACCEPTED_SUGGESTION or ACCEPTED_PREDICTION
    state: str  # "done", "undone" or "discarded"
    description: str


def recent_changes(session: Session, limit: int = 50) -> list[HistoryEntry]:
    """The latest changes, newest first: what the history shows, with who made each."""
    rows = session.scalars(select(ChangeBatch).order_by(ChangeBatch.id.desc()).limit(limit))
    return [HistoryEntry(b.id, b.kind, b.source, b.state, describe(b)) for b in rows]


def next_step(session: Session, undoing: bool) -> HistoryEntry | None:
    """What Undo (or Redo) would do now, picked as undo / redo pick it; None when nothing."""
    query = (select(ChangeBatch).where(ChangeBatch.state == "done", ChangeBatch.source != "imported")
             .order_by(ChangeBatch.id.desc()) if undoing
             else select(ChangeBatch).where(ChangeBatch.state == "undone").order_by(ChangeBatch.id))
    batch = session.scalar(query.limit(1))
    return HistoryEntry(batch.id, batch.kind, batch.source, batch.state, describe(batch)) if batch else None


def change_signature(session: Session) -> tuple:
    """Changes whenever any process labels, undoes, redoes or changes classes: cheap enough to poll (a scan
    of the batches table). Imports are left out: a window learns of its own import when it lands."""
    row = session.execute(select(func.max(ChangeBatch.id), func.count(),
                                 func.sum(case((ChangeBatch.state == "undone", ChangeBatch.id), else_=0)))
                          .where(ChangeBatch.source != "imported")).one()
    return tuple(row)


def latest_batch_id(session: Session) -> int | None:
    return session.scalar(select(func.max(ChangeBatch.id)))


def changed_since(session: Session, batch_id: int | None) -> list[LabelChange]:
    """Label changes in effect made after `batch_id` (e.g. since the last training run)."""
    query = select(LabelChange).join(ChangeBatch).where(ChangeBatch.state == "done")
    if batch_id is not None:
        query = query.where(ChangeBatch.id > batch_id)
    return list(session.scalars(query.order_by(LabelChange.id)))


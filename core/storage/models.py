"""The project store's tables (SQLAlchemy 2.0 declarative). Schema changes go through an Alembic migration."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.storage.paths import StoredPath


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the project (root path, app version that created it)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


NOT_READABLE = ("unreadable", "missing")  # the statuses an image other than "ok" can have


class ImageRow(Base):
    __tablename__ = "images"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # relative to the root, POSIX separators; names that are not UTF-8 kept byte for byte (StoredPath)
    path: Mapped[str] = mapped_column(StoredPath, unique=True)
    content_hash: Mapped[str | None] = mapped_column(String, index=True)
    size: Mapped[int] = mapped_column(Integer, default=0, index=True)  # indexed: the grid sorts by size
    mtime: Mapped[float] = mapped_column(Float, default=0.0, index=True)  # and by date
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # "ok", "unreadable" (error says why) or "missing" (vanished from disk; its label is kept): NOT_READABLE.
    status: Mapped[str] = mapped_column(String, default="ok", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    class_id: Mapped[int | None] = mapped_column(
        ForeignKey("classes.id", ondelete="SET NULL"), index=True
    )
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClassRow(Base):
    __tablename__ = "classes"
    # One live class per name, so that two processes creating "cat" at once make one class, not two.
    __table_args__ = (Index("ux_classes_live_name", "name", unique=True, sqlite_where=text("deleted = 0")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, index=True)
    colour: Mapped[str] = mapped_column(String)  # "#rrggbb"
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Deleted and merged classes are kept (hidden) so that undo can bring them back.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class ChangeBatch(Base):
    """One user action: a (bulk) label change or a class operation. The unit of undo/redo."""

    __tablename__ = "change_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "label", "class_add", "class_rename", "class_merge", "class_delete", "import"
    kind: Mapped[str] = mapped_column(String)
    # Who set it: "manual", "imported", "suggestion" (an accepted suggested label), "prediction" (an accepted
    # prediction); see core/storage/labels.py.
    source: Mapped[str] = mapped_column(String)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    # "done", "undone", or "discarded" (undone, then a new change made redo impossible).
    state: Mapped[str] = mapped_column(String, default="done", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LabelChange(Base):
    __tablename__ = "label_changes"
    # Undo/redo look up each image's change within a batch.
    __table_args__ = (Index("ix_label_changes_batch_image", "batch_id", "image_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("change_batches.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    old_class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))
    new_class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))


class Embedding(Base):
    """Cached backbone output for one image content, one backbone+preprocessing, one view (0 = plain)."""

    __tablename__ = "embeddings"
    content_hash: Mapped[str] = mapped_column(String, primary_key=True)
    model_key: Mapped[str] = mapped_column(String, primary_key=True)
    view: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little endian


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "running", "finished", "cancelled", "failed", "interrupted"
    status: Mapped[str] = mapped_column(String, default="running", index=True)
    backbone: Mapped[str] = mapped_column(String)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    device: Mapped[str] = mapped_column(String, default="cpu")
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    model_path: Mapped[str | None] = mapped_column(String)  # relative to the store
    error: Mapped[str | None] = mapped_column(Text)
    # The process that runs it: a "running" run whose process is gone was interrupted (crash, kill).
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    # The last label-change batch included in this run's data: "what changed since training".
    last_batch_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    name: Mapped[str | None] = mapped_column(String)  # given by the user; None: "Run <id>"
    note: Mapped[str | None] = mapped_column(Text)


class RunEpoch(Base):
    __tablename__ = "run_epochs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String)  # "head" or "fine-tune"
    epoch: Mapped[int] = mapped_column(Integer)
    train_loss: Mapped[float | None] = mapped_column(Float)
    train_acc: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_acc: Mapped[float | None] = mapped_column(Float)
    images_per_s: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float | None] = mapped_column(Float)


class Prediction(Base):
    """A run's prediction for one image. out_of_fold: made by a model that did not train on the image."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("run_id", "image_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String, default="oof")  # "oof" or "model" (the final model)
    predicted_class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))
    confidence: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[list] = mapped_column(JSON)  # in the order of the run's classes


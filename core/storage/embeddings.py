"""The embeddings cache table: one float32 vector per (content hash, model key, view)."""
from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from core.storage.catalog import chunks
from core.storage.models import Embedding


def cached_pairs(session: Session, model_key: str, content_hashes: list[str], views) -> set[tuple[str, int]]:
    """Which (content hash, view) pairs already have a vector for this model key."""
    found: set[tuple[str, int]] = set()
    for chunk in chunks(content_hashes):
        rows = session.execute(
            select(Embedding.content_hash, Embedding.view).where(
                Embedding.model_key == model_key,
                Embedding.content_hash.in_(chunk),
                Embedding.view.in_(list(views)),
            )
        )
        found.update((row.content_hash, row.view) for row in rows)
    return found


def store(session: Session, model_key: str, rows: list[tuple[str, int, np.ndarray]]) -> None:
    """Insert (content hash, view, vector) rows; a row another process stored meanwhile is kept."""
    if not rows:
        return
    values = [
        {"content_hash": h, "model_key": model_key, "view": v, "vector": vec.astype("<f4").tobytes()}
        for h, v, vec in rows
    ]
    session.execute(insert(Embedding).values(values).on_conflict_do_nothing())


def vectors(session: Session, model_key: str, content_hashes: list[str], view: int) -> dict[str, bytes]:
    """content hash -> raw float32 bytes, for those that are cached."""
    found: dict[str, bytes] = {}
    for chunk in chunks(list(dict.fromkeys(content_hashes))):
        rows = session.execute(
            select(Embedding.content_hash, Embedding.vector).where(
                Embedding.model_key == model_key, Embedding.view == view, Embedding.content_hash.in_(chunk)
            )
        )
        found.update((row.content_hash, row.vector) for row in rows)
    return found

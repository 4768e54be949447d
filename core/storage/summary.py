"""What the window shows of the store as a whole (classes and their counts, the image counts, what Undo and
Redo would do, whether the grid's predictions are older than the labels), read in one go right after a change,
in the session that made it. A large change is written in a child process: reading this there, on the
connection that just wrote, spares the window's thread re-reading 100,000 rows through a cold page cache."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.storage import gallery, labels


@dataclass(frozen=True)
class StoreSummary:
    classes: tuple[labels.ClassInfo, ...]
    counts: gallery.Counts
    signature: tuple  # labels.change_signature
    next_undo: labels.HistoryEntry | None
    next_redo: labels.HistoryEntry | None
    predictions_stale: bool  # the newest model's predictions of unlabelled images predate the latest labels


def read_summary(session: Session) -> StoreSummary:
    session.flush()  # what this session just changed counts
    classes = labels.list_classes(session)
    source = gallery.unlabelled_prediction_source(session)
    return StoreSummary(tuple(classes), gallery.counts(session, classes), labels.change_signature(session),
                        labels.next_step(session, True), labels.next_step(session, False),
                        source is not None and source.stale)


def act_and_summarise(session: Session, action, *args) -> tuple[object, StoreSummary]:
    """action(session, *args), then the summary of the store it left: (its result, the summary)."""
    result = action(session, *args)
    return result, read_summary(session)

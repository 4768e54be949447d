"""Run to run: which images changed predicted class, and which label edits happened in between.

Also how labels stood when a run started: the current labels with every later change undone, so a run is
always judged against the labels it was trained on, even after the user has fixed some."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

from core.storage import catalog, labels, predictions, runs


class _Change(Protocol):
    image_id: int
    batch_id: int
    old_class_id: int | None
    new_class_id: int | None


@dataclass(frozen=True)
class PredictionChange:
    image_id: int
    path: str
    before: str | None  # predicted class in the earlier run (None: a class deleted since)
    after: str | None  # predicted class in the later run
    label: str | None  # the image's label now

    @property
    def verdict(self) -> str:
        """"fixed" (the later run gets it right), "newly wrong", or "still wrong" (wrong in both, differently)."""
        if self.label is not None and self.after == self.label:
            return "fixed"
        if self.label is not None and self.before == self.label:
            return "newly wrong"
        return "still wrong"


@dataclass(frozen=True)
class LabelEdit:
    image_id: int
    path: str
    old: str | None  # None: unlabelled
    new: str | None


@dataclass(frozen=True)
class RunComparison:
    earlier: int
    later: int
    kind: str  # the predictions compared: "oof" or "model"
    compared: int  # images predicted by both runs
    changed_predictions: list[PredictionChange]
    label_edits: list[LabelEdit]


def labels_at(current: dict[int, int | None], later: Iterable[_Change]) -> dict[int, int | None]:
    """image id -> class id as it stood before the `later` changes (given oldest first)."""
    before = dict(current)
    seen: set[int] = set()
    for change in later:
        if change.image_id not in seen:
            seen.add(change.image_id)
            before[change.image_id] = change.old_class_id
    return before


def net_edits(changes: Iterable[_Change], after_batch: int | None, upto_batch: int | None) -> dict[int, tuple]:
    """image id -> (old, new) class id over the batches in (after_batch, upto_batch]; edits that cancel out
    (a label changed and changed back) are left out."""
    net: dict[int, list] = {}
    for change in changes:
        if after_batch is not None and change.batch_id <= after_batch:
            continue
        if upto_batch is None or change.batch_id > upto_batch:
            continue
        if change.image_id in net:
            net[change.image_id][1] = change.new_class_id
        else:
            net[change.image_id] = [change.old_class_id, change.new_class_id]
    return {image_id: (old, new) for image_id, (old, new) in net.items() if old != new}


def changed_classes(
    before: dict[int, int | None], after: dict[int, int | None]
) -> list[tuple[int, int | None, int | None]]:
    """(image id, class before, class after) for images predicted in both whose class differs."""
    return [(i, before[i], after[i]) for i in sorted(before.keys() & after.keys()) if before[i] != after[i]]


def compare_runs(project, run_a: int, run_b: int, kind: str = "oof") -> RunComparison:
    """Compare two runs (in either order; the earlier is the one with the smaller id)."""
    earlier, later = sorted((run_a, run_b))
    with project.session() as session:
        first, second = runs.get_run(session, earlier), runs.get_run(session, later)
        before = predictions.predicted_classes(session, earlier, kind)
        after = predictions.predicted_classes(session, later, kind)
        changes = changed_classes(before, after)
        edits = net_edits(labels.changed_since(session, first.last_batch_id), first.last_batch_id,
                          second.last_batch_id)
        ids = sorted({i for i, _, _ in changes} | set(edits))
        rows = {row.id: row for row in catalog.images_by_ids(session, ids)}
        names = predictions.class_names(session)
    return RunComparison(
        earlier, later, kind, len(before.keys() & after.keys()),
        [PredictionChange(i, rows[i].path, names.get(b), names.get(a), names.get(rows[i].class_id))
         for i, b, a in changes if i in rows],
        [LabelEdit(i, rows[i].path, names.get(old), names.get(new)) for i, (old, new) in sorted(edits.items())
         if i in rows],
    )


@dataclass(frozen=True)
class CellChange:
    given: str
    predicted: str
    before: int
    after: int


def confusion_changes(before, after) -> list[CellChange]:
    """The mistake cells (given != predicted) whose count changed between two confusion matrices, matched by
    class name, biggest change first: "cat->dog: 12 -> 3"."""
    def cells(confusion) -> dict[tuple[str, str], int]:
        names = confusion.class_names
        return {(names[i], names[j]): count for i, row in enumerate(confusion.counts) for j, count in enumerate(row)
                if i != j}

    old, new = cells(before), cells(after)
    changes = [CellChange(g, p, old.get((g, p), 0), new.get((g, p), 0)) for g, p in dict.fromkeys([*old, *new])
               if old.get((g, p), 0) != new.get((g, p), 0)]
    return sorted(changes, key=lambda c: (-abs(c.after - c.before), c.given, c.predicted))

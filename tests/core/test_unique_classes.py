"""Issue 12, item 11: two processes creating the same new class make one class, and older stores that got
duplicates that way are merged on open with every label kept."""
import multiprocessing
import sqlite3

from alembic import command

from core.project import Project
from core.storage import catalog, database, labels

PROCESSES = 4
TRIALS = 5


def _label_as(root: str, name: str, image: str, barrier) -> None:
    with Project.open(root) as project:
        barrier.wait()  # all at once: each looks for the class before any has created it
        with project.session() as session:
            class_id = labels.ensure_class(session, name, source="manual")
            labels.set_labels(session, [catalog.image_by_path(session, image).id], class_id)


def test_processes_creating_the_same_class_at_once_make_one(tmp_path):
    with Project.open(tmp_path) as project, project.session() as session:
        for i in range(PROCESSES * TRIALS):
            catalog.add_image(session, path=f"{i}.png", content_hash=f"h{i}")
    context = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        barrier = context.Barrier(PROCESSES)
        workers = [context.Process(target=_label_as, args=(str(tmp_path), f"new {trial}",
                                                           f"{trial * PROCESSES + i}.png", barrier))
                   for i in range(PROCESSES)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0] * PROCESSES
    with Project.open(tmp_path) as project, project.session() as session:
        assert catalog.summary(session).per_class == {f"new {t}": PROCESSES for t in range(TRIALS)}


def test_duplicates_in_an_older_store_are_merged_keeping_every_label(tmp_path):
    project = Project.open(tmp_path)
    command.downgrade(database._alembic_config(project._engine), "0002")
    project.close()
    db = sqlite3.connect(tmp_path / ".dovecote" / "project.sqlite")
    db.executemany("INSERT INTO classes (id, name, colour, position, deleted) VALUES (?, ?, '#000000', ?, ?)",
                   [(1, "cat", 0, 0), (2, "cat", 1, 0), (3, "dog", 2, 0), (4, "cat", 3, 1)])
    db.executemany("INSERT INTO images (id, path, size, mtime, status, class_id, added_at) "
                   "VALUES (?, ?, 0, 0, 'ok', ?, '2026-01-01')", [(1, "a.png", 1), (2, "b.png", 2), (3, "c.png", 3)])
    db.commit()
    db.close()
    with Project.open(tmp_path) as project, project.session() as session:
        assert catalog.summary(session).per_class == {"cat": 2, "dog": 1}
        # a deleted "cat" is kept for undo; a live one cannot be made again
        labels.ensure_class(session, "cat")
        assert [c.name for c in labels.list_classes(session)] == ["cat", "dog"]

"""The image browser's queries (core/storage/gallery.py): filters, sorting, search, counts."""
from __future__ import annotations

import pytest

from core.project import Project
from core.storage import catalog, gallery, labels, summary
from core.storage.gallery import GalleryQuery


@pytest.fixture
def project(tmp_path):
    with Project.open(tmp_path) as project:
        with project.session() as session:
            for i, (path, size) in enumerate([("b.jpg", 30), ("a_1.jpg", 10), ("a%1.jpg", 20), ("c/d.jpg", 40)]):
                catalog.add_image(session, path=path, size=size, mtime=1000 - i, content_hash=f"{i:032x}",
                                  width=8, height=8, status="ok")
            catalog.add_image(session, path="bad.jpg", size=1, mtime=1, status="unreadable", error="empty file")
            catalog.add_image(session, path="gone.jpg", size=1, mtime=1, status="missing")
        yield project


def paths(project, query: GalleryQuery) -> list[str]:
    with project.session() as session:
        ids = gallery.image_ids(session, query)
        found = gallery.cards(session, ids)
    return [found[i].path for i in ids]


def ids_of(project, *wanted: str) -> list[int]:
    with project.session() as session:
        return [catalog.image_by_path(session, path).id for path in wanted]


def test_all_images_by_name_without_missing_ones(project):
    assert paths(project, GalleryQuery()) == ["a%1.jpg", "a_1.jpg", "b.jpg", "bad.jpg", "c/d.jpg"]
    assert paths(project, GalleryQuery(descending=True))[0] == "c/d.jpg"


def test_sort_by_size_and_date(project):
    assert paths(project, GalleryQuery(sort=gallery.SORT_SIZE))[:3] == ["bad.jpg", "a_1.jpg", "a%1.jpg"]
    assert paths(project, GalleryQuery(sort=gallery.SORT_DATE, descending=True))[0] == "b.jpg"


def test_search_treats_wildcards_as_text(project):
    assert paths(project, GalleryQuery(search="A%")) == ["a%1.jpg"]
    assert paths(project, GalleryQuery(search="_1")) == ["a_1.jpg"]


def test_label_filters_and_next_unlabelled(project):
    a, b, d = ids_of(project, "a_1.jpg", "b.jpg", "c/d.jpg")
    with project.session() as session:
        cat = labels.add_class(session, "cat")
        labels.set_labels(session, [a, b], cat)
    assert paths(project, GalleryQuery(show=gallery.SHOW_CLASS, class_id=cat)) == ["a_1.jpg", "b.jpg"]
    assert paths(project, GalleryQuery(show=gallery.SHOW_UNLABELLED)) == ["a%1.jpg", "c/d.jpg"]
    assert paths(project, GalleryQuery(show=gallery.SHOW_UNREADABLE)) == ["bad.jpg"]
    with project.session() as session:
        assert gallery.first_unlabelled(session, [a, b, d], chunk=1) == d
        drawn = []
        candidates = (drawn.append(i) or i for i in [a, d, b, b, b, b])
        assert gallery.first_unlabelled(session, candidates, chunk=1) == d and drawn == [a, d, b]  # chunks of 1, 2
        assert gallery.counts(session) == gallery.Counts(images=5, labelled=2, unlabelled=2, unreadable=1)
        assert gallery.history_step_size(session, undoing=True) == 2
        labels.delete_class(session, "cat")
        assert gallery.counts(session).unlabelled == 4
        assert gallery.history_step_size(session, undoing=True) == 2  # the delete unlabels a and b
        labels.undo(session)
        assert gallery.history_step_size(session, undoing=False) == 2
        assert gallery.history_step_size(session, undoing=True) == 2  # the labelling before it


def test_class_counts_leave_out_unreadable_and_missing_images_and_deleted_classes(project):
    a, b, bad, gone = ids_of(project, "a_1.jpg", "b.jpg", "bad.jpg", "gone.jpg")
    with project.session() as session:
        cat, dog = labels.add_class(session, "cat"), labels.add_class(session, "dog")
        labels.add_class(session, "bird")
        labels.set_labels(session, [a, b, bad, gone], cat)  # unreadable and missing images are not counted
        labels.set_labels(session, [b], dog)
        labels.delete_class(session, "bird")
        assert [(c.name, c.count) for c in labels.list_classes(session)] == [("cat", 1), ("dog", 1)]


def test_image_details(project):
    (a,) = ids_of(project, "a_1.jpg")
    with project.session() as session:
        details = gallery.image_details(session, a)
    assert (details.path, details.size, details.class_name, details.prediction) == ("a_1.jpg", 10, None, None)


def test_the_newest_finished_run_gives_the_prediction_held_out_first(project):
    from core.storage.models import Prediction, Run

    (a,) = ids_of(project, "a_1.jpg")
    with project.session() as session:
        cat, dog = labels.add_class(session, "cat"), labels.add_class(session, "dog")
        old, new, failed = (Run(status=status, backbone="b") for status in ("finished", "finished", "failed"))
        session.add_all([old, new, failed])
        session.flush()
        session.add_all([
            Prediction(run_id=old.id, image_id=a, kind="oof", predicted_class_id=cat, confidence=0.6,
                       probabilities=[0.6, 0.4]),
            Prediction(run_id=new.id, image_id=a, kind="model", predicted_class_id=cat, confidence=0.7,
                       probabilities=[0.7, 0.3]),
            Prediction(run_id=new.id, image_id=a, kind="oof", predicted_class_id=dog, confidence=0.8,
                       probabilities=[0.2, 0.8]),
            Prediction(run_id=failed.id, image_id=a, kind="oof", predicted_class_id=cat, confidence=0.9,
                       probabilities=[0.9, 0.1]),
        ])
    with project.session() as session:
        assert gallery.image_details(session, a).prediction == gallery.PredictionInfo("dog", 0.8, True)


def test_the_summary_after_every_change_never_walks_the_labelled_rows(project):
    """The window reads the store's summary after each label key press: at 100,000 images a query that visits
    every labelled row costs ~50 ms there. Each of its queries must be answered from an index alone, or reach
    only the few rows a selective index finds."""
    a, b = ids_of(project, "a_1.jpg", "b.jpg")
    with project.session() as session:
        labels.set_labels(session, [a, b], labels.add_class(session, "cat"))
        raw = session.connection().connection.driver_connection
        statements: list[str] = []
        raw.set_trace_callback(statements.append)
        summary.read_summary(session)
        raw.set_trace_callback(None)
        plans = {sql: [row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}")]
                 for sql in statements if sql.lstrip().upper().startswith("SELECT")}
    assert plans
    walking = {sql: steps for sql, steps in plans.items()
               if any(("SCAN images" in step and "COVERING INDEX" not in step)
                      or ("USING INDEX ix_images_class_id" in step) for step in steps)}
    assert walking == {}


def test_reading_a_large_id_list_sets_off_no_garbage_collections(tmp_path):
    """The grid's id list is read on a thread of the window's process; a collection there pauses the window
    too. Reading it row by row keeps no tuple per row alive, so the collector has nothing to count."""
    import gc

    with Project.open(tmp_path) as project:
        with project.session() as session:
            for i in range(7_000):
                catalog.add_image(session, path=f"{i:05d}.jpg", size=i, status="ok")
        with project.session() as session:
            gc.collect()
            before = gc.get_stats()[0]["collections"]
            ids = gallery.image_ids(session, GalleryQuery(sort="size"))
            assert gc.get_stats()[0]["collections"] - before <= 1  # fetched at once: 10
    assert len(ids) == 7_000

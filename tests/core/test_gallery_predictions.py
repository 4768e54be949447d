"""The gallery's prediction filters (core/storage/gallery.py): they read the newest finished run's held-out
predictions of present, readable images."""
from __future__ import annotations

import pytest

from core.project import Project
from core.storage import catalog, gallery, labels, predictions, runs
from core.storage.gallery import GalleryQuery
from core.storage.predictions import StoredPrediction


@pytest.fixture
def project(tmp_path):
    with Project.open(tmp_path) as project:
        with project.session() as session:
            for name in ("a", "b", "c", "d", "gone"):
                catalog.add_image(session, path=f"{name}.jpg", size=1, mtime=1, content_hash=name * 32, width=8,
                                  height=8, status="missing" if name == "gone" else "ok")
        yield project


def store_run(session, status: str, guesses: dict[int, tuple[int, float]], kind: str = "oof") -> int:
    run_id = runs.start_run(session, "fake", {}, seed=0, device="cpu")
    rows = [StoredPrediction(image_id, class_id, confidence, [confidence])
            for image_id, (class_id, confidence) in guesses.items()]
    predictions.replace_predictions(session, run_id, kind, rows)
    runs.end_run(session, run_id, status)
    return run_id


def paths(project, show: str, class_id: int | None = None) -> list[str]:
    with project.session() as session:
        ids = gallery.image_ids(session, GalleryQuery(show=show, class_id=class_id))
        found = gallery.cards(session, ids)
    return [found[i].path for i in ids]


def test_prediction_filters_read_the_newest_finished_run(project):
    with project.session() as session:
        a, b, c, d, gone = (catalog.image_by_path(session, f"{n}.jpg").id for n in ("a", "b", "c", "d", "gone"))
        cat, dog, bird = (labels.add_class(session, name) for name in ("cat", "dog", "bird"))
        labels.set_labels(session, [a, b], cat)
        labels.set_labels(session, [c, d], dog)
        assert gallery.prediction_run(session) is None
        store_run(session, "finished", {a: (dog, 0.9), b: (dog, 0.9), c: (dog, 0.9), d: (dog, 0.9)})
        latest = store_run(session, "finished", {a: (cat, 0.95), b: (dog, 0.8), c: (dog, 0.55), d: (bird, 0.7),
                                                 gone: (dog, 0.1)})
        store_run(session, "cancelled", {a: (dog, 0.1)})
        store_run(session, "finished", {a: (dog, 0.1)}, kind="model")  # no held-out predictions: not used
        labels.delete_class(session, "bird")
        assert gallery.prediction_run(session) == latest
        assert gallery.predicted_class_ids(session, latest) == {cat, dog, bird}
    assert paths(project, gallery.SHOW_PREDICTED, dog) == ["b.jpg", "c.jpg"]  # not the missing one
    assert paths(project, gallery.SHOW_PREDICTED, cat) == ["a.jpg"]
    assert paths(project, gallery.SHOW_LOW_CONFIDENCE) == ["c.jpg"]
    # b: labelled cat, predicted dog. d's predicted class was deleted: nothing the user could relabel it to.
    assert paths(project, gallery.SHOW_DISAGREES) == ["b.jpg"]
    assert GalleryQuery(show=gallery.SHOW_DISAGREES).depends_on_labels


def test_no_prediction_filter_shows_anything_without_a_run(project):
    for show in (gallery.SHOW_LOW_CONFIDENCE, gallery.SHOW_DISAGREES):
        assert paths(project, show) == []

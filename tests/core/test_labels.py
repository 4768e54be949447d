import pytest

from core.errors import InvalidRequest
from core.project import Project
from core.storage import catalog, labels


@pytest.fixture
def project(tmp_path):
    with Project.open(tmp_path) as project:
        with project.session() as session:
            for i in range(6):
                catalog.add_image(session, path=f"{i}.png", content_hash=f"h{i}")
        yield project


def ids(project):
    with project.session() as session:
        return [row.id for row in catalog.all_images(session)]


def counts(project):
    with project.session() as session:
        return catalog.summary(session).per_class


def test_bulk_label_undo_redo(project):
    with project.session() as s:
        cat = labels.add_class(s, "cat")
        labels.set_labels(s, ids(project)[:4], cat)
    assert counts(project) == {"cat": 4}
    with project.session() as s:
        step = labels.undo(s)
    assert step.description == "label 4 images as 'cat'" and len(step.image_ids) == 4
    assert counts(project) == {"cat": 0}
    with project.session() as s:
        labels.redo(s)
    assert counts(project) == {"cat": 4}


def test_undo_survives_reopening_the_project(project, tmp_path):
    with project.session() as s:
        labels.set_labels(s, ids(project)[:2], labels.add_class(s, "cat"))
    project.close()
    with Project.open(tmp_path) as again:
        with again.session() as s:
            labels.undo(s)
        assert counts(again) == {"cat": 0}


def test_a_new_change_after_undo_ends_the_redo_chain(project):
    with project.session() as s:
        cat, dog = labels.add_class(s, "cat"), labels.add_class(s, "dog")
        labels.set_labels(s, ids(project)[:1], cat)
        labels.undo(s)
        labels.set_labels(s, ids(project)[1:2], dog)
        assert not labels.can_redo(s)
        assert labels.redo(s) is None


def test_relabelling_only_records_images_that_change(project):
    with project.session() as s:
        cat = labels.add_class(s, "cat")
        labels.set_labels(s, ids(project)[:2], cat)
        assert labels.set_labels(s, ids(project)[:2], cat) is None
        labels.set_labels(s, ids(project)[:3], cat)
        assert len(labels.undo(s).image_ids) == 1


def test_class_rename_merge_delete_and_their_undo(project):
    with project.session() as s:
        cat, dog = labels.add_class(s, "cat"), labels.add_class(s, "dog")
        labels.set_labels(s, ids(project)[:2], cat)
        labels.set_labels(s, ids(project)[2:5], dog)
        labels.rename_class(s, "cat", "kitten")
    assert counts(project) == {"kitten": 2, "dog": 3}
    with project.session() as s:
        assert labels.merge_classes(s, "kitten", "dog") == 2
    assert counts(project) == {"dog": 5}
    with project.session() as s:
        labels.undo(s)
    assert counts(project) == {"kitten": 2, "dog": 3}
    with project.session() as s:
        assert labels.delete_class(s, "dog") == 3
    assert counts(project) == {"kitten": 2}
    with project.session() as s:
        labels.undo(s)
        labels.undo(s)  # the rename
    assert counts(project) == {"cat": 2, "dog": 3}


def test_bad_class_names_are_refused(project):
    with project.session() as s:
        labels.add_class(s, "cat")
        for bad in ("", "   ", "cat", "a\nb", "x" * 101):
            with pytest.raises(InvalidRequest):
                labels.add_class(s, bad)
        with pytest.raises(InvalidRequest, match="no class named 'cow'"):
            labels.find_class(s, "cow")


def test_new_classes_get_distinct_colours_and_order(project):
    with project.session() as s:
        for name in ("a", "b", "c"):
            labels.add_class(s, name)
        classes = labels.list_classes(s)
    assert [c.name for c in classes] == ["a", "b", "c"]
    assert len({c.colour for c in classes}) == 3


def test_changes_since_a_point_in_history(project):
    with project.session() as s:
        cat = labels.add_class(s, "cat")
        labels.set_labels(s, ids(project)[:2], cat)
        mark = labels.latest_batch_id(s)
        labels.set_labels(s, ids(project)[2:3], cat)
        labels.set_labels(s, ids(project)[3:4], cat)
        labels.undo(s)
        changed = labels.changed_since(s, mark)
    assert [c.image_id for c in changed] == ids(project)[2:3]

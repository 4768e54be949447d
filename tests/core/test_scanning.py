import os
import shutil

import pytest

from core.events import Notice
from core.project import Project
from core.importing.scanning import ImportFinished, import_folder
from core.storage import catalog, labels
from core.images.thumbnails import ThumbnailCache
from imagegen import bad_files, class_folder, solid


def run_import(project, **kw):
    events = list(import_folder(project, **kw))
    assert isinstance(events[-1], ImportFinished)
    return events[-1].summary, events


def status(project):
    with project.session() as s:
        return catalog.summary(s)


@pytest.fixture
def project(tmp_path):
    class_folder(tmp_path / "photos", classes=("cats", "dogs"), per_class=3)
    with Project.open(tmp_path / "photos") as project:
        yield project


def test_subfolders_become_classes(project):
    summary, _ = run_import(project, labels_from_subfolders=True)
    assert summary.added == 6 and summary.labelled == 6
    assert status(project).per_class == {"cats": 3, "dogs": 3}


def test_bad_files_are_recorded_with_reasons_and_never_stop_the_import(tmp_path):
    expect = bad_files(tmp_path / "mixed")
    with Project.open(tmp_path / "mixed") as project:
        summary, events = run_import(project)
        unreadable = dict(status(project).unreadable)
    assert summary.found == len(expect)
    bad = {name for name, outcome in expect.items() if outcome != "ok"}
    assert set(unreadable) == bad
    for name in bad:
        assert expect[name] in unreadable[name]
    assert sum(isinstance(e, Notice) for e in events) == len(bad)


def test_rescan_adds_new_marks_missing_and_keeps_labels_of_moved_files(project):
    run_import(project, labels_from_subfolders=True)
    root = project.root
    solid(root / "cats" / "new.png", (1, 2, 3))
    os.remove(root / "dogs" / "0.png")
    shutil.move(root / "cats" / "1.png", root / "renamed.png")
    summary, _ = run_import(project)
    assert (summary.added, summary.moved, summary.missing) == (1, 1, 1)
    with project.session() as s:
        moved = catalog.image_by_path(s, "renamed.png")
        gone = catalog.image_by_path(s, "dogs/0.png")
        assert labels.list_classes(s)[0].name == "cats" and moved.class_id == labels.find_class(s, "cats").id
        assert gone.status == "missing" and gone.class_id is not None  # label kept while missing
    # the file comes back: present again, label intact
    solid(root / "dogs" / "0.png", (40, 180, 60))
    run_import(project)
    assert status(project).per_class == {"cats": 3, "dogs": 3}


def test_unchanged_files_are_not_read_again(project):
    run_import(project)
    summary, events = run_import(project)
    assert (summary.added, summary.updated) == (0, 0)


def test_changed_file_is_read_again(project):
    run_import(project)
    target = project.root / "cats" / "0.png"
    solid(target, (0, 0, 0), size=(10, 10))
    os.utime(target, (1, 1))
    summary, _ = run_import(project)
    assert summary.updated == 1
    with project.session() as s:
        assert catalog.image_by_path(s, "cats/0.png").width == 10


def test_hidden_files_and_the_store_are_skipped_and_links_do_not_loop(project):
    root = project.root
    solid(root / ".hidden.png")
    solid(root / ".cache" / "x.png")
    os.symlink(root, root / "cats" / "loop")
    summary, _ = run_import(project)
    assert summary.found == 6


def test_thumbnails_are_cached_by_content(project):
    run_import(project)
    with project.session() as s:
        hashes = {row.content_hash for row in catalog.all_images(s)}
    cache = ThumbnailCache(project.thumbnails_dir)
    assert all(cache.has(h) for h in hashes)


def test_cancelled_import_keeps_what_was_committed(tmp_path, monkeypatch):
    monkeypatch.setattr("core.importing.scanning.CHUNK", 2)
    class_folder(tmp_path / "many", per_class=5)
    with Project.open(tmp_path / "many") as project:
        events = import_folder(project)
        for event in events:
            if getattr(event, "phase", "") == "Reading images" and event.done == 4:
                events.close()
        assert status(project).images == 4
        summary, _ = run_import(project)
        assert summary.added == 6 and status(project).images == 10

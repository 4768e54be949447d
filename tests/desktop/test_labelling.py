"""Labelling with the keyboard and the mouse: what a user presses ends up in the store."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt

from core.project import Project
from core.storage import catalog, labels
from desktop.project import context as project_context
from desktop.widgets.image_drag import IMAGE_IDS_MIME


def labels_in_store(root) -> dict[str, str | None]:
    """path → class name, read with a fresh connection (what a restart would see)."""
    with Project.open(root) as project, project.session() as session:
        names = {c.id: c.name for c in labels.list_classes(session)}
        return {row.path: names.get(row.class_id) for row in catalog.all_images(session)}


def prepare(window, open_folder, folder):
    open_folder(window, folder)
    window.context.add_class("cat")
    window.context.add_class("dog")
    window.grid.setFocus()


def select(window, paths):
    ids = [window.model.image_id(r) for r in range(window.model.rowCount())
           if window.model.card(r).path in paths]
    window.grid.select_ids(ids)
    return ids


def test_number_keys_label_the_selection_and_move_to_the_next_unlabelled(qtbot, window, open_folder, folder):
    prepare(window, open_folder, folder)
    select(window, ["cats/0.png", "cats/1.png"])
    qtbot.keyClick(window.grid, Qt.Key.Key_1)
    stored = labels_in_store(folder)
    assert stored["cats/0.png"] == stored["cats/1.png"] == "cat"
    assert stored["cats/2.png"] is None
    current = window.model.card(window.grid.currentIndex().row()).path
    assert current == "cats/2.png" and window.grid.selected_count() == 1

    qtbot.keyClick(window.grid, Qt.Key.Key_2)  # labels cats/2.png (now selected) as dog
    assert labels_in_store(folder)["cats/2.png"] == "dog"


def test_zero_and_backspace_clear_labels(qtbot, window, open_folder, folder):
    prepare(window, open_folder, folder)
    select(window, ["dogs/0.png", "dogs/1.png"])
    qtbot.keyClick(window.grid, Qt.Key.Key_2)
    select(window, ["dogs/0.png"])
    qtbot.keyClick(window.grid, Qt.Key.Key_0)
    select(window, ["dogs/1.png"])
    qtbot.keyClick(window.grid, Qt.Key.Key_Backspace)
    stored = labels_in_store(folder)
    assert stored["dogs/0.png"] is None and stored["dogs/1.png"] is None


def test_a_key_without_a_class_changes_nothing_and_says_why(qtbot, window, open_folder, folder):
    prepare(window, open_folder, folder)
    select(window, ["cats/0.png"])
    qtbot.keyClick(window.grid, Qt.Key.Key_7)
    assert labels_in_store(folder)["cats/0.png"] is None
    assert "No class has the key 7" in window.status.currentMessage()


def test_undo_and_redo_bulk_changes_even_after_a_restart(qtbot, window, open_folder, folder):
    prepare(window, open_folder, folder)
    changed = select(window, ["cats/0.png", "cats/1.png", "cats/2.png"])
    qtbot.keyClick(window.grid, Qt.Key.Key_1)
    with qtbot.waitSignal(window.context.history_step):  # undo and redo are written in the background
        qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert all(labels_in_store(folder)[f"cats/{i}.png"] is None for i in range(3))
    assert sorted(window.grid.selected_ids()) == sorted(changed)  # what came back is shown
    with qtbot.waitSignal(window.context.history_step):
        qtbot.keyClick(window.grid, Qt.Key.Key_Z,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert all(labels_in_store(folder)[f"cats/{i}.png"] == "cat" for i in range(3))
    window.close()

    from desktop.window.main_window import MainWindow

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    again.activateWindow()
    open_folder(again, folder)
    assert again.label_actions.undo.isEnabled()
    with qtbot.waitSignal(again.context.history_step):
        qtbot.keyClick(again.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert all(labels_in_store(folder)[f"cats/{i}.png"] is None for i in range(3))


def test_dropping_the_selection_on_a_class_labels_it(qtbot, window, open_folder, folder, drop):
    prepare(window, open_folder, folder)
    ids = select(window, ["dogs/2.png", "dogs/3.png"])
    mime = window.model.mimeData(window.grid.selectedIndexes())
    assert sorted(json.loads(bytes(mime.data(IMAGE_IDS_MIME)))) == sorted(ids)

    view = window.sidebar.view
    target = view.visualRect(window.sidebar.model.index(1)).center()  # "dog"
    drop(view.viewport(), target, mime)
    stored = labels_in_store(folder)
    assert stored["dogs/2.png"] == stored["dogs/3.png"] == "dog"



def test_a_large_change_is_written_in_the_background_and_other_changes_wait(qtbot, window, open_folder, folder,
                                                                             monkeypatch):
    monkeypatch.setattr(project_context, "BACKGROUND_AT", 3)  # "large" for this small folder
    prepare(window, open_folder, folder)
    select(window, ["cats/0.png", "cats/1.png", "cats/2.png", "cats/3.png"])
    with qtbot.waitSignal(window.context.labels_changed, timeout=10_000):
        qtbot.keyClick(window.grid, Qt.Key.Key_2)
        assert window.context.busy and not window.label_actions.undo.isEnabled()
        assert not window.context.set_labels([window.model.image_id(0)], None)  # refused, not queued
    assert all(labels_in_store(folder)[f"cats/{i}.png"] == "dog" for i in range(4))
    assert {c.name: c.count for c in window.context.classes}["dog"] == 4
    qtbot.waitUntil(lambda: window.label_actions.undo.isEnabled())
    with qtbot.waitSignal(window.context.history_step, timeout=10_000):
        qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert window.context.busy  # four images: "large", so undone in the background too
    assert all(labels_in_store(folder)[f"cats/{i}.png"] is None for i in range(4))


def test_after_a_large_change_the_window_shows_counts_and_undo_without_re_reading_the_store(
        qtbot, window, open_folder, folder, monkeypatch):
    """In a store of 100,000 images, re-reading class counts and history on the window's thread after a big
    write froze it for ~0.3 s; the child that wrote reads them and sends them back."""
    from core.storage import gallery
    from core.storage.summary import read_summary

    monkeypatch.setattr(project_context, "BACKGROUND_AT", 3)
    prepare(window, open_folder, folder)
    read_here = []
    plain_read = project_context.ProjectContext.read
    monkeypatch.setattr(project_context.ProjectContext, "read",
                        lambda self, query, *args: (read_here.append(query), plain_read(self, query, *args))[1])
    select(window, ["cats/0.png", "cats/1.png", "cats/2.png", "cats/3.png"])
    with qtbot.waitSignal(window.context.labels_changed, timeout=10_000):
        qtbot.keyClick(window.grid, Qt.Key.Key_2)
    assert {c.name: c.count for c in window.context.classes}["dog"] == 4
    assert window.context.counts().labelled == 4
    assert window.label_actions.undo.text() == "Undo: label 4 images as 'dog'"
    store_wide = {read_summary, labels.list_classes, labels.next_step, labels.change_signature, gallery.counts,
                  gallery.unlabelled_prediction_source}
    assert not store_wide & set(read_here)


def test_the_views_learn_of_a_relabel_from_one_shared_id_list(qtbot, window, open_folder, folder):
    """After "select all, press 2" on 100,000 images every view hears of 100,000 ids. Sent as a Qt list
    signal they were copied item by item for each of the five views: 110 ms of a frozen window."""
    prepare(window, open_folder, folder)
    heard: list[list[int]] = []
    for _slot in range(2):
        window.context.labels_changed.connect(heard.append)
    select(window, ["cats/0.png", "cats/1.png"])
    with qtbot.waitSignal(window.context.labels_changed, timeout=10_000):
        qtbot.keyClick(window.grid, Qt.Key.Key_2)
    assert len(heard) == 2 and len(heard[0]) == 2 and heard[0] is heard[1]

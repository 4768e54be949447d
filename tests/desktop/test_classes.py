"""Adding, renaming, merging and deleting classes from the sidebar, with confirmation and undo."""
from __future__ import annotations

from desktop.classes import dialogs as class_dialogs


def class_counts(window) -> dict[str, int]:
    return {c.name: c.count for c in window.context.classes}


def sidebar_rows(window) -> list[str]:
    model = window.sidebar.model
    return [model.index(r).data() for r in range(model.rowCount())]


def choose(window, name: str) -> None:
    window.sidebar.select_class(next(c.id for c in window.context.classes if c.name == name))


def test_add_and_rename_a_class(qtbot, window, open_folder, folder, monkeypatch):
    open_folder(window, folder, subfolders_as_classes=True)
    monkeypatch.setattr(class_dialogs, "ask_new_class", lambda *_args: "birds")
    window.class_actions.add.trigger()
    assert sidebar_rows(window) == ["cats", "dogs", "birds"]
    choose(window, "cats")
    monkeypatch.setattr(class_dialogs, "ask_rename", lambda _parent, old: "kittens")
    window.class_actions.rename.trigger()
    assert class_counts(window) == {"kittens": 4, "dogs": 4, "birds": 0}
    assert window.sidebar.current_class_id() == next(c.id for c in window.context.classes if c.name == "kittens")
    with qtbot.waitSignal(window.context.history_step):
        window.label_actions.undo.trigger()
    assert sidebar_rows(window) == ["cats", "dogs", "birds"]


def test_merge_moves_every_image_and_undo_brings_the_class_back(qtbot, window, open_folder, folder, monkeypatch):
    open_folder(window, folder, subfolders_as_classes=True)
    choose(window, "cats")
    monkeypatch.setattr(class_dialogs, "ask_merge_target", lambda _parent, source, names: names[0])
    window.class_actions.merge.trigger()
    assert class_counts(window) == {"dogs": 8}
    with qtbot.waitSignal(window.context.history_step):
        window.label_actions.undo.trigger()
    assert class_counts(window) == {"cats": 4, "dogs": 4}


def test_delete_asks_first_and_can_be_undone(qtbot, window, open_folder, folder, monkeypatch):
    open_folder(window, folder, subfolders_as_classes=True)
    choose(window, "dogs")
    monkeypatch.setattr(class_dialogs, "confirm_delete", lambda _parent, name, count: False)
    window.class_actions.delete.trigger()
    assert class_counts(window) == {"cats": 4, "dogs": 4}
    monkeypatch.setattr(class_dialogs, "confirm_delete", lambda _parent, name, count: count == 4)
    window.class_actions.delete.trigger()
    assert class_counts(window) == {"cats": 4}
    qtbot.waitUntil(lambda: "4 unlabelled" in window.status.counts.text())
    with qtbot.waitSignal(window.context.history_step):
        window.label_actions.undo.trigger()
    assert class_counts(window) == {"cats": 4, "dogs": 4}

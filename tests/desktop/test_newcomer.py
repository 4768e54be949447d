"""What a newcomer trips over in the window (issue 12): focus, empty states, help, undo that names its change,
changes made by another process, the thumbnail menu, filters and what the app remembers."""
from __future__ import annotations

import os
import shutil

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog

from core.project import Project
from core.storage import catalog, gallery, labels
from desktop.actions import label_actions as label_actions_module
from desktop.classes import dialogs as class_dialogs
from desktop.gallery.model import CLASS_ID_ROLE


def prepare(window, open_folder, folder):
    open_folder(window, folder)
    window.context.add_class("cat")
    window.context.add_class("dog")
    window.grid.setFocus()


def ids_of(window, prefix: str) -> list[int]:
    return [window.model.image_id(r) for r in range(window.model.rowCount())
            if window.model.card(r).path.startswith(prefix)]


def stored_class(folder, path: str) -> str | None:
    with Project.open(folder) as project, project.session() as session:
        names = {c.id: c.name for c in labels.list_classes(session)}
        return next(names.get(row.class_id) for row in catalog.all_images(session) if row.path == path)


def press(qtbot, key) -> None:
    """A key where the user's focus is, as a real keyboard sends it."""
    qtbot.keyClick(QApplication.focusWidget(), key)


# -- 1: the label keys work whatever was clicked last ----------------------------------------------------------
def test_after_new_class_the_number_keys_label_the_grid_selection(qtbot, window, open_folder, folder, monkeypatch):
    prepare(window, open_folder, folder)
    window.sidebar.view.setFocus()  # the user clicked the sidebar, then New Class
    monkeypatch.setattr(class_dialogs, "ask_new_class", lambda *_args: "bird")
    window.class_actions.add.trigger()
    assert QApplication.focusWidget() is window.grid
    window.grid.select_ids(ids_of(window, "cats/0"))
    press(qtbot, Qt.Key.Key_3)
    assert stored_class(folder, "cats/0.png") == "bird"


def test_enter_and_escape_in_the_search_give_the_keys_back_to_the_grid(qtbot, window, open_folder, folder):
    prepare(window, open_folder, folder)
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        window.menus.find.trigger()
        assert QApplication.focusWidget() is window.filter_bar.search
        qtbot.keyClicks(window.filter_bar.search, "dogs")
        press(qtbot, key)
        assert QApplication.focusWidget() is window.grid
        window.filter_bar.search.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 9)
    window.grid.select_ids(ids_of(window, "dogs/1"))
    press(qtbot, Qt.Key.Key_2)
    assert stored_class(folder, "dogs/1.png") == "dog"


def test_a_click_on_a_class_shows_only_it_and_keys_still_label(qtbot, window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    view = window.sidebar.view
    rect = view.visualRect(view.model().index(1, 0))  # "dogs"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    shown = [window.model.card(r).path for r in range(window.model.rowCount())]
    assert shown and all(path.startswith("dogs/") for path in shown)
    window.grid.select_ids(ids_of(window, "dogs/0"))
    press(qtbot, Qt.Key.Key_1)  # focus may be in the sidebar: the key still labels the grid's selection
    assert stored_class(folder, "dogs/0.png") == "cats"


# -- 5: an empty Unlabelled filter says what to do next --------------------------------------------------------
def test_when_every_image_is_labelled_the_grid_says_train_next(qtbot, window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    window.filter_bar.show_only(gallery.SHOW_UNLABELLED)
    assert window.model.rowCount() == 0
    assert "train" in window.grid._placeholder.lower() and "clear the search" not in window.grid._placeholder


# -- 6: help, and undo that names its change -----------------------------------------------------------------
def test_help_has_quick_start_shortcuts_log_and_about(window):
    from desktop.window import help as app_help

    texts = [a.text().replace("&", "") for a in window.menus.help_menu.actions() if a.text()]
    assert texts == ["Quick Start", "Keyboard Shortcuts", "Show Log", "About Dovecote"]
    html = app_help.shortcuts_html(window.menus.shortcut_actions())
    for expected in ("Ctrl+Z", "Undo", "New Class", "Ctrl+Shift+N", "Select All", "1 – 9", "Clear Label"):
        assert expected in html
    for step in ("Open", "Label", "Train", "Review", "Classify"):
        assert f"<b>{step}</b>" in app_help.QUICK_START


def test_undo_and_redo_name_the_change(qtbot, window, open_folder, folder):
    prepare(window, open_folder, folder)
    window.grid.select_ids(ids_of(window, "cats/"))
    press(qtbot, Qt.Key.Key_1)
    assert window.label_actions.undo.text() == "Undo: label 4 images as 'cat'"
    assert window.label_actions.undo.iconText() == "Undo"  # the toolbar stays narrow
    window.label_actions.undo.trigger()
    assert window.label_actions.redo.text() == "Redo: label 4 images as 'cat'"
    assert window.label_actions.undo.text() == "Undo: add class 'dog'"


# -- 4 and 6: changes made by another process -----------------------------------------------------------------
def test_labels_changed_by_another_process_show_up_and_undo_asks_first(qtbot, window, open_folder, folder,
                                                                       monkeypatch):
    prepare(window, open_folder, folder)
    target = ids_of(window, "dogs/2")
    with Project.open(folder) as other, other.session() as session:  # e.g. `dovecote label` meanwhile
        labels.set_labels(session, target, labels.find_class(session, "dog").id)
    row = window.model.row_of(target[0])
    qtbot.waitUntil(lambda: window.model.index(row).data(CLASS_ID_ROLE) is not None, timeout=5_000)  # the poll
    assert {c.name: c.count for c in window.context.classes}["dog"] == 1
    assert window.label_actions.undo.text() == "Undo: label 1 image as 'dog' (made outside this window)"

    asked = []
    monkeypatch.setattr(label_actions_module, "confirm_outside_step", lambda *args: asked.append(args) or False)
    window.label_actions.undo.trigger()
    assert asked and stored_class(folder, "dogs/2.png") == "dog"  # refused: nothing undone
    monkeypatch.setattr(label_actions_module, "confirm_outside_step", lambda *args: True)
    with qtbot.waitSignal(window.context.history_step):
        window.label_actions.undo.trigger()
    assert stored_class(folder, "dogs/2.png") is None


# -- 7: the thumbnail menu, the class list, merge, drag, frame, filters, memory -----------------------------------
def test_right_click_menu_labels_and_copies_paths(qtbot, window, open_folder, folder):
    prepare(window, open_folder, folder)
    row = window.model.row_of(ids_of(window, "dogs/3")[0])
    menu = window.image_menu.build(window.grid.visualRect(window.model.index(row)).center())
    items = [a.text() for a in menu.actions() if a.text()]
    assert items == ["Label as", "Open", "Show in Folder", "Copy Path"]
    label_as = menu.actions()[0].menu()
    next(a for a in label_as.actions() if a.text() == "dog").trigger()
    assert stored_class(folder, "dogs/3.png") == "dog"
    next(a for a in menu.actions() if a.text() == "Copy Path").trigger()
    assert QGuiApplication.clipboard().text() == str(folder / "dogs" / "3.png")
    assert window.image_menu.build(QPoint(-5, -5)) is None  # off the tiles: no menu


def test_merge_has_no_default_target(qtbot):
    from desktop.classes.dialogs import MergeDialog

    dialog = MergeDialog(None, "cats", ["dogs", "birds"])
    qtbot.addWidget(dialog)
    assert dialog.target() is None and not dialog.merge.isEnabled()
    dialog.show()
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.result() != QDialog.DialogCode.Accepted
    dialog.choice.setCurrentIndex(1)
    assert dialog.target() == "birds" and dialog.merge.isEnabled()


def test_the_drag_picture_is_a_small_stack_however_many_are_dragged(window, open_folder, folder):
    open_folder(window, folder)
    window.grid.selectAll()
    picture = window.grid.drag_picture(window.grid.selected_rows())
    assert picture.width() / picture.devicePixelRatio() <= 100 and picture.height() / picture.devicePixelRatio() <= 100


def test_ctrl_drag_from_a_tile_frames_instead_of_dragging(qtbot, window, open_folder, folder):
    open_folder(window, folder)
    centre = window.grid.visualRect(window.model.index(0)).center()
    qtbot.mousePress(window.grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, centre)
    assert not window.grid.dragEnabled()
    qtbot.mouseRelease(window.grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, centre)
    assert window.grid.dragEnabled()


def test_filter_entries_show_counts_and_long_names_are_cut_at_words(qtbot, window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    box = window.filter_bar.show_box
    texts = [box.itemText(i) for i in range(box.count()) if box.itemText(i)]
    assert texts == ["All images (9)", "Unlabelled (0)", "cats (4)", "dogs (4)", "Unreadable (1)"]
    long = "a rather long class name for the pictures of very small brown dogs"
    window.context.rename_class("dogs", long)
    entry = next(box.itemText(i) for i in range(box.count()) if box.itemText(i).startswith("a rather"))
    name = entry.rsplit(" (", 1)[0]
    assert name.endswith("…") and long.startswith(name[:-1]) and long[len(name) - 1] == " "
    assert entry.endswith("(4)")


def test_sort_order_and_zoom_are_remembered(qtbot, window, open_folder, folder):
    from desktop.window.main_window import MainWindow

    open_folder(window, folder)
    window.filter_bar.set_sort(gallery.SORT_SIZE, descending=True)
    window.filter_bar.zoom.setValue(200)
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.filter_bar.sort_box.currentData() == gallery.SORT_SIZE and again.filter_bar.order.isChecked()
    assert again.grid.thumb_side == 200


# -- hostile names and skipped entries, as the window shows them ---------------------------------------------------
def test_undecodable_names_show_with_replacement_characters_and_skips_are_said(qtbot, window, open_folder, folder):
    odd = os.path.join(os.fsencode(folder), b"z_\xff.png")
    shutil.copyfile(folder / "cats" / "0.png", odd)
    shutil.copyfile(folder / "cats" / "1.png", folder / ".hidden.png")
    open_folder(window, folder)
    names = [window.model.index(r).data() for r in range(window.model.rowCount())]
    assert "z_\ufffd.png" in names
    assert "skipped" in window.status.currentMessage() and "hidden" in window.status.currentMessage()


def test_the_windows_own_import_is_not_news_from_elsewhere(window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)  # the import labels in a child process
    assert not window.context.check_for_outside_changes()
    assert "outside" not in window.status.currentMessage()

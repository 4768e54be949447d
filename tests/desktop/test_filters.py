"""Filters, sorting and search over the grid."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt

from core.storage import gallery


def paths(window) -> list[str]:
    return [window.model.card(r).path for r in range(window.model.rowCount())]


def test_unlabelled_filter_drops_images_as_they_are_labelled(qtbot, window, open_folder, folder):
    open_folder(window, folder)
    window.context.add_class("cat")
    window.filter_bar.show_only(gallery.SHOW_UNLABELLED)
    assert len(paths(window)) == 8  # the unreadable file is not waiting for a label
    window.grid.select_ids([window.model.image_id(0)])
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_1)
    assert len(paths(window)) == 7 and "cats/0.png" not in paths(window)
    assert window.grid.selected_count() == 1  # the next image is selected, ready for the next key


def test_class_and_unreadable_filters(window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    dogs = next(c for c in window.context.classes if c.name == "dogs")
    window.filter_bar.show_only(gallery.SHOW_CLASS, dogs.id)
    assert paths(window) == [f"dogs/{i}.png" for i in range(4)]
    window.filter_bar.show_only(gallery.SHOW_UNREADABLE)
    assert paths(window) == ["broken.jpg"]
    window.filter_bar.show_only(gallery.SHOW_ALL)
    assert len(paths(window)) == 9


def test_sort_by_size_and_date(window, open_folder, folder):
    big = folder / "cats" / "2.png"
    big.write_bytes(big.read_bytes() + b"\0" * 5000)  # still a valid PNG, now the largest
    os.utime(folder / "dogs" / "1.png", (1e9, 1e9))  # the oldest
    open_folder(window, folder)
    window.filter_bar.set_sort(gallery.SORT_SIZE, descending=True)
    assert paths(window)[0] == "cats/2.png"
    window.filter_bar.set_sort(gallery.SORT_DATE)
    assert paths(window)[0] == "dogs/1.png"


def test_search_box_filters_by_file_name(qtbot, window, open_folder, folder):
    open_folder(window, folder)
    qtbot.keyClicks(window.filter_bar.search, "DOGS/")
    qtbot.waitUntil(lambda: len(paths(window)) == 4)
    assert all(p.startswith("dogs/") for p in paths(window))
    window.filter_bar.search.clear()
    qtbot.waitUntil(lambda: len(paths(window)) == 9)


def test_selection_survives_a_change_of_sort(window, open_folder, folder):
    open_folder(window, folder)
    chosen = [window.model.image_id(1), window.model.image_id(5)]
    window.grid.select_ids(chosen)
    window.filter_bar.set_sort(gallery.SORT_NAME, descending=True)
    assert sorted(window.grid.selected_ids()) == sorted(chosen)


def test_in_a_large_project_the_grid_is_read_in_the_background_and_the_newest_query_wins(
        qtbot, window, open_folder, folder, monkeypatch):
    big = folder / "cats" / "2.png"
    big.write_bytes(big.read_bytes() + b"\0" * 5000)
    open_folder(window, folder)
    monkeypatch.setattr("desktop.gallery.model.BACKGROUND_AT", 0)  # this folder counts as large now
    shown_before = paths(window)
    resets = []
    window.model.modelReset.connect(lambda: resets.append(paths(window)))
    by_size = gallery.GalleryQuery(sort=gallery.SORT_SIZE, descending=True)
    window.model.set_query(by_size)
    assert paths(window) == shown_before and window.model.reading  # the window did not wait for the read
    window.model.set_query(gallery.GalleryQuery(sort=gallery.SORT_SIZE, descending=True, search="dogs/"))
    qtbot.waitUntil(lambda: not window.model.reading, timeout=10_000)
    assert len(paths(window)) == 4 and all(p.startswith("dogs/") for p in paths(window))
    assert resets == [paths(window)]  # the superseded answer (all nine, by size) was never shown
    window.model.set_query(by_size)
    qtbot.waitUntil(lambda: not window.model.reading, timeout=10_000)
    assert len(paths(window)) == 9 and paths(window)[0] == "cats/2.png"

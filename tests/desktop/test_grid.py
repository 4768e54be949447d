"""The grid's model and thumbnails: lazy rows, background thumbnails, refreshes that keep the selection."""
from __future__ import annotations

import pytest
from imagegen import solid

from desktop.gallery.model import CLASS_COLOUR_ROLE
from desktop.widgets.thumbnail_loader import ThumbnailLoader


@pytest.fixture
def loader(window):
    own = ThumbnailLoader(threads=1)
    yield own
    own.shutdown()


def test_thumbnails_arrive_from_the_background_at_the_size_asked(qtbot, window, open_folder, folder, loader):
    open_folder(window, folder)
    project, card = window.context.project, window.model.card(1)
    loader.set_project(project.root, project.thumbnails_dir)
    assert loader.pixmap(card.id, card.content_hash, card.path, 24) is None  # asked for, not there yet
    qtbot.waitUntil(lambda: loader.pixmap(card.id, card.content_hash, card.path, 24) is not None, timeout=10_000)
    pixmap = loader.pixmap(card.id, card.content_hash, card.path, 24)
    assert (pixmap.width(), pixmap.height()) == (24, 16)  # 48 x 32 image, aspect kept
    loader.pixmap(card.id, card.content_hash, card.path, 96)
    qtbot.waitUntil(lambda: loader.pixmap(card.id, card.content_hash, card.path, 96).width() == 96, timeout=10_000)
    assert loader.pixmap(card.id, card.content_hash, card.path, 96).height() == 64  # enlarged to fill its cell


def test_one_image_shown_at_two_sizes_at_once_is_loaded_once_per_size(qtbot, window, open_folder, folder, loader):
    """The Review view shows an image in its cell's grid and, smaller, among the suspects: each paint asking
    for its own size must not push out the other's, or the two load it in turn for ever with the window idle."""
    open_folder(window, folder)
    project, card = window.context.project, window.model.card(1)
    loader.set_project(project.root, project.thumbnails_dir)
    arrived = []
    loader.loaded.connect(arrived.append)

    def both():  # the two views painting, as they do after each other's thumbnail arrived
        return [loader.pixmap(card.id, card.content_hash, card.path, side) for side in (40, 96)]

    qtbot.waitUntil(lambda: [p.width() if p else 0 for p in both()] == [40, 96], timeout=10_000)
    settled = len(arrived)
    for _ in range(5):
        both()
        qtbot.wait(50)
    assert len(arrived) == settled <= 2  # nothing asked again


def test_thumbnail_workers_start_after_the_paint_that_asked(qtbot, window, open_folder, folder, monkeypatch):
    """Loading beside a paint, the workers took the interpreter lock from it at each Qt call: a grid of 25
    cells painted several times slower. They are woken when the GUI thread is next idle."""
    import threading

    from desktop.widgets import thumbnail_loader

    woken = []

    class Recording(type(threading.Condition())):
        def notify(self, n=1):
            woken.append((self, n))
            super().notify(n)

        def notify_all(self):
            woken.append((self, "all"))
            super().notify_all()

    monkeypatch.setattr(thumbnail_loader.threading, "Condition", Recording)
    loader = ThumbnailLoader(threads=1)
    try:
        open_folder(window, folder)
        project = window.context.project
        loader.set_project(project.root, project.thumbnails_dir)
        cards = [window.model.card(row) for row in range(4)]
        ours = lambda: [n for condition, n in woken if condition is loader._wake]  # noqa: E731
        for card in cards:  # as a paint asks for the cells it draws
            assert loader.pixmap(card.id, card.content_hash, card.path, 32) is None
        assert ours() == []
        qtbot.waitUntil(lambda: all(loader.pixmap(c.id, c.content_hash, c.path, 32) or loader.failure(c.id)
                                    for c in cards), timeout=10_000)
        assert ours()[0] == "all"  # woken together, once the GUI thread was idle
    finally:
        loader.shutdown()


def test_the_thumbnail_is_remade_when_the_cached_one_is_gone(qtbot, window, open_folder, folder, loader):
    open_folder(window, folder)
    project, card = window.context.project, window.model.card(1)
    for thumb in project.thumbnails_dir.rglob("*.jpg"):
        thumb.unlink()
    loader.set_project(project.root, project.thumbnails_dir)
    loader.pixmap(card.id, card.content_hash, card.path, 64)
    qtbot.waitUntil(lambda: loader.pixmap(card.id, card.content_hash, card.path, 64) is not None, timeout=10_000)
    assert loader.failure(card.id) is None
    assert any(project.thumbnails_dir.rglob("*.jpg"))


def test_labelled_images_carry_their_class_colour(window, open_folder, folder):
    open_folder(window, folder, subfolders_as_classes=True)
    colours = {c.name: c.colour for c in window.context.classes}
    cats = next(r for r in range(window.model.rowCount()) if window.model.card(r).path.startswith("cats/"))
    assert window.model.index(cats).data(CLASS_COLOUR_ROLE) == colours["cats"]


def test_a_rescan_adds_new_images_as_rows_and_keeps_the_selection(qtbot, window, open_folder, folder):
    open_folder(window, folder)
    chosen = window.model.image_id(3)
    window.grid.select_ids([chosen])
    solid(folder / "aaa.png")
    solid(folder / "zzz.png")
    inserted = []
    window.model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    with qtbot.waitSignal(window.importer.finished, timeout=20_000):
        window.menus.rescan.trigger()
    assert window.model.rowCount() == 11 and inserted  # rows were inserted, not a reset
    assert window.grid.selected_ids() == [chosen]


def test_zoom_changes_the_cell_size(window, open_folder, folder):
    open_folder(window, folder)
    window.filter_bar.zoom.setValue(64)
    small = window.grid.gridSize().height()
    window.menus.zoom_in.trigger()
    assert window.grid.thumb_side == 96 and window.grid.gridSize().height() == small + 32


def test_a_new_sort_keeps_the_selected_images_and_the_current_one(qtbot, window, open_folder, folder):
    from core.storage.gallery import GalleryQuery

    open_folder(window, folder)
    chosen = [window.model.image_id(row) for row in (1, 4, 6)]
    window.grid.select_ids(chosen, current=chosen[1])
    window.model.set_query(GalleryQuery(sort="name", descending=True))
    qtbot.waitUntil(lambda: window.model.image_id(0) != chosen[0] and not window.model.reading)
    assert sorted(window.grid.selected_ids()) == sorted(chosen)
    assert window.grid.current_id() == chosen[1]
    assert window.model.rows_of(chosen) == sorted(window.model.row_of(i) for i in chosen)
    assert window.model.row_of(-1) is None and window.model.rows_of([-1]) == []

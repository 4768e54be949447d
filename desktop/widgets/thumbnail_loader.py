"""Thumbnails for the grid: an LRU cache of pixmaps on the GUI thread, fed by background threads.

Requests are served newest first (what the user scrolled to last is what they look at), and old requests
beyond a bound are dropped: a thumbnail scrolled past long ago is asked for again if it is painted again.
Worker threads only build QImages (never QPixmaps, never widgets), at the size asked, so painting a cell is one
copy; the GUI thread turns them into pixmaps. Workers never paint on them: QPainter holds the interpreter lock for
its whole call, and the window would wait for it (rounding corners there made a re-sort of 100,000 images stall
the window for 0.8 s). Each size asked is cached on its own: the Review view shows an image in its cell's grid
and, smaller, in the list of suspects, and with one size per image the two asked for theirs in turn for ever
(a whole core, with the window idle)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter, QPainterPath, QPixmap

from core.images.decode import ImageError
from core.images.thumbnails import THUMB_SIZE, ThumbnailCache

MAX_PENDING = 600
CACHE_BYTES = 160 * 1024 * 1024
CORNER = 3  # pixels of rounding


@dataclass(frozen=True)
class _Request:
    generation: int
    image_id: int
    content_hash: str
    image_path: Path
    side: int


class ThumbnailLoader(QObject):
    loaded = Signal(int)  # image id whose thumbnail (or failure) is now known
    _delivered = Signal(int, int, object, int)  # generation, image id, QImage or reason, side

    def __init__(self, threads: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self._cache: OrderedDict[tuple[int, int], QPixmap] = OrderedDict()  # (id, side asked) → pixmap
        self._sides: dict[int, set[int]] = {}  # id → the sides cached of it
        self._bytes = 0
        self._failed: dict[int, str] = {}
        self._pending: OrderedDict[tuple[int, int], _Request] = OrderedDict()
        self._loading: set[tuple[int, int]] = set()  # taken by a worker, not yet stored (under _wake)
        self._wake = threading.Condition()
        self._stop = False
        self._generation = 0
        self._wake_due = False  # the workers are to be woken when the GUI thread is next idle
        self._root: Path | None = None
        self._thumbs: ThumbnailCache | None = None
        self._delivered.connect(self._store, Qt.ConnectionType.QueuedConnection)
        self._threads = [threading.Thread(target=self._work, name=f"thumbnails-{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def set_project(self, root: Path | None, thumbnails_dir: Path | None) -> None:
        """Forget everything (a project was opened or closed)."""
        with self._wake:
            self._generation += 1
            self._pending.clear()
            self._loading.clear()
            self._root = root
            self._thumbs = ThumbnailCache(thumbnails_dir) if thumbnails_dir else None
        self._cache.clear()
        self._sides.clear()
        self._failed.clear()
        self._bytes = 0

    def pixmap(self, image_id: int, content_hash: str | None, path: str, side: int) -> QPixmap | None:
        """The cached thumbnail (possibly of another size while the right one loads), or None.
        Asks for a load when nothing of about `side` pixels is cached."""
        side = min(side, THUMB_SIZE)  # the store keeps nothing larger
        exact = self._cache.get((image_id, side))
        if exact is not None:
            self._cache.move_to_end((image_id, side))
            return exact
        if content_hash and image_id not in self._failed:
            self._request(image_id, content_hash, path, side)
        other = max(self._sides.get(image_id, ()), default=None)  # the sharpest stand-in
        return self._cache[(image_id, other)] if other is not None else None

    def failure(self, image_id: int) -> str | None:
        return self._failed.get(image_id)

    def shutdown(self) -> None:
        with self._wake:
            self._stop = True
            self._pending.clear()
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- GUI thread -------------------------------------------------------------------------------------
    def _request(self, image_id: int, content_hash: str, path: str, side: int) -> None:
        with self._wake:
            if self._root is None:
                return
            key = (image_id, side)
            if key in self._loading:  # a paint while it loads would load it twice
                return
            self._pending[key] = _Request(self._generation, image_id, content_hash, self._root / path, side)
            self._pending.move_to_end(key)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        if not self._wake_due:
            # The workers start once the paint that asked is over: working beside it, they would take the
            # interpreter lock from it at every Qt call it makes, and a grid of 25 cells painted 2-10x slower.
            self._wake_due = True
            QTimer.singleShot(0, self._wake_workers)

    def _wake_workers(self) -> None:
        self._wake_due = False
        with self._wake:
            self._wake.notify_all()

    def _store(self, generation: int, image_id: int, result: object, side: int) -> None:
        with self._wake:
            self._loading.discard((image_id, side))
        if generation != self._generation:
            return
        if isinstance(result, QImage):
            old = self._cache.pop((image_id, side), None)
            if old is not None:
                self._bytes -= _size(old)
            pixmap = QPixmap.fromImage(result)
            self._cache[(image_id, side)] = pixmap
            self._sides.setdefault(image_id, set()).add(side)
            self._bytes += _size(pixmap)
            while self._bytes > CACHE_BYTES and len(self._cache) > 1:
                (evicted_id, evicted_side), evicted = self._cache.popitem(last=False)
                self._bytes -= _size(evicted)
                sides = self._sides[evicted_id]
                sides.discard(evicted_side)
                if not sides:
                    del self._sides[evicted_id]
        else:
            self._failed[image_id] = str(result)
        self.loaded.emit(image_id)

    # -- worker threads -----------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
                key, request = self._pending.popitem(last=True)
                thumbs = self._thumbs
                if thumbs is not None:  # it will be delivered
                    self._loading.add(key)
            if thumbs is not None:
                self._delivered.emit(request.generation, request.image_id, _load(thumbs, request), request.side)


def _load(thumbs: ThumbnailCache, request: _Request) -> QImage | str:
    """The thumbnail scaled to the requested side, or the reason it cannot be had."""
    try:
        path = thumbs.get_or_make(request.image_path, request.content_hash)
    except ImageError as error:
        return str(error)
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    image = QImage(str(path))
    if image.isNull():
        return "the cached thumbnail cannot be read"
    if max(image.width(), image.height()) != request.side:  # small pictures are enlarged to fill the cell
        image = image.scaled(QSize(request.side, request.side), Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image


def draw_thumbnail(painter: QPainter, frame: QRectF, pixmap: QPixmap) -> None:
    """`pixmap` centred in `frame`, its aspect kept, its corners rounded: copied at whole pixels when it fits
    (the loader made it the size asked for), scaled down smoothly when not (a high-density screen)."""
    painter.save()
    if pixmap.width() <= frame.width() and pixmap.height() <= frame.height():
        corner = frame.center() - QPointF(pixmap.width() / 2, pixmap.height() / 2)
        target = QRectF(round(corner.x()), round(corner.y()), pixmap.width(), pixmap.height())
    else:
        size = QSize(pixmap.width(), pixmap.height()).scaled(frame.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(0, 0, size.width(), size.height())
        target.moveCenter(frame.center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    clip = QPainterPath()
    clip.addRoundedRect(target, CORNER, CORNER)
    painter.setClipPath(clip)
    painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
    painter.restore()


def _size(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4

"""Decodes the image shown large in the preview, off the GUI thread. Only the latest request matters:
older ones still waiting are dropped, and a result for an image no longer wanted is ignored."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from core.images.decode import ImageError, load_rgb

MAX_SIDE = 8192  # bigger images are shown scaled down to this (still sharp at 100% on any screen)


class _Signals(QObject):
    ready = Signal(int, object)  # image id, QImage
    failed = Signal(int, str)  # image id, reason


class _Decode(QRunnable):
    def __init__(self, image_id: int, path: Path, signals: _Signals):
        super().__init__()
        self._image_id, self._path, self._signals = image_id, path, signals

    def run(self) -> None:
        try:
            picture = load_rgb(self._path, max_side=MAX_SIDE)
            if max(picture.size) > MAX_SIDE:
                picture.thumbnail((MAX_SIDE, MAX_SIDE))
        except ImageError as error:
            self._signals.failed.emit(self._image_id, str(error))
            return
        except OSError as error:
            self._signals.failed.emit(self._image_id, f"cannot read: {error.strerror or error}")
            return
        data = picture.tobytes()
        image = QImage(data, picture.width, picture.height, 3 * picture.width, QImage.Format.Format_RGB888).copy()
        self._signals.ready.emit(self._image_id, image)


class PreviewLoader(QObject):
    ready = Signal(int, object)  # image id, QImage of the full picture
    failed = Signal(int, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._wanted: int | None = None
        self._signals.ready.connect(lambda i, image: i == self._wanted and self.ready.emit(i, image))
        self._signals.failed.connect(lambda i, reason: i == self._wanted and self.failed.emit(i, reason))

    def request(self, image_id: int, path: Path) -> None:
        self._wanted = image_id
        self._pool.clear()  # decodes not yet started are no longer wanted
        self._pool.start(_Decode(image_id, path, self._signals))

    def forget(self) -> None:
        self._wanted = None
        self._pool.clear()

    def wait(self, msecs: int = 10_000) -> bool:
        return self._pool.waitForDone(msecs)

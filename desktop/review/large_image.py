"""Space in the mistake queue: the image large, in a window of its own, decoded off the GUI thread through
the window's task runner (a thread: one decode, no Python loop to stall the window)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from core.images.decode import load_rgb
from desktop.tasks import TaskRunner

MAX_SIDE = 1600


def decode_picture(path: str, max_side: int = MAX_SIDE) -> Iterator[QImage]:
    """A job: the picture as a QImage (built in the worker thread; QPixmaps only on the GUI thread)."""
    picture = load_rgb(Path(path), max_side=max_side)
    picture.thumbnail((max_side, max_side))
    yield QImage(picture.tobytes(), picture.width, picture.height, 3 * picture.width,
                 QImage.Format.Format_RGB888).copy()


class LargeImage(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("largeImage")
        self.resize(900, 700)
        self.picture = QLabel("Loading…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        self._pixmap: QPixmap | None = None
        self._wanted = ""

    def show_image(self, tasks: TaskRunner, path: Path, caption: str) -> None:
        self.setWindowTitle(path.name)
        self.caption.setText(caption)
        self.picture.setText("Loading…")
        self._pixmap = None
        self._wanted = str(path)
        task = tasks.run(f"Opening {path.name}", decode_picture, str(path), child=False)
        task.event.connect(lambda image, wanted=str(path): self._arrived(wanted, image))
        task.failed.connect(lambda error: self.picture.setText(f"Cannot show this image: {error}"))
        self.show()
        self.raise_()
        self.activateWindow()

    def _arrived(self, wanted: str, image: QImage) -> None:
        if wanted == self._wanted:
            self._pixmap = QPixmap.fromImage(image)
            self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.close()  # Space again goes back to the queue
        else:
            super().keyPressEvent(event)

    def _fit(self) -> None:
        if self._pixmap is not None:
            self.picture.setPixmap(self._pixmap.scaled(self.picture.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))

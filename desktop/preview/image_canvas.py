"""Shows one picture either fitted to the space or at 100% (scrollable). The fitted version is scaled
once per size change, not on every paint, so even a 12-megapixel photo repaints instantly."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QScrollArea, QSizePolicy, QWidget


class _Surface(QWidget):
    def __init__(self, canvas: "ImageCanvas"):
        super().__init__()
        self._canvas = canvas
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        pixmap = self._canvas.pixmap_for(self.size())
        if pixmap is None:
            painter.setPen(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._canvas.note)
            return
        ratio = pixmap.devicePixelRatio()
        size = QSize(round(pixmap.width() / ratio), round(pixmap.height() / ratio))
        top_left = QPoint(max(0, (self.width() - size.width()) // 2), max(0, (self.height() - size.height()) // 2))
        shown = QRect(top_left, size)
        painter.drawPixmap(shown, pixmap)
        overlay = self._canvas.overlay
        if overlay is not None:
            image, (left, top, width, height) = overlay
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(shown.left() + left * shown.width(), shown.top() + top * shown.height(),
                                     width * shown.width(), height * shown.height()), image)


class ImageCanvas(QScrollArea):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 160)
        self._surface = _Surface(self)
        self.setWidget(self._surface)
        self.setWidgetResizable(True)
        self._full: QPixmap | None = None
        self._fitted: QPixmap | None = None
        self._fitted_for = QSize()
        self.actual_size = False
        self.note = ""
        # An image laid over the picture: (QImage, (left, top, width, height) as fractions of the picture).
        self.overlay: tuple[QImage, tuple[float, float, float, float]] | None = None

    def set_image(self, image: QImage | QPixmap | None, note: str = "") -> None:
        """Show `image` (None: show `note` instead)."""
        if isinstance(image, QImage):
            image = QPixmap.fromImage(image)
        self._full = image if image is not None and not image.isNull() else None
        self._fitted, self._fitted_for = None, QSize()
        self.note = note
        self._layout()

    def set_overlay(self, image: QImage | None, box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> None:
        self.overlay = (image, box) if image is not None else None
        self._surface.update()

    @property
    def image_size(self) -> QSize | None:
        return self._full.size() if self._full is not None else None

    def set_actual_size(self, on: bool) -> None:
        self.actual_size = on
        self._layout()

    def pixmap_for(self, area: QSize) -> QPixmap | None:
        if self._full is None:
            return None
        if self.actual_size:
            return self._full
        ratio = self.devicePixelRatioF()
        target = QSize(round(area.width() * ratio), round(area.height() * ratio))
        if self._fitted is None or self._fitted_for != target:
            # Small pictures are enlarged with visible pixels: smoothing would blur a 32-pixel icon to mush.
            enlarging = self._full.width() * 4 < target.width() and self._full.height() * 4 < target.height()
            mode = Qt.TransformationMode.FastTransformation if enlarging else Qt.TransformationMode.SmoothTransformation
            self._fitted = self._full.scaled(target, Qt.AspectRatioMode.KeepAspectRatio, mode)
            self._fitted.setDevicePixelRatio(ratio)
            self._fitted_for = target
        return self._fitted

    def _layout(self) -> None:
        if self.actual_size and self._full is not None:
            self.setWidgetResizable(False)
            self._surface.resize(self._full.size())
        else:
            self.setWidgetResizable(True)
        self._surface.update()

"""Paints one grid cell: the thumbnail (from the loader's cache), a badge in the label's colour, the file
name, and a clear marker for files that cannot be read. Every cell has the same size (uniform grid)."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.gallery.model import (CLASS_COLOUR_ROLE, CLASS_NAME_ROLE, CONTENT_HASH_ROLE, IMAGE_ID_ROLE,
                                   PATH_ROLE, PREDICTION_ROLE, STATUS_ROLE)
from desktop.widgets.icons import icon
from desktop.widgets.thumbnail_loader import ThumbnailLoader, draw_thumbnail

PAD = 6  # around the image, inside the cell
RADIUS = 6


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, loader: ThumbnailLoader, parent=None):
        super().__init__(parent)
        self._loader = loader
        self.thumb_side = 128
        self._warning = icon("warning")

    def set_thumb_side(self, side: int) -> None:
        self.thumb_side = side

    def cell_size(self, option_font_metrics: QFontMetrics) -> QSize:
        return QSize(self.thumb_side + 2 * PAD, self.thumb_side + 2 * PAD + option_font_metrics.height() + 4)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return self.cell_size(option.fontMetrics)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        cell = QRectF(option.rect).adjusted(1, 1, -1, -1)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        self._paint_background(painter, cell, palette, selected, bool(option.state & QStyle.StateFlag.State_MouseOver))

        side = self.thumb_side
        frame = QRectF(cell.left() + (cell.width() - side) / 2, cell.top() + PAD - 1, side, side)
        if index.data(STATUS_ROLE) == "unreadable":
            self._paint_unreadable(painter, frame, palette)
        else:
            self._paint_thumbnail(painter, frame, index, palette, option)
        colour = index.data(CLASS_COLOUR_ROLE)
        if colour:
            painter.save()
            self._paint_badge(painter, frame, QColor(colour), index.data(CLASS_NAME_ROLE) or "")
            painter.restore()
        else:
            prediction = index.data(PREDICTION_ROLE)
            if prediction:
                painter.save()
                self._paint_prediction(painter, frame, *prediction)
                painter.restore()

        text_rect = QRectF(cell.left() + 4, frame.bottom() + 3, cell.width() - 8, option.fontMetrics.height())
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = option.fontMetrics.elidedText(index.data() or "", Qt.TextElideMode.ElideMiddle, int(text_rect.width()))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()

    def _paint_background(self, painter, cell: QRectF, palette: QPalette, selected: bool, hover: bool) -> None:
        if not (selected or hover):
            return
        colour = QColor(palette.color(QPalette.ColorRole.Highlight))
        if not selected:
            colour.setAlpha(45)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(cell, RADIUS, RADIUS)

    def thumbnail(self, index: QModelIndex, ratio: float = 1.0):
        """The tile's thumbnail as painted (from the loader's cache), or None while it loads."""
        pixmap = self._loader.pixmap(index.data(IMAGE_ID_ROLE), index.data(CONTENT_HASH_ROLE),
                                     index.data(PATH_ROLE) or "", round(self.thumb_side * ratio))
        return None if pixmap is None or pixmap.isNull() else pixmap

    def _paint_thumbnail(self, painter, frame: QRectF, index: QModelIndex, palette: QPalette, option) -> None:
        ratio = option.widget.devicePixelRatioF() if option.widget is not None else 1.0
        pixmap = self.thumbnail(index, ratio)
        if pixmap is None:
            placeholder = QColor(palette.color(QPalette.ColorRole.Text))
            placeholder.setAlpha(22)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(placeholder)
            painter.drawRoundedRect(frame.adjusted(8, 8, -8, -8), 4, 4)
            return
        draw_thumbnail(painter, frame, pixmap)

    def _paint_unreadable(self, painter, frame: QRectF, palette: QPalette) -> None:
        box = frame.adjusted(6, 6, -6, -6)
        painter.setPen(QPen(QColor("#c0392b"), 1.5, Qt.PenStyle.DashLine))
        tint = QColor("#c0392b")
        tint.setAlpha(28)
        painter.setBrush(tint)
        painter.drawRoundedRect(box, 6, 6)
        mark = min(48.0, box.width() * 0.4)
        icon_rect = QRectF(0, 0, mark, mark)
        icon_rect.moveCenter(QPointF(box.center().x(), box.center().y() - mark * 0.25))
        self._warning.paint(painter, icon_rect.toRect())
        if box.height() > 80:
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            below = QRectF(box.left(), icon_rect.bottom() + 4, box.width(), 20)
            painter.drawText(below, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, "Unreadable")

    def _paint_badge(self, painter, frame: QRectF, colour: QColor, name: str) -> None:
        """A pill in the class colour at the image's top-left corner (a dot when cells are small)."""
        painter.setPen(QPen(QColor(255, 255, 255, 230), 1.5))
        painter.setBrush(colour)
        if self.thumb_side < 96 or not name:
            painter.drawEllipse(QRectF(frame.left() + 3, frame.top() + 3, 14, 14))
            return
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(frame.width() * 0.8))
        pill = QRectF(frame.left() + 3, frame.top() + 3, metrics.horizontalAdvance(text) + 14, metrics.height() + 4)
        painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        painter.setPen(_text_on(colour))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_prediction(self, painter, frame: QRectF, name: str, colour: str, confidence: float,
                          stale: bool) -> None:
        """A guess, not a label: a hollow pill in the class colour with the confidence ("dog 82%"), dashed
        and with a "?" when the model is older than the latest labels."""
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        share = f"{confidence:.0%}" + (" ?" if stale else "")
        text = share if self.thumb_side < 96 else f"{metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(frame.width() * 0.55))} {share}"
        pill = QRectF(frame.left() + 3, frame.top() + 3, metrics.horizontalAdvance(text) + 14, metrics.height() + 4)
        painter.setPen(QPen(QColor(colour), 2, Qt.PenStyle.DashLine if stale else Qt.PenStyle.SolidLine))
        painter.setBrush(QColor(255, 255, 255, 215))
        painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        painter.setPen(QColor("#111111"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)


def _text_on(colour: QColor) -> QColor:
    """Black or white, whichever reads better on `colour`."""
    luminance = 0.2126 * colour.redF() + 0.7152 * colour.greenF() + 0.0722 * colour.blueF()
    return QColor("#111111") if luminance > 0.55 else QColor("#ffffff")

"""The grid beside the matrix: the chosen cell's images, each with the class it was labelled, the class the
model says and how sure it is, and a "changed since this run" band once relabelled (it stays in view: the cell
is the run's). Thumbnails come from the window's ThumbnailLoader. Selection is kept per cell, so switching
cells and coming back finds the images still selected."""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.project.context import ProjectContext
from desktop.review.images_model import (CONTENT_HASH_ROLE, IMAGE_ID_ROLE, ITEM_ROLE, PATH_ROLE,
                                         ReviewImagesModel)
from desktop.widgets.thumbnail_loader import ThumbnailLoader, draw_thumbnail

THUMB = 112
PAD = 5
CHANGED = QColor("#cc79a7")  # Okabe-Ito reddish purple: not a class colour's job, not a mistake's


class _Delegate(QStyledItemDelegate):
    def __init__(self, loader: ThumbnailLoader, context: ProjectContext, parent=None):
        super().__init__(parent)
        self._loader, self._context = loader, context

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        # Wider than the picture: "seven → nine 97%" fits under it.
        return QSize(THUMB + 2 * PAD + 36, THUMB + 2 * PAD + 2 * option.fontMetrics.height() + 6)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        model: ReviewImagesModel = index.model()
        item = index.data(ITEM_ROLE)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        cell = QRectF(option.rect).adjusted(1, 1, -1, -1)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(cell, 6, 6)
        frame = QRectF(cell.left() + (cell.width() - THUMB) / 2, cell.top() + PAD, THUMB, THUMB)
        ratio = option.widget.devicePixelRatioF() if option.widget is not None else 1.0
        pixmap = self._loader.pixmap(index.data(IMAGE_ID_ROLE), index.data(CONTENT_HASH_ROLE),
                                     index.data(PATH_ROLE) or "", round(THUMB * ratio))
        if pixmap is not None and not pixmap.isNull():
            draw_thumbnail(painter, frame, pixmap)
        now = model.changed_label(item)
        if now is not None:
            painter.setPen(QPen(CHANGED, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(frame.adjusted(1, 1, -1, -1), 4, 4)
        metrics = option.fontMetrics
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        line = QRectF(cell.left() + 3, frame.bottom() + 3, cell.width() - 6, metrics.height())
        given, predicted = model.class_names[item.given], model.class_names[item.predicted]
        words = f"{given} → {predicted} {item.confidence:.0%}" if given != predicted else f"{given} {item.confidence:.0%}"
        painter.setPen(text)
        painter.drawText(line, Qt.AlignmentFlag.AlignCenter,
                         metrics.elidedText(words, Qt.TextElideMode.ElideLeft, int(line.width())))
        second = line.translated(0, metrics.height() + 2)
        if now is not None:
            band = QRectF(second).adjusted(4, 0, -4, 0)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(CHANGED)
            painter.drawRoundedRect(band, band.height() / 2, band.height() / 2)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(band, Qt.AlignmentFlag.AlignCenter,
                             metrics.elidedText(f"changed: now {now}", Qt.TextElideMode.ElideRight, int(band.width())))
        else:
            painter.setPen(palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            name = metrics.elidedText(index.data() or "", Qt.TextElideMode.ElideMiddle, int(second.width()))
            painter.drawText(second, Qt.AlignmentFlag.AlignCenter, name)
        painter.restore()


class ReviewImagesGrid(QListView):
    selection_changed = Signal()

    def __init__(self, model: ReviewImagesModel, loader: ThumbnailLoader, context: ProjectContext, parent=None):
        super().__init__(parent)
        self.setObjectName("reviewImages")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSpacing(2)
        self.setItemDelegate(_Delegate(loader, context, self))
        self.setModel(model)
        self._model = model
        self.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())
        self.selectionModel().currentChanged.connect(lambda *_: self.selection_changed.emit())
        loader.loaded.connect(self._thumbnail_arrived)

    def selected_ids(self) -> list[int]:
        return [index.data(IMAGE_ID_ROLE) for index in sorted(self.selectedIndexes(), key=lambda i: i.row())]

    def current_id(self) -> int | None:
        index = self.currentIndex()
        return index.data(IMAGE_ID_ROLE) if index.isValid() else None

    def select_ids(self, ids: list[int], current: int | None = None) -> None:
        rows = {image_id: row for image_id in ids if (row := self._model.row_of(image_id)) is not None}
        selection = QItemSelection()
        for image_id in ids:
            if image_id in rows:
                index = self._model.index(rows[image_id])
                selection.select(index, index)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.selectionModel().select(selection, flags)
        focus = current if current in rows else next(iter(rows), None)
        if focus is not None:
            self.selectionModel().setCurrentIndex(self._model.index(rows[focus]), QItemSelectionModel.SelectionFlag.NoUpdate)
            self.scrollTo(self._model.index(rows[focus]))

    def _thumbnail_arrived(self, image_id: int) -> None:
        row = self._model.row_of(image_id)
        if row is not None and self.isVisible():
            self.viewport().update(self.visualRect(self._model.index(row)))

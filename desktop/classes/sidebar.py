"""The class sidebar: each class with its colour, number key and image count; buttons to add, rename,
merge and delete; images dragged from the grid and dropped on a class get that label."""
from __future__ import annotations


from PySide6.QtCore import QModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListView, QStyle, QStyledItemDelegate,
                               QToolButton, QVBoxLayout, QWidget)

from desktop.classes.list_model import CLASS_ID_ROLE, COLOUR_ROLE, COUNT_ROLE, HOTKEY_ROLE, ClassListModel
from desktop.widgets.image_drag import IMAGE_IDS_MIME, image_ids_from
from desktop.project.context import ProjectContext


class ClassSidebar(QWidget):
    images_dropped = Signal(int, list)  # class id, image ids
    class_activated = Signal(int)  # clicked: show this class in the grid

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("classSidebar")
        self.model = ClassListModel(context, self)
        self.view = _ClassListView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegate(_ClassDelegate(self.view))
        self.view.dropped.connect(self.images_dropped)
        self.view.clicked.connect(lambda index: self.class_activated.emit(index.data(CLASS_ID_ROLE)))
        self._kept_id: int | None = None
        self.model.modelAboutToBeReset.connect(self._remember)
        self.model.modelReset.connect(self._restore)

        self._hint = QLabel("No classes yet. Add one, then press its number key to label the selected images.")
        self._hint.setWordWrap(True)
        self._hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(2)
        self._buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.view, 1)
        layout.addWidget(self._hint)
        layout.addLayout(self._buttons)
        self.model.modelReset.connect(self._update_hint)
        self._update_hint()

    def add_button(self, action: QAction) -> None:
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setAutoRaise(True)
        button.setIconSize(QSize(18, 18))
        self._buttons.insertWidget(self._buttons.count() - 1, button)

    def current_class_id(self) -> int | None:
        index = self.view.currentIndex()
        return index.data(CLASS_ID_ROLE) if index.isValid() else None

    def select_class(self, class_id: int) -> None:
        row = self.model.row_of(class_id)
        if row is not None:
            self.view.setCurrentIndex(self.model.index(row))

    def _remember(self) -> None:
        self._kept_id = self.current_class_id()

    def _restore(self) -> None:
        if self._kept_id is not None:
            self.select_class(self._kept_id)

    def _update_hint(self) -> None:
        self._hint.setVisible(self.model.rowCount() == 0)


class _ClassListView(QListView):
    """Accepts image ids dragged from the grid; a drop on a class labels them."""

    dropped = Signal(int, list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformItemSizes(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(170)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(IMAGE_IDS_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()  # e.g. a folder: the window opens it

    def dragMoveEvent(self, event) -> None:
        index = self.indexAt(event.position().toPoint())
        if event.mimeData().hasFormat(IMAGE_IDS_MIME) and index.isValid():
            self.setCurrentIndex(index)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        index = self.indexAt(event.position().toPoint())
        if not (event.mimeData().hasFormat(IMAGE_IDS_MIME) and index.isValid()):
            event.ignore()
            return
        ids = image_ids_from(event.mimeData())
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.dropped.emit(index.data(CLASS_ID_ROLE), ids)


class _ClassDelegate(QStyledItemDelegate):
    """A colour swatch, the number key, the name, and the count at the right."""

    def sizeHint(self, option, index: QModelIndex) -> QSize:
        return QSize(160, max(30, option.fontMetrics.height() + 14))

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = option.palette
        rect = QRectF(option.rect).adjusted(1, 1, -1, -1)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected or option.state & QStyle.StateFlag.State_MouseOver:
            fill = QColor(palette.color(QPalette.ColorRole.Highlight))
            fill.setAlpha(255 if selected else 40)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(rect, 5, 5)
        text_colour = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)

        swatch = QRectF(rect.left() + 8, rect.center().y() - 7, 14, 14)
        edge = QColor(text_colour)  # an edge in the text colour: a black class stays visible on dark themes
        edge.setAlpha(110)
        painter.setPen(QPen(edge, 1))
        painter.setBrush(QColor(index.data(COLOUR_ROLE)))
        painter.drawRoundedRect(swatch, 4, 4)

        left = swatch.right() + 8
        hotkey = index.data(HOTKEY_ROLE)
        metrics = option.fontMetrics
        if hotkey is not None:
            key = QRectF(left, rect.center().y() - metrics.height() / 2 - 1, metrics.height() + 4, metrics.height() + 2)
            key_pen = QColor(text_colour)
            key_pen.setAlpha(120)
            painter.setPen(QPen(key_pen, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(key, 3, 3)
            painter.setPen(text_colour)
            painter.drawText(key, Qt.AlignmentFlag.AlignCenter, str(hotkey))
        left += metrics.height() + 12

        count = f"{index.data(COUNT_ROLE):,}"
        count_width = metrics.horizontalAdvance(count) + 10
        painter.setPen(text_colour)
        name_rect = QRectF(left, rect.top(), rect.right() - left - count_width, rect.height())
        name = metrics.elidedText(index.data() or "", Qt.TextElideMode.ElideRight, int(name_rect.width()))
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
        dim = QColor(text_colour)
        dim.setAlpha(170)
        painter.setPen(dim)
        count_rect = QRectF(rect.right() - count_width, rect.top(), count_width - 8, rect.height())
        painter.drawText(count_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, count)
        painter.restore()

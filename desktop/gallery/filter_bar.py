"""The bar above the grid: which images to show (all, unlabelled, unreadable, one class, and once a run has
predictions: one predicted class, low confidence, model disagrees with label), the sort order, a search on
file names, and the thumbnail size."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QSlider, QToolButton, QWidget

from core.storage import gallery
from core.storage.gallery import GalleryQuery
from desktop.gallery.view import MAX_SIDE, MIN_SIDE
from desktop.widgets.icons import icon
from desktop.widgets.text import elide_words
from desktop.project.context import ProjectContext
from desktop.widgets.when_shown import WhenShown

SEARCH_DELAY_MS = 250
MAX_SHOW_WIDTH = 280  # pixels; longer class names are elided in the closed box
NAME_ROLE = Qt.ItemDataRole.UserRole + 1  # an entry's name without its count
_SORTS = [("Name", gallery.SORT_NAME), ("Date modified", gallery.SORT_DATE), ("File size", gallery.SORT_SIZE),
          ("Least confident first", gallery.SORT_CONFIDENCE)]


class FilterBar(QWidget):
    query_changed = Signal(object)  # a GalleryQuery
    zoom_changed = Signal(int)  # thumbnail side in pixels
    search_left = Signal()  # Enter or Escape in the search box: the keys go back to the grid

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(parent)
        self._context = context
        self.show_box = QComboBox()
        self.show_box.setMinimumContentsLength(14)
        # As wide as its longest entry (entries change when classes or runs do), within reason.
        self.show_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.show_box.setMaximumWidth(MAX_SHOW_WIDTH)
        self.show_box.setToolTip("Which images to show")
        self.sort_box = QComboBox()
        for text, key in _SORTS:
            self.sort_box.addItem(text, key)
        self.sort_box.setToolTip("Sort the images by")
        self.order = QToolButton()
        self.order.setCheckable(True)
        self.order.setAutoRaise(True)
        self._show_order(False)
        self.order.toggled.connect(self._show_order)
        self.order.toggled.connect(lambda _on: self._emit())
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search names")
        self.search.setToolTip("Show only images whose file name or folder contains this text")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(130)  # narrow enough to leave the Show box its longest entry
        self.search.setMaximumWidth(300)
        self.search.returnPressed.connect(self.search_left)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.search)
        escape.setContext(Qt.ShortcutContext.WidgetShortcut)
        escape.activated.connect(self.search_left)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(MIN_SIDE, MAX_SIDE)
        self.zoom.setPageStep(32)
        self.zoom.setFixedWidth(100)
        self.zoom.setToolTip("Thumbnail size (Ctrl++ / Ctrl+-)")
        self.zoom.valueChanged.connect(self.zoom_changed)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(QLabel("Show"))
        layout.addWidget(self.show_box)
        layout.addSpacing(8)
        layout.addWidget(QLabel("Sort by"))
        layout.addWidget(self.sort_box)
        layout.addWidget(self.order)
        layout.addSpacing(8)
        layout.addWidget(self.search, 1)
        layout.addStretch(0)
        layout.addWidget(self._zoom_button("thumbs-small", -32, "Smaller thumbnails"))
        layout.addWidget(self.zoom)
        layout.addWidget(self._zoom_button("thumbs-large", 32, "Larger thumbnails"))

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.show_box.currentIndexChanged.connect(lambda _i: self._emit())
        self.sort_box.currentIndexChanged.connect(lambda _i: self._emit())
        self._chosen: tuple[str, tuple[int, ...]] | None = None  # (title, ids) of images chosen elsewhere
        self._entries_for: tuple | None = None  # what the entries were built from (classes, run)
        self._prediction_run: int | None = None  # the run whose held-out predictions the filters read
        context.classes_changed.connect(self._update_show_box)  # also after every label change and import: counts
        # A new run brings (or changes) prediction filters: read when the bar is next seen.
        self._refill = WhenShown(self, self._fill_show_box)
        context.runs_changed.connect(self._refill)
        context.opened.connect(lambda _project: self._forget_chosen())
        context.closed.connect(self._fill_show_box)
        self._fill_show_box()

    def query(self) -> GalleryQuery:
        show, class_id = _parse_show_key(self.show_box.currentData())
        ids = self._chosen[1] if show == gallery.SHOW_CHOSEN and self._chosen else ()
        return GalleryQuery(show=show, class_id=class_id, sort=self.sort_box.currentData(),
                            descending=self.order.isChecked(), search=self.search.text(), ids=ids)

    def show_chosen(self, title: str, ids: list[int]) -> None:
        """Show just these images (from another view, e.g. a run comparison), as the first entry of Show."""
        self._chosen = (title, tuple(ids))
        self._fill_show_box()
        self.show_box.setCurrentIndex(0)
        self._emit()

    def _forget_chosen(self) -> None:
        self._chosen = None
        self._fill_show_box()

    def show_only(self, show: str, class_id: int | None = None) -> None:
        self._refill.flush()
        index = self.show_box.findData(_show_key(show, class_id))
        if index >= 0:
            self.show_box.setCurrentIndex(index)

    def set_sort(self, key: str, descending: bool = False) -> None:
        self.sort_box.setCurrentIndex(self.sort_box.findData(key))
        self.order.setChecked(descending)

    def _fill_show_box(self) -> None:
        """Entries: all, unlabelled, each class, the prediction filters, unreadable; the current choice is kept
        if it still exists."""
        current = self.show_box.currentData()
        counts = self._context.counts() if self._context.project is not None else None
        # Read when runs change (this is called then), not after every label change: after a large relabel
        # the read came through a cold page cache, on the window's thread.
        self._prediction_run = self._context.read(gallery.prediction_run) if self._context.project is not None else None
        self._entries_for = self._structure()
        self.show_box.blockSignals(True)
        self.show_box.clear()
        if self._chosen is not None:
            title, ids = self._chosen
            self._add(icon("images"), title, gallery.SHOW_CHOSEN, None, len(ids))
        # icons keep the text aligned
        self._add(icon("images"), "All images", gallery.SHOW_ALL, None, counts and counts.images)
        self._add(icon("label-clear"), "Unlabelled", gallery.SHOW_UNLABELLED, None, counts and counts.unlabelled)
        if self._context.classes:
            self.show_box.insertSeparator(self.show_box.count())
        for info in self._context.classes:
            self._add(_swatch(info.colour), info.name, gallery.SHOW_CLASS, info.id, info.count)
        self._add_prediction_entries()
        self.show_box.insertSeparator(self.show_box.count())
        self._add(icon("warning"), "Unreadable", gallery.SHOW_UNREADABLE, None, counts and counts.unreadable)
        index = self.show_box.findData(current) if current is not None else 0
        self.show_box.setCurrentIndex(max(index, 0))
        self.show_box.blockSignals(False)
        if current is not None and index < 0:
            self._emit()  # the class shown was deleted or merged

    def _structure(self) -> tuple:
        if self._context.project is None:
            return ()
        return tuple((c.id, c.name, c.colour) for c in self._context.classes), self._prediction_run

    def _update_show_box(self) -> None:
        """After a label change only the counts differ: set the texts in place (rebuilding the box re-lays
        out the bar, ~100 ms with 100,000 images on a busy machine)."""
        if self._entries_for is None or self._structure() != self._entries_for:
            self._fill_show_box()
            return
        counts = self._context.counts()
        by_key = {_show_key(gallery.SHOW_ALL): counts.images, _show_key(gallery.SHOW_UNLABELLED): counts.unlabelled,
                  _show_key(gallery.SHOW_UNREADABLE): counts.unreadable}
        by_key.update({_show_key(gallery.SHOW_CLASS, c.id): c.count for c in self._context.classes})
        for index in range(self.show_box.count()):
            key = self.show_box.itemData(index)
            if key in by_key:
                text = self._entry_text(self.show_box.itemData(index, NAME_ROLE), by_key[key])
                if text != self.show_box.itemText(index):
                    self.show_box.setItemText(index, text)

    def _entry_text(self, name: str, count: int | None) -> str:
        """ "name (count)"; a long name shortened at a word boundary."""
        suffix = f" ({count:,})" if count is not None else ""
        room = MAX_SHOW_WIDTH - 48 - self.show_box.fontMetrics().horizontalAdvance(suffix)  # icon and arrow
        return elide_words(name, self.show_box.fontMetrics(), room) + suffix

    def _add(self, entry_icon: QIcon, name: str, show: str, class_id: int | None, count: int | None) -> None:
        """An entry "name (count)"; a shortened name is shown in full in its tooltip."""
        text = self._entry_text(name, count)
        self.show_box.addItem(entry_icon, text, _show_key(show, class_id))
        self.show_box.setItemData(self.show_box.count() - 1, name, NAME_ROLE)
        if not text.startswith(name):
            self.show_box.setItemData(self.show_box.count() - 1, name, Qt.ItemDataRole.ToolTipRole)

    def _add_prediction_entries(self) -> None:
        """Read from the latest finished run's held-out predictions; none before a project has one."""
        run_id = self._prediction_run
        if run_id is None:
            return
        predicted = self._context.read(gallery.predicted_class_ids, run_id)
        self.show_box.insertSeparator(self.show_box.count())
        # The mistakes to fix first: above the per-class entries, which grow with the number of classes.
        self.show_box.addItem(icon("disagrees"), "Model disagrees with label", _show_key(gallery.SHOW_DISAGREES))
        self.show_box.setItemData(self.show_box.count() - 1, "Labelled images the latest model puts in another "
                                  "class: likely labelling mistakes", Qt.ItemDataRole.ToolTipRole)
        self.show_box.addItem(icon("low-confidence"), "Low confidence", _show_key(gallery.SHOW_LOW_CONFIDENCE))
        self.show_box.setItemData(self.show_box.count() - 1,
                                  f"Predicted with less than {gallery.LOW_CONFIDENCE:.0%} confidence",
                                  Qt.ItemDataRole.ToolTipRole)
        for info in self._context.classes:
            if info.id in predicted:
                self._add(_swatch(info.colour), f"Predicted: {info.name}", gallery.SHOW_PREDICTED, info.id, None)

    def _show_order(self, descending: bool) -> None:
        self.order.setIcon(icon("sort-descending" if descending else "sort-ascending"))
        self.order.setToolTip("Descending order (click for ascending)" if descending
                              else "Ascending order (click for descending)")

    def _emit(self) -> None:
        self.query_changed.emit(self.query())

    def _zoom_button(self, name: str, step: int, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(name))
        button.setAutoRaise(True)
        button.setToolTip(tip)
        button.clicked.connect(lambda: self.zoom.setValue(self.zoom.value() + step))
        return button


def _show_key(show: str, class_id: int | None = None) -> str:
    return f"{show}:{class_id}" if class_id is not None else show


def _parse_show_key(key: str | None) -> tuple[str, int | None]:
    if not key:
        return gallery.SHOW_ALL, None
    show, _, class_id = key.partition(":")
    return show, int(class_id) if class_id else None


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)

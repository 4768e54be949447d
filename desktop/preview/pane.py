"""The selected image shown large (fit or 100%), with its file name, size, label and, once a model has
made one, its prediction. The thumbnail is shown at once while the full picture decodes in the background."""
from __future__ import annotations

from pathlib import PurePosixPath

from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from core.storage import gallery
from core.storage.gallery import ImageDetails
from core.storage.paths import shown
from core.images.thumbnails import THUMB_SIZE
from desktop.widgets.icons import icon
from desktop.preview.heat_overlay import HeatOverlay
from desktop.preview.image_canvas import ImageCanvas
from desktop.preview.loader import PreviewLoader
from desktop.project.context import ProjectContext
from desktop.widgets.thumbnail_loader import ThumbnailLoader


class PreviewPane(QWidget):
    def __init__(self, context: ProjectContext, thumbnails: ThumbnailLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("previewPane")
        self._context = context
        self._thumbnails = thumbnails
        self._loader = PreviewLoader(self)
        self._loader.ready.connect(self._picture_ready)
        self._loader.failed.connect(lambda _id, reason: self.canvas.set_image(None, f"Cannot show this image:\n{reason}"))
        self.image_id: int | None = None
        self.details: ImageDetails | None = None

        self.canvas = ImageCanvas()
        self.fit_action = QAction(icon("zoom-fit"), "Fit to Pane", self)
        self.fit_action.setShortcut(QKeySequence("Ctrl+9"))
        self.actual_action = QAction(icon("zoom-actual"), "Actual Size (100%)", self)
        self.actual_action.setShortcut(QKeySequence("Ctrl+0"))
        group = QActionGroup(self)
        for action in (self.fit_action, self.actual_action):
            action.setCheckable(True)
            group.addAction(action)
        self.fit_action.setChecked(True)
        self.actual_action.toggled.connect(self.canvas.set_actual_size)
        self.heat_action = QAction(icon("low-confidence"), "Why? Show What the Model Looked At", self)
        self.heat_action.setCheckable(True)
        self.heat_action.setShortcut(QKeySequence("Ctrl+H"))
        self.heat_action.setStatusTip("Lay a heat map over the image: the regions that drove the latest model's "
                                      "prediction (Grad-CAM)")
        self.heat_action.toggled.connect(self._heat_toggled)
        self.heat = HeatOverlay(context, self)
        self.heat.ready.connect(self._heat_ready)
        self.heat.failed.connect(self._heat_failed)
        self.heat_note = QLabel()
        self.heat_note.setWordWrap(True)

        self.name = QLabel()
        self.name.setWordWrap(True)
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.name.setFont(font)
        self.folder, self.size, self.dimensions, self.label, self.prediction, self.selection = (
            QLabel() for _ in range(6))
        for label in (self.folder, self.label, self.prediction):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for action in (self.fit_action, self.actual_action, self.heat_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.selection)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(10)
        form.addRow("Folder", self.folder)
        form.addRow("File size", self.size)
        form.addRow("Pixels", self.dimensions)
        form.addRow("Label", self.label)
        form.addRow("Prediction", self.prediction)
        self._prediction_row = form.rowCount() - 1
        self._form = form
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.heat_note)
        layout.addWidget(self.name)
        layout.addLayout(form)
        context.closed.connect(lambda: self.show_image(None))
        context.labels_changed.connect(lambda ids: self.image_id in ids and self._reload_details())
        self._class_names: tuple = ()  # (id, name, colour) of each class, as last shown
        context.classes_changed.connect(self._classes_changed)
        context.runs_changed.connect(self._reload_details)  # the newest run's prediction
        self.show_image(None)

    def show_image(self, image_id: int | None, selected: int = 0) -> None:
        """Show image `image_id` (None: nothing selected); `selected` is how many images are selected."""
        self.selection.setText(f"{selected:,} selected" if selected > 1 else "")
        if image_id == self.image_id and image_id is not None:
            return
        self.image_id = image_id
        self.canvas.set_overlay(None)
        self.heat_note.clear()
        self._reload_details()
        details = self.details
        if details is None:
            self._loader.forget()
            self.canvas.set_image(None, "Select an image to see it here." if self._context.project else "")
            return
        if details.status == "unreadable":
            self._loader.forget()
            self.canvas.set_image(None, f"This file cannot be read:\n{details.error}")
            return
        quick = self._thumbnails.pixmap(details.id, None, details.path, THUMB_SIZE)
        self.canvas.set_image(quick, "Loading…")
        self._loader.request(details.id, self._context.project.root / details.path)
        if self.heat_action.isChecked():
            self._explain()

    # -- the heat map ---------------------------------------------------------------------------------------
    def _heat_toggled(self, on: bool) -> None:
        if on:
            self._explain()
        else:
            self.heat.request(None)
            self.canvas.set_overlay(None)
            self.heat_note.clear()

    def _explain(self) -> None:
        if self.details is not None and self.details.status == "ok":
            self.heat_note.setText("Working out what the model looked at…")
            self.heat.request(self.details.id)

    def _heat_ready(self, image_id: int, overlay, heat) -> None:
        if image_id == self.image_id and self.heat_action.isChecked():
            self.canvas.set_overlay(overlay, heat.box)
            self.heat_note.setText(f"Red: where the model looked to say {_escape(heat.class_name)} "
                                   f"({heat.confidence:.0%}).")

    def _heat_failed(self, message: str) -> None:
        self.heat_note.setText(message)

    def shutdown(self) -> None:
        self._loader.forget()
        self._loader.wait()

    def _picture_ready(self, image_id: int, image) -> None:
        if image_id == self.image_id:
            self.canvas.set_image(image)

    def _classes_changed(self) -> None:
        """Classes renamed, recoloured, added or gone: the label and prediction shown may read differently.
        Not when only their counts changed, as after every label key (a store read each time)."""
        names = tuple((c.id, c.name, c.colour) for c in self._context.classes)
        if names != self._class_names:
            self._class_names = names
            self._reload_details()

    def _reload_details(self) -> None:
        project = self._context.project
        self.details = (self._context.read(gallery.image_details, self.image_id)
                        if project is not None and self.image_id is not None else None)
        d = self.details
        for widget in (self.name, self.folder, self.size, self.dimensions, self.label, self.prediction):
            widget.clear()
        self._form.setRowVisible(self._prediction_row, bool(d and d.prediction))
        if d is None:
            return
        path = PurePosixPath(d.path)
        self.name.setText(shown(path.name))
        self.folder.setText(shown(str(path.parent)) if str(path.parent) != "." else "(top folder)")
        self.size.setText(f"{QLocale().formattedDataSize(d.size)}   ·   modified {d.modified:%Y-%m-%d %H:%M}")
        self.dimensions.setText(f"{d.width:,} × {d.height:,}" if d.width and d.height else "—")
        if d.class_name:
            self.label.setText(f'<span style="color:{d.class_colour}">●</span> {_escape(d.class_name)}')
        else:
            self.label.setText("Unlabelled")
        if d.prediction:
            p = d.prediction
            how = "held-out" if p.out_of_fold else "final model"
            self.prediction.setText(f"{_escape(p.class_name)}  ({p.confidence:.0%}, {how})")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

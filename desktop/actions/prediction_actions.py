"""Accepting the model's predictions in the main grid: Enter gives each selected unlabelled image the class
the newest model predicts for it (recorded in the history as accepted predictions, undone like any label)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from core.storage import gallery, labels
from desktop.gallery.view import GalleryView
from desktop.project.context import ProjectContext


class PredictionActions:
    def __init__(self, context: ProjectContext, grid: GalleryView, parent: QWidget):
        self._context = context
        self._grid = grid
        self.accept = QAction("Accept Prediction", parent)
        self.accept.setShortcuts([QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
        self.accept.setStatusTip("Label the selected unlabelled images as the model predicts")
        # Enter belongs to the grid: other views (the mistake queue) give it their own meaning.
        self.accept.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.accept.triggered.connect(self.accept_selection)
        grid.addAction(self.accept)
        context.opened.connect(lambda _project: self.accept.setEnabled(True))
        context.closed.connect(lambda: self.accept.setEnabled(False))
        self.accept.setEnabled(context.project is not None)

    def accept_selection(self) -> int:
        """Label the selected images that have a prediction; returns how many."""
        ids = self._grid.selected_ids()
        guesses = self._context.read(gallery.predictions_of, ids) if ids and self._context.project else {}
        live = {c.id for c in self._context.classes}
        accepted = {image_id: class_id for image_id, class_id in guesses.items() if class_id in live}
        if not accepted:
            self._context.message.emit("No prediction to accept: select unlabelled images the model has predicted "
                                       "(train a model first).")
            return 0
        count = f"{len(accepted):,} prediction{'s' if len(accepted) != 1 else ''}"
        self._context.assign_labels(accepted, labels.ACCEPTED_PREDICTION, f"Accepted {count}")
        return len(accepted)

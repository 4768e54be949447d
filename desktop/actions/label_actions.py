"""Labelling from the keyboard and the mouse: 1–9 give the selected images that class, 0 / Backspace clear
it, a drop on a class labels the dragged images, and Undo / Redo walk the store's label history (so they
work after a restart). After labelling, the selection can move on to the next unlabelled image.

The keys label the selection of the view in front: the main grid, or another view's image grid that
offers `selected_ids()` (the Review view's), made the target with set_target."""
from __future__ import annotations

from itertools import chain, islice

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget

from core.storage import gallery
from desktop.gallery.view import GalleryView
from desktop.widgets.icons import icon
from desktop.project.context import HOTKEYS, ProjectContext
from desktop.project.settings import AppSettings


SHOW_STEP_MAX = 5_000


class LabelActions:
    def __init__(self, context: ProjectContext, grid: GalleryView, settings: AppSettings, parent: QWidget):
        self._context = context
        self._grid = grid
        self._target = grid  # whose selection the keys label
        self._settings = settings
        self._parent = parent
        self.assign: list[QAction] = []
        for number in range(1, HOTKEYS + 1):
            action = QAction(f"Class {number}", parent)
            action.setShortcut(QKeySequence(str(number)))
            action.triggered.connect(lambda _checked=False, n=number: self.label_with_key(n))
            self.assign.append(action)
        self.clear = QAction(icon("label-clear"), "Clear Label", parent)
        self.clear.setShortcuts([QKeySequence("0"), QKeySequence(Qt.Key.Key_Backspace)])
        self.clear.setStatusTip("Remove the label of the selected images")
        self.clear.triggered.connect(lambda: self.label_selection(None))
        self.undo = QAction(icon("undo"), "Undo", parent)
        self.undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo.triggered.connect(self.undo_last)
        self.redo = QAction(icon("redo"), "Redo", parent)
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo.triggered.connect(self.redo_last)
        self.advance = QAction("Go to Next Unlabelled Image After Labelling", parent)
        self.advance.setCheckable(True)
        self.advance.setChecked(settings.advance_after_label())
        self.advance.toggled.connect(settings.set_advance_after_label)
        for action in self.assign + [self.clear]:
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            parent.addAction(action)  # shortcuts work with no menu open (text fields still get their keys)

        context.history_step.connect(self._show_step)
        context.classes_changed.connect(self._update)
        context.history_changed.connect(self._update)
        context.opened.connect(lambda _project: self._update())
        context.closed.connect(self._update)
        self._update()

    # -- labelling -----------------------------------------------------------------------------------------
    def label_with_key(self, number: int) -> None:
        target = self._context.class_for_key(number)
        if target is None:
            have = len(self._context.classes)
            self._context.message.emit(f"No class has the key {number} ({have} class(es); add one with New Class…).")
            return
        self.label_selection(target.id)

    def set_target(self, target=None) -> None:
        """Label the selection of `target` (an object with selected_ids()); None: the main grid's."""
        self._target = target if target is not None else self._grid

    def label_selection(self, class_id: int | None) -> None:
        ids = self._target.selected_ids()
        if not ids:
            self._context.message.emit("Select images first (click, Shift/Ctrl+click, or drag a frame around them).")
            return
        self.label_images(ids, class_id, from_grid=self._target is self._grid)

    def label_images(self, ids: list[int], class_id: int | None, from_grid: bool = False) -> None:
        """Label `ids`; when they were the grid's selection, move on to the next unlabelled image (setting)."""
        following = self._next_unlabelled(ids) if from_grid and self.advance.isChecked() else None
        then = (lambda: self._grid.select_ids([following], following)) if following is not None else None
        self._context.set_labels(ids, class_id, then)

    def _next_unlabelled(self, labelling: list[int]) -> int | None:
        """The first unlabelled image after the selection in grid order (wrapping), not being labelled now."""
        last = self._grid.last_selected_row()
        if last is None:
            return None
        ids = self._grid.model().ids()
        skip = set(labelling)
        after = last + 1
        candidates = (i for i in chain(islice(ids, after, None), islice(ids, after)) if i not in skip)
        return self._context.read(gallery.first_unlabelled, candidates)

    def menu_actions(self) -> list[QAction]:
        """The number-key actions that have a class, for the Label menu."""
        return self.assign[: min(HOTKEYS, len(self._context.classes))]

    # -- history ------------------------------------------------------------------------------------------
    def undo_last(self) -> None:
        if self._agreed("Undo"):
            self._context.undo()

    def redo_last(self) -> None:
        if self._agreed("Redo"):
            self._context.redo()

    def _agreed(self, verb: str) -> bool:
        """A change another process made while this window was open is undone only when the user says so."""
        self._context.check_for_outside_changes()  # the step may be newer than the last poll
        step = self._context.next_undo if verb == "Undo" else self._context.next_redo
        return not self._context.is_foreign(step) or confirm_outside_step(self._parent, verb, step.description)

    def _show_step(self, step) -> None:
        """Select the images an undo or redo changed, so the user sees what came back (up to a few
        thousand: selecting 100,000 scattered images costs more than it shows)."""
        if 0 < len(step.image_ids) <= SHOW_STEP_MAX:
            self._grid.select_ids(step.image_ids)

    def _update(self) -> None:
        is_open = self._context.project is not None
        for number, action in enumerate(self.assign, start=1):
            target = self._context.class_for_key(number)
            action.setText(f"Label as {target.name!r}" if target else f"Class {number}")
            action.setEnabled(is_open)
        self.clear.setEnabled(is_open)
        idle = is_open and not self._context.busy
        self.undo.setEnabled(idle and self._context.can_undo)
        self.redo.setEnabled(idle and self._context.can_redo)
        for action, verb, step in ((self.undo, "Undo", self._context.next_undo),
                                   (self.redo, "Redo", self._context.next_redo)):
            outside = " (made outside this window)" if self._context.is_foreign(step) else ""
            action.setText(f"{verb}: {step.description}{outside}" if is_open and step else verb)
            action.setIconText(verb)  # the toolbar stays narrow; the menu and the tooltip name the change
            action.setToolTip(action.text())


def confirm_outside_step(parent: QWidget, verb: str, description: str) -> bool:
    answer = QMessageBox.question(
        parent, f"{verb} a Change Made Elsewhere",
        f"The change to {verb.lower()} ({description}) was made outside this window, by another Dovecote "
        f"window or the command line. {verb} it anyway?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes

"""Add, rename, merge and delete classes: the actions behind the sidebar buttons and the Classes menu."""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from desktop.classes import dialogs as class_dialogs
from desktop.classes.sidebar import ClassSidebar
from desktop.widgets.icons import icon
from desktop.project.context import ProjectContext


class ClassActions:
    def __init__(self, context: ProjectContext, sidebar: ClassSidebar, parent: QWidget):
        self._context = context
        self._sidebar = sidebar
        self._parent = parent
        self.add = _action(parent, "New Class…", "class-add", self.add_class, QKeySequence("Ctrl+Shift+N"),
                           "Add a class (its number key labels the selected images)")
        self.rename = _action(parent, "Rename Class…", "rename", self.rename_class, QKeySequence("F2"),
                              "Rename the class selected in the sidebar")
        self.merge = _action(parent, "Merge Class Into…", "merge", self.merge_class, None,
                             "Move every image of the selected class into another class")
        self.delete = _action(parent, "Delete Class…", "delete", self.delete_class, None,
                              "Delete the selected class; its images become unlabelled")
        for action in self.all():
            sidebar.add_button(action)
        context.opened.connect(lambda _project: self._update())
        context.closed.connect(self._update)
        context.classes_changed.connect(self._update)
        sidebar.view.selectionModel().currentChanged.connect(lambda *_: self._update())
        self._update()

    def all(self) -> list[QAction]:
        return [self.add, self.rename, self.merge, self.delete]

    def add_class(self) -> None:
        suggestion = f"class {len(self._context.classes) + 1}"
        name = class_dialogs.ask_new_class(self._parent, suggestion)
        if name:
            class_id = self._context.add_class(name)
            if class_id is not None:
                self._sidebar.select_class(class_id)

    def rename_class(self) -> None:
        current = self._current()
        if current is not None:
            new = class_dialogs.ask_rename(self._parent, current.name)
            if new:
                self._context.rename_class(current.name, new)

    def merge_class(self) -> None:
        current = self._current()
        if current is None:
            return
        others = [c.name for c in self._context.classes if c.id != current.id]
        target = class_dialogs.ask_merge_target(self._parent, current.name, others)
        if target:
            self._context.merge_classes(current.name, target)

    def delete_class(self) -> None:
        current = self._current()
        if current is not None and class_dialogs.confirm_delete(self._parent, current.name, current.count):
            self._context.delete_class(current.name)

    def _current(self):
        return self._context.class_by_id(self._sidebar.current_class_id())

    def _update(self) -> None:
        is_open = self._context.project is not None
        selected = is_open and self._current() is not None
        self.add.setEnabled(is_open)
        self.rename.setEnabled(selected)
        self.delete.setEnabled(selected)
        self.merge.setEnabled(selected and len(self._context.classes) > 1)


def _action(parent: QWidget, text: str, icon_name: str, slot, shortcut, tip: str) -> QAction:
    action = QAction(icon(icon_name), text, parent)
    if shortcut is not None:
        action.setShortcut(shortcut)
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action

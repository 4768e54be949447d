"""The questions class operations ask. Small functions, so tests can answer them without a modal loop."""
from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget


def ask_new_class(parent: QWidget, suggestion: str = "") -> str | None:
    name, ok = QInputDialog.getText(parent, "New Class", "Name of the new class:", QLineEdit.EchoMode.Normal,
                                    suggestion)
    return name.strip() if ok and name.strip() else None


def ask_rename(parent: QWidget, old: str) -> str | None:
    name, ok = QInputDialog.getText(parent, "Rename Class", f"New name for {old!r}:", QLineEdit.EchoMode.Normal, old)
    return name.strip() if ok and name.strip() and name.strip() != old else None


def ask_merge_target(parent: QWidget, source: str, candidates: list[str]) -> str | None:
    target, ok = QInputDialog.getItem(
        parent, "Merge Class", f"Move every image of {source!r} into:\n({source!r} is removed; Undo brings it back.)",
        candidates, 0, False)
    return target if ok and target else None


def confirm_delete(parent: QWidget, name: str, count: int) -> bool:
    images = f"Its {count:,} image(s) become unlabelled. " if count else ""
    answer = QMessageBox.question(
        parent, "Delete Class", f"Delete the class {name!r}? {images}You can undo this with Edit → Undo.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes

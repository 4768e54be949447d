"""The questions class operations ask. Small functions, so tests can answer them without a modal loop."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QInputDialog, QLabel, QLineEdit, QMessageBox,
                               QVBoxLayout, QWidget)


def ask_new_class(parent: QWidget, suggestion: str = "") -> str | None:
    name, ok = QInputDialog.getText(parent, "New Class", "Name of the new class:", QLineEdit.EchoMode.Normal,
                                    suggestion)
    return name.strip() if ok and name.strip() else None


def ask_rename(parent: QWidget, old: str) -> str | None:
    name, ok = QInputDialog.getText(parent, "Rename Class", f"New name for {old!r}:", QLineEdit.EchoMode.Normal, old)
    return name.strip() if ok and name.strip() and name.strip() != old else None


def ask_merge_target(parent: QWidget, source: str, candidates: list[str]) -> str | None:
    dialog = MergeDialog(parent, source, candidates)
    return dialog.target() if dialog.exec() == QDialog.DialogCode.Accepted else None


class MergeDialog(QDialog):
    """No class is chosen at first and Merge stays disabled until one is: Enter never merges by accident."""

    def __init__(self, parent: QWidget | None, source: str, candidates: list[str]):
        super().__init__(parent)
        self.setWindowTitle("Merge Class")
        self.choice = QComboBox()
        self.choice.setPlaceholderText("Choose a class…")
        self.choice.addItems(candidates)
        self.choice.setCurrentIndex(-1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.merge = self.buttons.addButton("Merge", QDialogButtonBox.ButtonRole.AcceptRole)
        self.merge.setEnabled(False)
        self.merge.setAutoDefault(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.choice.currentIndexChanged.connect(lambda index: self.merge.setEnabled(index >= 0))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Move every image of {source!r} into:"))
        layout.addWidget(self.choice)
        layout.addWidget(QLabel(f"({source!r} is removed; Undo brings it back.)"))
        layout.addWidget(self.buttons)

    def target(self) -> str | None:
        return self.choice.currentText() if self.choice.currentIndex() >= 0 else None

    def accept(self) -> None:
        if self.target() is not None:  # Enter with nothing chosen does nothing
            super().accept()


def confirm_delete(parent: QWidget, name: str, count: int) -> bool:
    images = f"Its {count:,} image(s) become unlabelled. " if count else ""
    answer = QMessageBox.question(
        parent, "Delete Class", f"Delete the class {name!r}? {images}You can undo this with Edit → Undo.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes

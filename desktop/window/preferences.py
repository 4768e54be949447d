"""Edit → Preferences… (Ctrl+,): the settings a user changes rarely. For now "Classify with Dovecote" on
folders' right-click menu in the file managers, added or removed through core/integration (the same files
and registry keys `dovecote integrate` writes)."""
from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from core.errors import DovecoteError
from core.integration import for_this_system
from core.integration.entries import ABSENT, INSTALLED, MENU_LABEL, OUTDATED, SYSTEM, Entry

log = logging.getLogger(__name__)

STATES = {
    INSTALLED: "added",
    SYSTEM: "added for all users by the installed package",
    OUTDATED: "calls another copy of Dovecote: Add to update it",
    ABSENT: "not added",
}


def integration_or_reason(factory: Callable | None = None):
    """(integration, "") or (None, why there is none: e.g. no installed `dovecote` program to call).
    `factory` makes the integration (default: this system's, for the installed dovecote)."""
    try:
        return (factory or for_this_system)(), ""
    except DovecoteError as error:
        return None, str(error)


def describe(entries: list[Entry]) -> str:
    """One line per entry, for a person."""
    return "\n".join(f"{entry.name}: {STATES.get(entry.state, entry.state)}" for entry in entries)


def all_added(entries: list[Entry]) -> bool:
    return all(entry.state in (INSTALLED, SYSTEM) for entry in entries)


class PreferencesDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, integration_factory: Callable | None = None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferencesDialog")
        self._integration, reason = integration_or_reason(integration_factory)

        box = QGroupBox("File manager", self)
        intro = QLabel(f"“{MENU_LABEL}” on the right-click menu of folders classifies a folder's images with a "
                       "model you trained, without opening a project.", box)
        intro.setWordWrap(True)
        self.entries = QLabel(box)
        self.entries.setObjectName("integrationEntries")
        self.entries.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel(box)  # what the last click did, or why nothing can be done
        self.message.setWordWrap(True)
        self.add_button = QPushButton("&Add to the Menu", box)
        self.remove_button = QPushButton("&Remove from the Menu", box)
        self.add_button.clicked.connect(lambda: self._change("install"))
        self.remove_button.clicked.connect(lambda: self._change("uninstall"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        inner = QVBoxLayout(box)
        for widget in (intro, self.entries):
            inner.addWidget(widget)
        inner.addLayout(buttons)
        inner.addWidget(self.message)

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(box)
        layout.addStretch(1)
        layout.addWidget(close)
        if self._integration is None:
            self.message.setText(reason)
            self.add_button.setEnabled(False)
            self.remove_button.setEnabled(False)
        else:
            self._show(self._integration.status())
        self.resize(max(560, self.sizeHint().width()), self.sizeHint().height())  # sized to the entries shown

    def _change(self, action: str) -> None:
        try:
            entries = getattr(self._integration, action)()
        except (DovecoteError, OSError) as error:
            log.warning("file manager entries: %s failed: %s", action, error)
            self.message.setText(f"Could not change the menu: {error}")
            self._show(self._integration.status())
            return
        done = all_added(entries) if action == "install" else not any(e.state in (INSTALLED, OUTDATED)
                                                                       for e in entries)
        what = "added" if action == "install" else "removed"
        self.message.setText(f"“{MENU_LABEL}” {what}. A file manager that is open may need a restart to show "
                             "the change." if done else f"Not every entry could be {what}: see above.")
        self._show(entries)

    def _show(self, entries: list[Entry]) -> None:
        self.entries.setText(describe(entries))
        self.add_button.setEnabled(not all_added(entries))
        # The package's entries go with the package: only those the app wrote can be removed here.
        self.remove_button.setEnabled(any(e.state in (INSTALLED, OUTDATED) for e in entries))

"""On the first start, once: offer "Classify with Dovecote" in the file managers' right-click menus, for a
user who installed by double-clicking and will never type `dovecote integrate install`. The answer is
remembered either way; Edit → Preferences adds or removes the entries later. Not on Windows: its setup
program asked already."""
from __future__ import annotations

import sys
from typing import Callable

from PySide6.QtWidgets import QMainWindow, QMessageBox

from core.integration.entries import MENU_LABEL
from desktop.project.settings import AppSettings
from desktop.window.preferences import all_added, integration_or_reason

MESSAGE_MS = 8000


def offer_file_manager_entries(window: QMainWindow, settings: AppSettings,
                               integration_factory: Callable | None = None,
                               platform: str = sys.platform) -> QMessageBox | None:
    """Shows the offer (not modal) unless it was made before or there is nothing to offer; returns it."""
    if settings.file_manager_offered() or platform == "win32":
        return None
    integration, _reason = integration_or_reason(integration_factory)
    if integration is None:  # nothing installed to call (a source checkout without its script): ask later
        return None
    if all_added(integration.status()):
        settings.set_file_manager_offered(True)
        return None
    box = QMessageBox(QMessageBox.Icon.Question, "Dovecote",
                      f"Add “{MENU_LABEL}” to the right-click menu of folders in your file manager?", parent=window)
    box.setObjectName("fileManagerOffer")
    box.setInformativeText("Then a right-click on any folder classifies its images with a model you trained. "
                           "You can add or remove it at any time in Edit → Preferences.")
    add = box.addButton("Add to the Menu", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Not Now", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(add)

    def answered() -> None:
        settings.set_file_manager_offered(True)
        settings.sync()
        if box.clickedButton() is add:
            try:
                done = all_added(integration.install())
            except OSError as error:
                done, why = False, str(error)
            else:
                why = "see Edit → Preferences"
            window.statusBar().showMessage(
                f"“{MENU_LABEL}” is on the right-click menu of folders." if done else
                f"Could not add “{MENU_LABEL}” to every file manager ({why}).", MESSAGE_MS)

    box.finished.connect(answered)
    box.open()
    return box

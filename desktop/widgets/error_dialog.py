"""The one way a view tells the user that something failed: a one-line message; for a bug (or a background
task that died) also a "Show Details…" button with the traceback and where the log is. Never a traceback in
the message itself."""
from __future__ import annotations

import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from core.errors import DovecoteError
from core.logs import configured_path, log_path

MAX_MESSAGE = 300


def describe_failure(error: BaseException) -> tuple[str, str]:
    """(one line for the user, details for the Details button: empty for a DovecoteError)."""
    if isinstance(error, DovecoteError):
        return str(error), ""
    details = getattr(error, "details", "")
    if details:  # a crash report (desktop.tasks.TaskCrashed): its message is written for the user already
        return _one_line(str(error)), details
    first = _one_line(str(error)) or type(error).__name__
    return f"Something went wrong: {first}", "".join(traceback.format_exception(error))


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """A warning with `message`; with `details`, a Details button and the log's path."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if details:
        box.setInformativeText(f"The details are also in the log: {configured_path() or log_path()}")
        box.setDetailedText(details)
    box.open()  # not exec(): background tasks keep reporting while it is shown
    return box


def show_failure(parent: QWidget | None, title: str, error: BaseException) -> QMessageBox:
    """show_error for an exception (what a Task's `failed` signal carries)."""
    return show_error(parent, title, *describe_failure(error))


def _one_line(text: str) -> str:
    """The message as one line: wrapped sentences joined, an embedded traceback left to the Details."""
    line = " ".join(text.split("Traceback (most recent call last)")[0].split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"

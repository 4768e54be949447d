"""Work that a store change asks of a widget nobody can see, put off until the widget is shown.

After a retrain every view hears runs_changed at once, on the window's thread; the hidden ones' reads (the
runs table, the Images view's filters) ran beside the visible ones' and made the window stall."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget


class WhenShown(QObject):
    """Call it (e.g. from a signal) to have `work` done: now if `widget` is visible, else once it is next
    shown. However often it is called while hidden, the work is done once."""

    def __init__(self, widget: QWidget, work: Callable[[], None]):
        super().__init__(widget)
        self._widget, self._work, self._due = widget, work, False
        widget.installEventFilter(self)

    def __call__(self, *_args) -> None:
        self._due = True
        if self._widget.isVisible():
            self.flush()

    def flush(self) -> None:
        """Do the work if it is due, shown or not: for a caller that needs its result now."""
        if self._due:
            self._due = False
            self._work()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._widget and event.type() == QEvent.Type.Show:
            self.flush()
        return False

"""The Qt binding must not corrupt Python's reference counts: PySide6 6.12.0 on Python 3.11 dropped a
reference to True on every Signal.emit() and to None on every None returned by a Python data(), and the
app aborted (bool_dealloc) after a few hundred signals. Counted here rather than crashed into."""
from __future__ import annotations

import sys

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal


class _Sender(QObject):
    ping = Signal()
    event = Signal(object)


class _Model(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()) -> int:
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None


def test_emitting_signals_keeps_reference_counts(qapp):
    sender = _Sender()
    received = [0]
    sender.event.connect(lambda value: received.__setitem__(0, received[0] + (value is None)))
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(50):
        sender.ping.emit()
        sender.event.emit(None)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert received[0] == 50
    assert after == before


def test_a_model_returning_none_keeps_reference_counts(qapp):
    model = _Model()
    index = model.index(0)
    before = sys.getrefcount(None)
    for _ in range(50):
        index.data(Qt.ItemDataRole.UserRole)
    after = sys.getrefcount(None)
    assert after == before

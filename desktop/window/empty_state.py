"""What a new user sees before any folder is open: what to do, one button to do it, and recent projects."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from desktop.widgets.icons import app_icon, icon


class EmptyState(QWidget):
    open_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("emptyState")
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(QSize(96, 96)))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        logo.setMinimumHeight(100)
        self.title = title = QLabel("Open a folder of images to start")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "Dovecote shows every image in the folder and its subfolders, so you can sort them into classes "
            "and train a classifier. Your files are never moved or changed; labels are kept in a "
            ".dovecote folder inside it.\n\nYou can also drag a folder onto this window.")
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.open_button = QPushButton(icon("folder-open"), "  Open Folder…")
        self.open_button.setIconSize(QSize(20, 20))
        self.open_button.setMinimumHeight(36)
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.open_requested)

        self._recent_title = QLabel("Recent projects")
        self._recent_title.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._recent_box = QVBoxLayout()
        self._recent_box.setSpacing(0)

        panel = QWidget()  # a fixed-width column: wrapped text gets the height it needs
        panel.setFixedWidth(560)
        column = QVBoxLayout(panel)
        column.setSpacing(14)
        column.addWidget(logo)
        column.addWidget(title)
        column.addWidget(hint)
        column.addSpacing(6)
        column.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addSpacing(10)
        column.addWidget(self._recent_title, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addLayout(self._recent_box)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(panel)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(3)
        outer.addLayout(row)
        outer.addStretch(4)
        self.set_recent([])

    def set_recent(self, folders: list[str]) -> None:
        while self._recent_box.count():
            item = self._recent_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for folder in folders[:5]:
            button = QToolButton()
            button.setText(f"{Path(folder).name}   —   {folder}")
            button.setToolTip(f"Open {folder}")
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _checked=False, f=folder: self.recent_requested.emit(f))
            self._recent_box.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        self._recent_title.setVisible(bool(folders))


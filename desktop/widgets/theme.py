"""Light and dark palettes. "system" follows the desktop's colour scheme, also when it changes while the
app runs; "light" and "dark" override it (View → Theme)."""
from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("system", "light", "dark")
_chosen = "system"
_following = False  # connected to the desktop's colour-scheme changes


def apply_theme(app: QApplication, theme: str = "system") -> None:
    global _chosen
    _chosen = theme if theme in THEMES else "system"
    if sys.platform.startswith("linux") or _chosen != "system":
        # Fusion draws both palettes well everywhere; native Windows/macOS styles handle "system" themselves.
        app.setStyle(QStyleFactory.create("Fusion"))
    app.setPalette(dark_palette() if is_dark() else app.style().standardPalette())
    global _following
    if not _following:
        QGuiApplication.styleHints().colorSchemeChanged.connect(_follow_system)
        _following = True


def is_dark() -> bool:
    if _chosen != "system":
        return _chosen == "dark"
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def _follow_system(_scheme) -> None:
    app = QApplication.instance()
    if app is not None and _chosen == "system":
        apply_theme(app, "system")


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#26282c",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1d1f22",
        QPalette.ColorRole.AlternateBase: "#2c2f33",
        QPalette.ColorRole.ToolTipBase: "#33363b",
        QPalette.ColorRole.ToolTipText: "#eeeeee",
        QPalette.ColorRole.PlaceholderText: "#8b8f96",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#303338",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Light: "#44474d",
        QPalette.ColorRole.Midlight: "#3a3d42",
        QPalette.ColorRole.Mid: "#2a2c30",
        QPalette.ColorRole.Dark: "#151618",
        QPalette.ColorRole.Shadow: "#0b0b0c",
        QPalette.ColorRole.Highlight: "#3d7fd6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6aa9ff",
        QPalette.ColorRole.LinkVisited: "#b394f0",
    }
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#74777d"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor("#4a4d52"))
    return palette

"""Icons drawn as SVG in resources/icons. Line icons use `currentColor` and are painted in the palette's
text colour at paint time, so they follow light and dark palettes without reloading."""
from __future__ import annotations

import functools
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer


def resources_dir() -> Path:
    """resources/ beside the packages, or inside a frozen (PyInstaller) bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) / "resources" if bundle else Path(__file__).resolve().parents[2] / "resources"


@functools.lru_cache(maxsize=None)
def _svg_text(name: str) -> str:
    return (resources_dir() / "icons" / f"{name}.svg").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=256)
def _renderer(name: str, colour: str) -> QSvgRenderer:
    return QSvgRenderer(QByteArray(_svg_text(name).replace("currentColor", colour).encode("utf-8")))


class _PaletteSvgEngine(QIconEngine):
    def __init__(self, name: str):
        super().__init__()
        self._name = name

    def _colour(self, mode: QIcon.Mode) -> str:
        palette = QGuiApplication.palette()
        group = QPalette.ColorGroup.Disabled if mode == QIcon.Mode.Disabled else QPalette.ColorGroup.Active
        role = QPalette.ColorRole.HighlightedText if mode == QIcon.Mode.Selected else QPalette.ColorRole.WindowText
        colour = palette.color(group, role)
        if mode == QIcon.Mode.Disabled:  # fade towards the background (SVG colours carry no alpha here)
            back = palette.color(QPalette.ColorRole.Window)
            colour = QColor.fromRgbF(*(0.45 * a + 0.55 * b for a, b in zip(colour.getRgbF()[:3], back.getRgbF()[:3])))
        return colour.name(QColor.NameFormat.HexRgb)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        _renderer(self._name, self._colour(mode)).render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.paint(painter, QRect(0, 0, size.width(), size.height()), mode, state)
        painter.end()
        return pixmap

    def clone(self) -> QIconEngine:
        return _PaletteSvgEngine(self._name)


def icon(name: str) -> QIcon:
    """A named icon from resources/icons (tinted to the palette when it uses currentColor)."""
    if "currentColor" in _svg_text(name):
        return QIcon(_PaletteSvgEngine(name))
    return QIcon(str(resources_dir() / "icons" / f"{name}.svg"))


def app_icon() -> QIcon:
    return icon("dovecote")

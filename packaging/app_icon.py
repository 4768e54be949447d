"""The app icon (resources/icons/dovecote.svg) as the files each platform's installer wants.

Qt's SVG renderer (already in the app's dependencies) draws the SVG once at 1024 px; Pillow scales that
down and writes PNG, Windows .ico (several sizes in one file) and macOS .icns."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
PNG_SIZE = 256  # /usr/share/icons/hicolor/256x256/apps


def render_svg(svg: Path, size: int) -> Image.Image:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not an SVG image Qt can draw")
    image = QImage(size, size, QImage.Format.Format_RGBA8888)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return Image.frombuffer("RGBA", (size, size), bytes(image.constBits()), "raw", "RGBA", image.bytesPerLine(), 1)


def make_icons(svg: Path, out_dir: Path) -> dict[str, Path]:
    """{"png", "ico", "icns"} → the written file, each named dovecote.<kind> in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    large = render_svg(svg, 1024)
    paths = {kind: out_dir / f"dovecote.{kind}" for kind in ("png", "ico", "icns")}
    large.resize((PNG_SIZE, PNG_SIZE), Image.Resampling.LANCZOS).save(paths["png"])
    large.save(paths["ico"], sizes=ICO_SIZES)
    large.save(paths["icns"])
    return paths

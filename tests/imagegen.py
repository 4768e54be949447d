"""Generated test images: a clean class folder, and a folder of every kind of awkward file users have."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image


def solid(path: Path, colour=(200, 30, 30), size=(48, 32), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, fmt)
    return path


def class_folder(root: Path, classes=("cats", "dogs"), per_class=4, size=(48, 32)) -> Path:
    """root/<class>/<i>.png, each class a distinct colour with a little variation."""
    palette = [(220, 40, 40), (40, 180, 60), (40, 60, 220), (230, 200, 30)]
    for c, name in enumerate(classes):
        r, g, b = palette[c % len(palette)]
        for i in range(per_class):
            solid(root / name / f"{i}.png", (r, g, min(255, b + 5 * i)), size)
    return root


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims a huge size (a decompression bomb) with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def bad_files(root: Path) -> dict[str, str]:
    """Writes the awkward files; returns name → what Dovecote must make of it ("ok" or a reason keyword)."""
    root.mkdir(parents=True, exist_ok=True)
    expect = {}
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 200)).save(buf, "JPEG", quality=90)
    (root / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    expect["truncated.jpg"] = "truncated"
    (root / "empty.jpg").write_bytes(b"")
    expect["empty.jpg"] = "empty"
    (root / "notes.jpg").write_text("these are my notes, not a picture")
    expect["notes.jpg"] = "not an image"
    Image.new("CMYK", (40, 30), (255, 0, 0, 0)).save(root / "cmyk.jpg", "JPEG")  # pure cyan ink
    expect["cmyk.jpg"] = "ok"
    Image.new("I;16", (40, 30), 40000).save(root / "sixteen.png")
    expect["sixteen.png"] = "ok"
    pal = Image.new("P", (40, 30), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.save(root / "palette_alpha.png", transparency=0)
    expect["palette_alpha.png"] = "ok"
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    expect["animated.gif"] = "ok"
    rotated = Image.new("RGB", (60, 20), (0, 200, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    rotated.save(root / "rotated.jpg", exif=exif.tobytes())
    expect["rotated.jpg"] = "ok"
    png_header_only(root / "bomb.png", 30000, 30000)
    expect["bomb.png"] = "too large"
    solid(root / "sommer ü 日本.png")
    expect["sommer ü 日本.png"] = "ok"
    return expect

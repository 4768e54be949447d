"""The one place images are decoded: safe (never raises on bad files) and fast (JPEG draft decoding)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Larger images are refused: decoding one could exhaust memory (a "decompression bomb").
MAX_PIXELS = 250_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

try:  # HEIC/AVIF when the optional, well-kept plugin is installed.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    IMAGE_SUFFIXES |= {".heic", ".heif", ".avif"}
except ImportError:
    pass

# We check sizes ourselves (MAX_PIXELS) with a clearer message than Pillow's warning.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(Exception):
    """The file cannot be used as an image; str() is the reason shown to the user."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str


def is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def _open(path: Path) -> Image.Image:
    try:
        if path.stat().st_size == 0:
            raise ImageError("empty file (0 bytes)")
        image = Image.open(path)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image, or a format Dovecote cannot read") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageError(f"cannot open: {error}") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageError(
            f"too large: {width}x{height} ({width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:.0f})"
        )
    return image


def read_info(path: Path) -> ImageInfo:
    """Size and format from the header only (no decoding)."""
    with _open(path) as image:
        return _info(image)


def _info(image: Image.Image) -> ImageInfo:
    """Upright size (EXIF rotation applied) and format."""
    width, height = image.size
    if _exif_orientation(image) in (5, 6, 7, 8):
        width, height = height, width
    return ImageInfo(width, height, image.format or "")


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block must not make the image unreadable
        return 1


def load_rgb(path: Path, min_side: int | None = None, max_side: int | None = None) -> Image.Image:
    """Decode to an upright RGB image. JPEGs decode at the smallest scale (1/2..1/8) that still keeps the
    shorter side >= min_side (for models) or the longer side >= max_side (for thumbnails): several times
    faster than a full decode. Raises ImageError with a reason for anything that cannot be decoded."""
    return _decode(_open(path), min_side, max_side)


def examine(path: Path, thumb_size: int) -> tuple[ImageInfo, Image.Image]:
    """Header facts and a thumbnail from one open of the file; decoding it proves the file is readable."""
    image = _open(path)
    info = _info(image)
    return info, _shrink(_decode(image, None, thumb_size), thumb_size)


def thumbnail(path: Path, size: int) -> Image.Image:
    """An RGB image whose longer side is at most `size`, decoded with the draft path."""
    return _shrink(load_rgb(path, max_side=size), size)


def _shrink(image: Image.Image, size: int) -> Image.Image:
    image.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def _decode(image: Image.Image, min_side: int | None, max_side: int | None) -> Image.Image:
    try:
        if (min_side or max_side) and image.format == "JPEG":
            image.draft("RGB", _draft_size(image.size, min_side, max_side))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "palette images with transparency" notices
            image.seek(0)  # animated GIF/WebP/TIFF: the first frame
            image.load()
        upright = ImageOps.exif_transpose(image) or image
        rgb = _to_rgb(upright)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        image.close()
        raise ImageError(_reason(error)) from None
    except MemoryError:
        image.close()
        raise ImageError("not enough memory to decode this image") from None
    if rgb is not image:
        image.close()  # multi-frame files keep their file open until closed
    return rgb


def _draft_size(size: tuple[int, int], min_side: int | None, max_side: int | None) -> tuple[int, int]:
    width, height = size
    scale = min_side / min(width, height) if min_side else max_side / max(width, height)
    return (max(1, round(width * scale)), max(1, round(height * scale)))


def _reason(error: Exception) -> str:
    text = str(error)
    if "truncated" in text:
        return "the file is truncated (incomplete download or copy?)"
    return f"cannot decode: {text}" if text else "cannot decode this image"


def _to_rgb(image: Image.Image) -> Image.Image:
    """CMYK, 16-bit, grayscale, palette and alpha modes to 8-bit RGB (alpha composited on white)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey (microscopes, scanners): scale the used range to 8 bits instead of clipping to white.
        array = np.asarray(image, dtype=np.float32)
        top = float(array.max()) or 1.0
        image = Image.fromarray((array * (255.0 / max(top, 255.0))).astype("uint8"), "L")
    if image.mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")

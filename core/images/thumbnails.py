"""Thumbnails cached on disk in the store, keyed by content hash (a moved file keeps its thumbnail)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.atomic import atomic_path
from core.images.decode import thumbnail

THUMB_SIZE = 256


class ThumbnailCache:
    def __init__(self, directory: Path, size: int = THUMB_SIZE):
        self.directory = directory
        self.size = size

    def path_for(self, content_hash: str) -> Path:
        return self.directory / content_hash[:2] / f"{content_hash}.jpg"

    def has(self, content_hash: str) -> bool:
        return self.path_for(content_hash).exists()

    def store(self, content_hash: str, image: Image.Image) -> Path:
        """Write atomically: a reader never sees half a file, even if we are killed mid-write."""
        target = self.path_for(content_hash)
        with atomic_path(target) as temp:
            image.save(temp, "JPEG", quality=85)
        return target

    def get_or_make(self, image_path: Path, content_hash: str) -> Path:
        """The cached thumbnail, made from the image if absent. Raises core.images.decode.ImageError."""
        target = self.path_for(content_hash)
        if not target.exists():
            self.store(content_hash, thumbnail(image_path, self.size))
        return target

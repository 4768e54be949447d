"""Image -> network input: resize the shorter side, crop a square, normalise. Views are cheap,
deterministic variants of the same image (flip, corner crops) whose embeddings augment a head's training."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from core.models.backbones import Preprocessing
from core.images.decode import ImageError, load_rgb

# view -> (horizontal flip, crop anchor (x, y) in [0, 1], or None for the centre crop of the full square)
_VIEWS: dict[int, tuple[bool, tuple[float, float] | None]] = {
    0: (False, None),
    1: (True, None),
    2: (False, (0.0, 0.0)),
    3: (False, (1.0, 0.0)),
    4: (False, (0.0, 1.0)),
    5: (False, (1.0, 1.0)),
}
VIEW_NAMES = {0: "plain", 1: "flipped", 2: "top-left", 3: "top-right", 4: "bottom-left", 5: "bottom-right"}
CORNER_CROP = 0.8  # corner views keep this fraction of the plain view's square (a zoom in)


def preprocess(image: Image.Image, prep: Preprocessing, view: int = 0) -> np.ndarray:
    """An RGB image -> float32 [3, S, S], normalised. Resize and crop happen in one resampling step."""
    flip, anchor = _view(view)
    width, height = image.size
    # The plain view's square, in source pixels: the centre crop of the image resized to `prep.resize`.
    side = min(width, height) * min(1.0, prep.input_size / prep.resize)
    left, top = (width - side) / 2, (height - side) / 2
    if anchor is not None:
        inner = side * CORNER_CROP
        left += (side - inner) * anchor[0]
        top += (side - inner) * anchor[1]
        side = inner
    size = prep.input_size
    # reducing_gap: a fast box pre-shrink for big downscales (draft-decoded photos), then bilinear.
    crop = image.resize(
        (size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side), reducing_gap=3.0
    )
    if flip:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pixels = np.asarray(crop, dtype=np.float32)
    scale = np.array([1.0 / (255.0 * s) for s in prep.std], dtype=np.float32)
    shift = np.array([m / s for m, s in zip(prep.mean, prep.std)], dtype=np.float32)
    return np.ascontiguousarray((pixels * scale - shift).transpose(2, 0, 1))


def load_preprocessed(path: str | os.PathLike, prep: Preprocessing, views=(0,)) -> list[np.ndarray]:
    """Decode once (JPEG draft decoding to just above the needed size), then one array per view.
    Raises core.images.decode.ImageError for a file that cannot be decoded."""
    image = load_rgb(Path(path), min_side=prep.resize)
    try:
        return [preprocess(image, prep, view) for view in views]
    finally:
        image.close()


def preprocessed_or_reason(path: str | os.PathLike, prep: Preprocessing, views=(0,)) -> list[np.ndarray] | str:
    """load_preprocessed, or the reason (for a person) that the file cannot be had: a bad file never raises,
    so it is skipped and reported wherever images are decoded (embeddings, fine-tuning, classifying)."""
    try:
        return load_preprocessed(path, prep, views)
    except ImageError as error:
        return str(error)
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    except (ValueError, MemoryError) as error:  # what Pillow raises for oddities core.images.decode does not foresee
        return f"cannot decode: {error or type(error).__name__}"


def _view(view: int) -> tuple[bool, tuple[float, float] | None]:
    try:
        return _VIEWS[view]
    except KeyError:
        raise ValueError(f"unknown view {view}; views are {sorted(_VIEWS)}") from None

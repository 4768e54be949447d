"""Registry of pretrained backbones: name -> title, feature size, preprocessing, where the weights come from.

Importing this module is cheap (no torch): the GUI lists backbones without loading a network, and hashing a
weights file needs no torch. The networks are built by core.models.backbone_nets, which imports this module
(never the other way): callers import it, lazily, where they need a network."""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from core.errors import DovecoteError

DEFAULT_BACKBONE = "efficientnet_lite0"
# Overrides the per-user cache folder (exported ONNX models, downloaded weights): tests, portable installs.
CACHE_ENV = "DOVECOTE_CACHE_DIR"
# fit_to_images: small images are upscaled this many times, to no less than MIN_INPUT_SIZE pixels.
MIN_INPUT_SIZE = 96
_UPSCALE = 8

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class UnknownBackbone(DovecoteError):
    pass


class WeightsUnavailable(DovecoteError):
    """Pretrained weights could not be downloaded or read."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the network's input. Stored in model bundles, so JSON-serialisable."""

    input_size: int  # square crop fed to the network
    resize: int  # shorter side resized to this before the centre crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    version: int  # bump when the pipeline changes: part of the embedding cache key

    def to_dict(self) -> dict:
        return {
            "input_size": self.input_size,
            "resize": self.resize,
            "mean": list(self.mean),
            "std": list(self.std),
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        return cls(
            input_size=int(data["input_size"]),
            resize=int(data["resize"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            version=int(data["version"]),
        )


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    title: str
    feature_dim: int
    preprocessing: Preprocessing
    offline: bool  # the weights ship with the install (no download on first use)


# Version 1: bilinear resize of the shorter side, centre crop, (x/255 - mean) / std.
_TORCHVISION_232 = Preprocessing(224, 232, _IMAGENET_MEAN, _IMAGENET_STD, version=1)
_TORCHVISION_256 = Preprocessing(224, 256, _IMAGENET_MEAN, _IMAGENET_STD, version=1)
# The TF-Lite weights of EfficientNet-Lite expect inputs in [-1, 1].
_LITE_240 = Preprocessing(240, 272, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), version=1)
_LITE_260 = Preprocessing(260, 292, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), version=1)

_REGISTRY: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            DEFAULT_BACKBONE,
            "EfficientNet-Lite0 (fast, works offline)",
            # Stages 4 and 5 pooled 2x2 (80*4 + 112*4), stages 6, 7 and the head conv pooled globally
            # (192 + 320 + 1280): see core/models/backbone_nets.py for why.
            feature_dim=2560,
            # The TF-Lite weights expect inputs in [-1, 1].
            preprocessing=Preprocessing(224, 256, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), version=1),
            offline=True,
        ),
        # Lite1 and Lite2: the same network scaled up (deeper, Lite2 also wider) for larger inputs, the
        # image side + 32 resized before the centre crop, as for Lite0. Same taps; Lite2's stages are wider.
        BackboneSpec("efficientnet_lite1", "EfficientNet-Lite1 (more accurate, slower, works offline)",
                     feature_dim=2560, preprocessing=_LITE_240, offline=True),
        BackboneSpec("efficientnet_lite2", "EfficientNet-Lite2 (most accurate offline, slowest)",
                     feature_dim=88 * 4 + 120 * 4 + 208 + 352 + 1280, preprocessing=_LITE_260, offline=True),
        BackboneSpec("resnet50", "ResNet-50", 2048, _TORCHVISION_232, offline=False),
        BackboneSpec("resnet101", "ResNet-101", 2048, _TORCHVISION_232, offline=False),
        BackboneSpec("mobilenet_v2", "MobileNetV2", 1280, _TORCHVISION_232, offline=False),
        BackboneSpec("mobilenet_v3_large", "MobileNetV3-Large", 960, _TORCHVISION_232, offline=False),
        BackboneSpec("efficientnet_b0", "EfficientNet-B0", 1280, _TORCHVISION_256, offline=False),
        BackboneSpec("vgg16", "VGG16", 512, _TORCHVISION_256, offline=False),
    )
}


def list_backbones() -> list[BackboneSpec]:
    return list(_REGISTRY.values())


def get_backbone(name: str) -> BackboneSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownBackbone(
            f"Unknown backbone {name!r}. Choose one of: {', '.join(_REGISTRY)}."
        ) from None


def with_preprocessing(spec: BackboneSpec, preprocessing: Preprocessing | dict) -> BackboneSpec:
    """The same backbone fed differently (e.g. a model bundle's stored preprocessing)."""
    if isinstance(preprocessing, dict):
        preprocessing = Preprocessing.from_dict(preprocessing)
    return dataclasses.replace(spec, preprocessing=preprocessing)


def fit_to_images(spec: BackboneSpec, sizes: Iterable[tuple[int | None, int | None]],
                  upscale: int = _UPSCALE) -> BackboneSpec:
    """The spec with a smaller input for small images: icons or 8x8 scans blown up to 224 px only cost time
    (on sklearn's digits, 96 px scores as well as 224 px, at a fifth of the cost). sizes: (width, height) of
    the project's images; the median shorter side decides. Small images are used whole (no crop): they are
    usually framed tightly."""
    sides = sorted(min(w, h) for w, h in sizes if w and h)
    if not sides:
        return spec
    prep = spec.preprocessing
    wanted = max(MIN_INPUT_SIZE, -(-sides[len(sides) // 2] * upscale // 32) * 32)
    if wanted >= prep.input_size:
        return spec
    return with_preprocessing(spec, dataclasses.replace(prep, input_size=wanted, resize=wanted))


def cache_dir() -> Path:
    """The per-user cache folder (exported ONNX models, downloaded weights)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("dovecote", appauthor=False))


def weights_identity(spec: BackboneSpec, weights_path: str | os.PathLike | None = None) -> str:
    """A short name for the weights in use: part of the embedding cache key and of ONNX file names."""
    if weights_path is None:
        return "imagenet"
    return "file-" + file_digest(Path(weights_path))[:16]


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks (weights files are tens of megabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

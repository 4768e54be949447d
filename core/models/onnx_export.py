"""The frozen feature extractor exported to ONNX once per backbone, input size and weights, cached on disk."""
from __future__ import annotations

import warnings
from pathlib import Path

from core.atomic import atomic_path
from core.models.backbones import BackboneSpec, cache_dir, weights_identity

INPUT_NAME = "images"
OUTPUT_NAME = "features"
OPSET = 17


def onnx_path(spec: BackboneSpec, weights_path=None) -> Path:
    size = spec.preprocessing.input_size
    ident = weights_identity(spec, weights_path)
    return cache_dir() / "onnx" / f"{spec.name}-d{spec.feature_dim}-s{size}-{ident}.onnx"


def ensure_onnx(spec: BackboneSpec, weights_path=None) -> Path:
    """The cached export, made now if missing. Written to a temporary file then renamed, so a crash or a
    second process exporting at the same time never leaves a half-written model behind."""
    path = onnx_path(spec, weights_path)
    if path.exists():
        return path
    import torch

    model = build_feature_extractor(spec, weights_path)
    size = spec.preprocessing.input_size
    with atomic_path(path) as temp, warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter: needs no onnxscript, and handles these static-shape CNNs well.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, size, size),),
            temp,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
        )
    return path

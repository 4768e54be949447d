"""ONNX export: the frozen feature extractor, once per backbone, input size and weights, cached on disk (what
ONNX Runtime runs on the CPU); and a whole classifier a user exports (core.models.bundles.export_model)."""
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
    """The cached export of the feature extractor, made now if missing (see export_onnx: never half-written,
    also with a second process exporting at the same time)."""
    path = onnx_path(spec, weights_path)
    if path.exists():
        return path
    from core.models.backbone_nets import build_feature_extractor

    return export_onnx(build_feature_extractor(spec, weights_path), spec.preprocessing.input_size, path, OUTPUT_NAME)


def export_onnx(module, input_size: int, path: Path, output_name: str, metadata: dict[str, str] | None = None,
                durable: bool = False) -> Path:
    """The one ONNX export: an eval-mode module taking images [N, 3, S, S] (any N) to `path`, with `metadata`
    as the model's metadata_props. Written to a temporary file then renamed (synced first if `durable`), so a
    crash never leaves a half-written model behind."""
    import torch

    with atomic_path(path, durable=durable) as temp, warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter: needs no onnxscript, and handles these static-shape CNNs well. Its
        # deprecation and tracer notices mean nothing to a user.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(1, 3, input_size, input_size),),
            str(temp),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[output_name],
            dynamic_axes={INPUT_NAME: {0: "batch"}, output_name: {0: "batch"}},
            opset_version=OPSET,
        )
        if metadata:
            import onnx

            model = onnx.load(str(temp))
            for key, value in metadata.items():
                model.metadata_props.add(key=key, value=value)
            onnx.save(model, str(temp))
    return path

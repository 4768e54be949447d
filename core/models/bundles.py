"""Model bundles: one safetensors file a user can copy, holding the head (and, when fine-tuned, the backbone)
plus JSON metadata (classes, backbone, preprocessing, metrics, versions) in the file's header.

Loading reads tensors and JSON only: nothing is ever unpickled. Export turns a bundle into one network
(backbone + head + softmax) as ONNX or TorchScript."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.models import bundle_schema as schema
from core.models.backbones import BackboneSpec, Preprocessing, cache_dir, get_backbone, with_preprocessing
from core.errors import DovecoteError
from core.models.heads import HeadModel

FORMAT = schema.FORMAT
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
# The tensors' names are core.models.classifier.Classifier's parameter names: its `backbone` and `head`.
_BACKBONE, _HEAD = "backbone.", "head."
# The int8 feature extractor (core.models.int8), when its check passed: the ONNX file's bytes as one tensor.
INT8_TENSOR = "int8.network"


class BundleError(DovecoteError):
    """A model file that cannot be used."""


def app_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("dovecote")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class ModelBundle:
    classes: list[str]
    backbone: str
    preprocessing: Preprocessing
    head: HeadModel
    # The feature extractor's state dict when it differs from the stock pretrained one (fine-tuned, or
    # trained on a weights file): the bundle is then complete on its own.
    backbone_state: dict[str, np.ndarray] | None = None
    metadata: dict = field(default_factory=dict)  # metrics, created, app version, configs, run id, int8 check...
    path: Path | None = None
    int8_network: bytes | None = None  # the ONNX int8 backbone that metadata["int8"] describes

    @property
    def spec(self) -> BackboneSpec:
        return with_preprocessing(get_backbone(self.backbone), self.preprocessing)

    @property
    def fine_tuned(self) -> bool:
        return bool(self.metadata.get("fine_tuned"))

    @property
    def flip_average(self) -> bool:
        """Whether an image's probabilities are the mean of its and its mirror image's (chosen on validation
        by fine-tuning, core.training.staged_finetune): every way of classifying does the same."""
        return bool(self.metadata.get("test_time_flip"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temporary file, then rename): a reader never sees half a model."""
        from safetensors.numpy import save_file

        path = Path(path)
        tensors = join_tensors(self.backbone_state or {}, self.head.state_dict())
        if self.int8_network is not None:
            tensors[INT8_TENSOR] = np.frombuffer(self.int8_network, np.uint8)
        header = {**self.metadata, "format": FORMAT, "format_version": FORMAT_VERSION, "classes": self.classes,
                  "backbone": self.backbone, "preprocessing": self.preprocessing.to_dict(),
                  "includes_backbone": self.backbone_state is not None}
        header.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        header.setdefault("app_version", app_version())
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, lambda temp: save_file(tensors, str(temp), metadata={FORMAT: json.dumps(header)}))
        self.metadata, self.path = header, path
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelBundle":
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise BundleError(f"{path} is not a model file. Give a .safetensors model or a project folder.")
        try:
            with safe_open(str(path), framework="numpy") as handle:
                header = schema.parse_header((handle.metadata() or {}).get(FORMAT))
                if not isinstance(header, dict):
                    raise BundleError(f"{path} is not a Dovecote model (a safetensors file without our metadata).")
                schema.check_header(header, FORMAT_VERSION)
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            int8 = tensors.pop(INT8_TENSOR, None)
            schema.check_int8(header.get("int8"), int8)
            schema.check_tensors(tensors, HeadModel.KEYS, _HEAD, _BACKBONE, len(header["classes"]),
                                 get_backbone(header["backbone"]).feature_dim, header.get("includes_backbone"))
        except schema.NewerFormat:
            raise BundleError(f"{path} was made by a newer Dovecote ({header.get('app_version')}); update to use it.") from None
        except schema.SchemaError as error:
            raise BundleError(f"{path} is a damaged Dovecote model ({error}).") from None
        except (SafetensorError, OSError, ValueError) as error:
            raise BundleError(f"{path} is not a readable Dovecote model ({error}).") from None
        try:
            backbone_state, head_state = split_tensors(tensors)
            head = HeadModel(head_state)
            bundle = cls(classes=[str(c) for c in header["classes"]], backbone=str(header["backbone"]),
                         preprocessing=Preprocessing.from_dict(header["preprocessing"]), head=head,
                         backbone_state=backbone_state or None, metadata=header, path=path,
                         int8_network=int8.tobytes() if int8 is not None else None)
        except (KeyError, TypeError, ValueError) as error:
            raise BundleError(f"{path} is a damaged Dovecote model ({error}).") from None
        return bundle

    def backbone_weights_file(self) -> Path | None:
        """The bundled backbone as a weights file the embedder can load (cached by content), or None for
        the stock pretrained weights."""
        if self.backbone_state is None:
            return None
        from safetensors.numpy import save_file

        digest = hashlib.sha256()
        for key in sorted(self.backbone_state):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self.backbone_state[key]).tobytes())
        path = cache_dir() / "bundle-backbones" / f"{self.backbone}-{digest.hexdigest()[:24]}{SUFFIX}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            state = {k: np.ascontiguousarray(v) for k, v in self.backbone_state.items()}
            _write(path, lambda temp: save_file(state, str(temp)))
        return path

    def classifier(self, dropout: float = 0.0, probabilities: bool = False):
        """The whole classifier in torch (core.models.classifier.Classifier, eval mode): preprocessed images
        [N, 3, S, S] -> logits [N, C], or probabilities. The bundle's tensors load into it by name."""
        import torch

        from core.models.backbone_nets import build_feature_extractor
        from core.models.classifier import Classifier

        bundled = self.backbone_state is not None
        model = Classifier(build_feature_extractor(self.spec, pretrained=not bundled),
                           self.head.to_module(dropout), probabilities, self.flip_average)
        if bundled:
            model.backbone.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                                            for k, v in self.backbone_state.items()})
        return model.eval()


def split_tensors(tensors: dict) -> tuple[dict, dict]:
    """A bundle's (or a Classifier's state dict's) tensors -> (the backbone's, the head's), names unprefixed."""
    backbone = {k[len(_BACKBONE):]: v for k, v in tensors.items() if k.startswith(_BACKBONE)}
    head = {k[len(_HEAD):]: v for k, v in tensors.items() if k.startswith(_HEAD)}
    return backbone, head


def join_tensors(backbone: dict, head: dict) -> dict[str, np.ndarray]:
    """The inverse of split_tensors: one flat dict of contiguous arrays, named as the Classifier's parameters."""
    named = {_BACKBONE + k: v for k, v in backbone.items()} | {_HEAD + k: v for k, v in head.items()}
    return {k: np.ascontiguousarray(v) for k, v in named.items()}


def bundle_path(models_dir: Path, run_id: int) -> Path:
    return models_dir / f"run-{run_id}{SUFFIX}"


def load_model(path: str | os.PathLike, run_id: int | None = None, store: str | os.PathLike | None = None
               ) -> ModelBundle:
    """A model file, or a project folder's model: run `run_id`'s, else the latest finished run's."""
    path = Path(path).expanduser()
    if path.is_file():
        return ModelBundle.load(path)
    from core.project import STORE_NAME, Project
    from core.storage import runs

    store_dir = Path(store).expanduser() if store else path / STORE_NAME
    if not path.is_dir() or not store_dir.is_dir():
        raise BundleError(f"{path} is neither a model file nor a Dovecote project folder.")
    with Project.open(path, store) as project, project.session() as session:
        run = runs.get_run(session, run_id) if run_id is not None else runs.latest_model_run(session)
        where = project.store_dir
    if run is None:
        raise BundleError(f"The project {path} has no trained model yet. Train one: dovecote train {path}")
    if not run.model_path:
        raise BundleError(f"Run {run.id} has no model (it {run.status} before one was saved). Choose another run.")
    return ModelBundle.load(where / run.model_path)


EXPORT_FORMATS = ("onnx", "torchscript")


def export_model(bundle: ModelBundle, fmt: str, out: str | os.PathLike) -> Path:
    """Write the whole classifier as one network taking preprocessed images [N, 3, S, S] and returning
    probabilities [N, C]; the classes and preprocessing travel inside the file's metadata."""
    import warnings

    import torch

    from core.models.onnx_export import export_onnx

    if fmt not in EXPORT_FORMATS:
        raise BundleError(f"Unknown export format {fmt!r}; choose {' or '.join(EXPORT_FORMATS)}.")
    out = Path(out).expanduser()
    module = bundle.classifier(probabilities=True)
    size = bundle.preprocessing.input_size
    info = json.dumps({"classes": bundle.classes, "backbone": bundle.backbone,
                       "preprocessing": bundle.preprocessing.to_dict(), "input": "images [N, 3, S, S], normalised",
                       "output": "probabilities [N, C] in the order of classes", "app_version": app_version(),
                       "mirror_averaged": bundle.flip_average,  # inside the network: nothing for a caller to do
                       "metrics": bundle.metadata.get("metrics", {})})
    if fmt == "onnx":
        return export_onnx(module, size, out, "probabilities", {"dovecote": info}, durable=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's and TorchScript's deprecation notices mean nothing to a user
        traced = torch.jit.trace(module, torch.zeros(1, 3, size, size))
        _write(out, lambda temp: torch.jit.save(traced, str(temp), _extra_files={"dovecote.json": info}))
    return out


def _write(path: Path, write) -> None:
    """Models are written in one step and synced: a crash leaves the old file or the new one."""
    with atomic_path(path, durable=True) as temp:
        write(temp)

"""The frozen backbone as a function from image batches to embeddings: ONNX Runtime on the CPU (several
times faster than torch eager there), torch on CUDA or Apple's MPS."""
from __future__ import annotations

import numpy as np

from core.errors import DovecoteError
from core.images.decode_ahead import cpu_threads
from core.models.backbones import BackboneSpec


class DeviceUnavailable(DovecoteError):
    pass


def resolve_device(name: str = "auto") -> str:
    """"auto" -> "cuda" if available, else "mps", else "cpu". An explicit device that is not usable
    raises DeviceUnavailable saying so."""
    import torch

    wanted = (name or "auto").strip().lower()
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if wanted == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if wanted == "cpu":
        return "cpu"
    if wanted.startswith("cuda"):
        if not cuda:
            raise DeviceUnavailable(
                "CUDA was asked for, but no usable NVIDIA GPU was found (or this torch build has no CUDA). "
                "Use --device cpu or auto."
            )
        index = wanted.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise DeviceUnavailable(
                f"There is no GPU {wanted}: {torch.cuda.device_count()} CUDA device(s) found. Use cuda:0 or auto."
            )
        return wanted
    if wanted == "mps":
        if not mps:
            raise DeviceUnavailable("MPS (Apple GPU) was asked for, but it is not available here. Use cpu or auto.")
        return "mps"
    raise DeviceUnavailable(f"Unknown device {name!r}. Use auto, cpu, cuda, cuda:N or mps.")


class Embedder:
    """[N, 3, S, S] float32 (preprocessed) -> [N, feature_dim] float32.

    runtime: "auto" (ONNX Runtime on the CPU, torch elsewhere) or "torch" (torch eager even on the CPU: the
    reference the ONNX path is checked and benchmarked against)."""

    def __init__(self, spec: BackboneSpec, device: str = "auto", weights_path=None, runtime: str = "auto"):
        self.spec = spec
        self._torch_device = resolve_device(device)
        self._session = None
        self._model = None
        if self._torch_device == "cpu" and runtime == "auto":
            self._session = _onnx_session(spec, weights_path)
            self._input = self._session.get_inputs()[0].name
            self.device = "cpu (ONNX Runtime)"
        else:
            from core.models.backbone_nets import build_feature_extractor

            self._model = build_feature_extractor(spec, weights_path).to(self._torch_device)
            self.device = f"{self._torch_device} (torch)"

    def embed(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self._session is not None:
            return self._session.run(None, {self._input: batch})[0]
        import torch

        with torch.inference_mode():
            features = self._model(torch.from_numpy(batch).to(self._torch_device))
        return features.float().cpu().numpy()


def _onnx_session(spec: BackboneSpec, weights_path):
    from core.models.onnx_export import ensure_onnx

    return cpu_session(ensure_onnx(spec, weights_path))


def cpu_session(path):
    """An ONNX Runtime session on the CPU for the model at `path`, set up for this machine's cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle threads sleep instead of spinning: spinning takes the cores that decode the next batch (and, on a
    # busy machine, measured half the throughput).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

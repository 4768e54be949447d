"""The frozen backbone as a function from image batches to embeddings: ONNX Runtime on the CPU (several
times faster than torch eager there), torch on CUDA or Apple's MPS."""
from __future__ import annotations

import os
import sys

import numpy as np

from core.errors import DovecoteError
from core.images.decode_ahead import cpu_threads
from core.models.backbones import BackboneSpec


class DeviceUnavailable(DovecoteError):
    pass


def resolve_device(name: str = "auto") -> str:
    """"auto" -> "cuda" if available, else "mps", else "cpu". An explicit device that is not usable
    raises DeviceUnavailable saying so. "cpu", and "auto" where no GPU can be there, answer without
    importing torch (seconds of a CPU-only classify run, and of every cluster worker's start)."""
    wanted = (name or "auto").strip().lower()
    if wanted == "cpu" or (wanted == "auto" and "torch" not in sys.modules and not _gpu_possible()):
        return "cpu"
    import torch

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


def _gpu_possible() -> bool:
    """False only where torch could not find a GPU either: Linux without the device files that NVIDIA's
    driver, ROCm or WSL's GPU bridge create. Elsewhere (macOS's MPS, Windows) torch is asked."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(path) for path in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg"))


class Embedder:
    """[N, 3, S, S] float32 (preprocessed) -> [N, feature_dim] float32.

    runtime: "auto" (ONNX Runtime on the CPU, torch elsewhere) or "torch" (torch eager even on the CPU: the
    reference the ONNX path is checked and benchmarked against). `network`: an ONNX model (a path or its
    bytes) to run on the CPU instead of the spec's fp32 export, e.g. its int8 version (core.models.int8).
    `threads`: ONNX Runtime's threads (default: every core this process may use); several workers on one
    machine each take their share, or they fight over the cores."""

    def __init__(self, spec: BackboneSpec, device: str = "auto", weights_path=None, runtime: str = "auto",
                 network: bytes | str | None = None, threads: int | None = None):
        self.spec = spec
        self._torch_device = "cpu" if network is not None else resolve_device(device)
        self._session = None
        self._model = None
        if network is not None or (self._torch_device == "cpu" and runtime == "auto"):
            from core.models.onnx_export import ensure_onnx

            model = network if network is not None else str(ensure_onnx(spec, weights_path))
            self._session = onnx_session(model, threads)
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


def onnx_session(model: bytes | str, threads: int | None = None):
    """The one way an ONNX model is run on the CPU here: `threads` intra-op threads (default all cores)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(1, threads or cpu_threads())
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle threads sleep instead of spinning: spinning takes the cores that decode the next batch (and, on a
    # busy machine, measured half the throughput).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

"""Which devices can train here: the CPU and each GPU PyTorch can use (CUDA by name, Apple's MPS). Importing
torch takes seconds, so the window asks this in a background job, once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Device:
    name: str  # what TrainConfig.device takes: "cuda:0", "mps"
    title: str  # for a person: "NVIDIA GeForce RTX 3060 (12 GB)"


@dataclass(frozen=True)
class DevicesFound:
    gpus: tuple[Device, ...]
    reason: str  # why there is none, when there is none


def detect_devices() -> Iterator[DevicesFound]:
    import torch

    gpus = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append(Device(f"cuda:{index}", f"{props.name} ({props.total_memory / 2**30:.0f} GB)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        gpus.append(Device("mps", "Apple GPU (Metal)"))
    reason = ""
    if not gpus:
        if torch.version.cuda is None and mps is None:
            reason = "This installation's PyTorch has no GPU support (a CPU-only build)."
        else:
            reason = "No GPU that PyTorch can use was found on this computer."
    yield DevicesFound(tuple(gpus), reason)

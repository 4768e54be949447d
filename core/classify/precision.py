"""Which network classifies: the bundle's int8 backbone where its check against fp32 passed and the work runs
on a CPU, fp32 otherwise; and the line that tells the user which and why."""
from __future__ import annotations

from core.errors import InvalidRequest
from core.models.int8 import verdict

CHOICES = ("auto", "fp32", "int8")


def choose_precision(bundle, wanted: str, on_cpu: bool) -> tuple[str, str]:
    """("fp32" or "int8", why, for a person), for `wanted` one of CHOICES. "int8" asked for a model without
    an int8 network, or for a GPU, is refused (InvalidRequest) rather than quietly run in fp32."""
    usable, why = verdict(bundle.metadata.get("int8"))
    if wanted == "fp32":
        return "fp32", "fp32, as asked"
    if wanted == "int8":
        if bundle.int8_network is None:
            raise InvalidRequest(f"--precision int8: this model has no int8 network: {why}. "
                                 "Use --precision fp32 or auto.")
        if not on_cpu:
            raise InvalidRequest("--precision int8 runs on the CPU: add --device cpu, or use --precision auto.")
        return "int8", why
    if not on_cpu:
        return "fp32", "fp32 on the GPU (int8 is for CPUs)"
    return ("int8", why) if usable and bundle.int8_network is not None else ("fp32", f"fp32: {why}")


def worker_precision(precision: str, device: str) -> str:
    """On a cluster each worker picks its device: int8 where it runs on a CPU, fp32 on a GPU worker."""
    from core.features.embedder import resolve_device

    return precision if resolve_device(device) == "cpu" else "fp32"

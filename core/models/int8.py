"""The int8 backbone: ONNX Runtime static quantization of the exported fp32 feature extractor, calibrated on
a project's own images, and the record of how well it agrees with fp32 (kept in the model bundle).

Settings, measured on a 2-core AVX2 CPU (benchmarks/bench_classify.py --compare-formats, 300 digits):
operator format (QLinearConv) with per-channel weights. QDQ per-channel ran as fast (1.6x fp32) and agreed as
well (99.7 %) but took twice as long to quantize; per-tensor weights agreed on 26 % only. Weights use 7 bits (reduce_range): on CPUs without VNNI, ONNX Runtime multiplies
u8 x s8 with VPMADDUBSW, whose 16-bit sums saturate with full-range weights; that alone took the features'
cosine to fp32 from 0.73 to 0.96 on EfficientNet-Lite0.

A bundle's int8 network may come from anyone, like the rest of the file: `check_network` refuses one that
reads external files or uses operators outside ONNX's and ONNX Runtime's own domains before it is run."""
from __future__ import annotations

import queue
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from core.atomic import atomic_path
from core.errors import DovecoteError

AGREEMENT_NEEDED = 0.995  # top-1 agreement with fp32 over the project's labelled images
CALIBRATION_IMAGES = 64  # ranges settle by a few dozen images; each costs a pass of the widened network
QUANT_FORMAT = "QOperator"
PER_CHANNEL = True
REDUCE_RANGE = True
_DOMAINS = {"", "ai.onnx", "com.microsoft", "ai.onnx.ml"}


class Int8Unavailable(DovecoteError):
    """The int8 network cannot be made or used."""


class _Stopped(Exception):
    """Raised inside the quantizer's thread when the generator is closed."""


@dataclass(frozen=True)
class Calibrated:
    """Progress of calibration, in images run through the fp32 network's widened copy."""

    done: int


def record(agreement: float, images: int, threshold: float = AGREEMENT_NEEDED, reason: str = "",
           seconds: float = 0.0) -> dict:
    """What a bundle's metadata says of its int8 check ("int8" key); `seconds`: what the check took."""
    passed = images > 0 and agreement >= threshold and not reason
    return {"passed": passed, "agreement": round(float(agreement), 6), "images": int(images),
            "threshold": float(threshold), "checked": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(float(seconds), 3),
            "format": f"{QUANT_FORMAT}, {'per-channel' if PER_CHANNEL else 'per-tensor'} weights",
            **({"reason": reason} if reason else {})}


def verdict(check: dict | None) -> tuple[bool, str]:
    """(int8 usable, why, for a person) from a bundle's "int8" record."""
    if not check:
        return False, "its int8 network was never checked (a model trained before this version; train again)"
    share = f"{100 * check['agreement']:.1f} % of {check['images']:,} labelled images"
    if check.get("reason"):
        return False, f"its int8 network could not be checked ({check['reason']})"
    if not check["passed"]:
        return False, (f"int8 agreed with fp32 on {share}, below the {100 * check['threshold']:.1f} % needed")
    return True, f"int8 agrees with fp32 on {share}, checked {check['checked'][:10]}"


def quantize(fp32_model: Path, batches: Iterable[np.ndarray], out: Path, quant_format: str = QUANT_FORMAT,
             per_channel: bool = PER_CHANNEL) -> Iterator[Calibrated]:
    """Write the int8 version of the ONNX model `fp32_model` to `out`, calibrated on `batches` of
    preprocessed images. Yields Calibrated as batches go through; closing the generator stops after the
    batch under way and writes nothing. The quantizer is one blocking call, so it runs in a thread that
    draws the batches through a queue; a stop raises inside it. `quant_format` ("QOperator" or "QDQ") and
    `per_channel`: what benchmarks/bench_classify.py compares; the defaults are what it found best."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    stop = threading.Event()
    handed: queue.Queue = queue.Queue()  # ("batch", n) as the quantizer takes one, ("end", error) once
    source = iter(batches)

    class Reader(CalibrationDataReader):
        def __init__(self, name: str):
            self.name = name

        def get_next(self):
            if stop.is_set():
                raise _Stopped  # ends quantize_static at once, instead of after quantizing the whole network
            batch = next(source, None)
            if batch is None:
                return None
            handed.put(("batch", len(batch)))
            return {self.name: np.ascontiguousarray(batch, dtype=np.float32)}

    with tempfile.TemporaryDirectory(prefix="dovecote-int8-") as work, atomic_path(out) as temp:
        prepared = Path(work) / "prepared.onnx"

        def run():
            try:
                import onnx

                quant_pre_process(str(fp32_model), str(prepared), skip_symbolic_shape=True)
                name = onnx.load(str(prepared), load_external_data=False).graph.input[0].name
                quantize_static(str(prepared), str(temp), Reader(name), quant_format=getattr(QuantFormat, quant_format),
                                per_channel=per_channel, reduce_range=REDUCE_RANGE,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.MinMax)
                handed.put(("end", None))
            except BaseException as error:  # reported on the generator's side
                handed.put(("end", error))

        worker = threading.Thread(target=run, name="int8-quantize", daemon=True)
        worker.start()
        done = 0
        try:
            while True:
                kind, value = handed.get()
                if kind == "end":
                    break
                done += value
                yield Calibrated(done)
        finally:
            stop.set()
            worker.join()  # the batch under way ends, then the quantizer; nothing is left running
        if value is not None:
            raise Int8Unavailable(f"quantization failed ({type(value).__name__}: {value})") from value
        if done == 0:
            raise Int8Unavailable("no image could be read to calibrate it")


def check_network(data: bytes) -> None:
    """Refuse an int8 network that reaches outside itself; raises Int8Unavailable saying why."""
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception as error:  # protobuf's DecodeError and friends
        raise Int8Unavailable(f"its int8 network is not a readable ONNX model ({error})") from None
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise Int8Unavailable("its int8 network refers to data in other files")
    for domain in {node.domain for node in model.graph.node}:
        if domain not in _DOMAINS:
            raise Int8Unavailable(f"its int8 network uses operators of an unknown domain {domain!r}")
    for node in model.graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            raise Int8Unavailable("its int8 network holds sub-graphs, which a quantized CNN does not")


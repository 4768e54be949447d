"""The int8 check of a run's model: quantize its backbone (calibrated on the project's own images), compare
its top-1 predictions with fp32 over every labelled image, and write the verdict (and, if it passed, the int8
network) into the model bundle, where classification reads it (core.classify.precision).

Cheap on a retrain: the int8 backbone of a stock (not fine-tuned) model is made once per project and backbone
and kept in the store, and both networks' embeddings are cached like any others, so a new head is checked
on embeddings already computed; only newly labelled images go through the networks."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from core.events import Notice, Progress
from core.features.cache import EmbeddingsReady, ensure_embeddings, load_embeddings, model_key
from core.images.decode_ahead import decode_ahead
from core.models import int8
from core.models.bundles import ModelBundle
from core.models.preprocessing import preprocessed_or_reason
from core.storage import catalog, runs
from core.storage import embeddings as embedding_store
from core.training.run_files import model_file

log = logging.getLogger(__name__)

CALIBRATING = "Calibrating the int8 network"
COMPARING = "Comparing int8 with fp32"
_BATCH = 8


@dataclass(frozen=True)
class Int8Checked:
    run_id: int
    passed: bool
    note: str  # core.models.int8.verdict's text, for a person


def check_int8(project, run_id: int, threshold: float = int8.AGREEMENT_NEEDED) -> Iterator[object]:
    """Yields Progress, a Notice if int8 is not to be used, then Int8Checked. Closing it early leaves the
    model as it was (fp32 only). A failure (the quantizer refusing this network, say) is recorded as the
    reason int8 is not used: it never fails the run, whose fp32 model is complete."""
    path = model_file(project, run_id)
    bundle = ModelBundle.load(path)
    started = time.perf_counter()
    try:
        agreement, images, data = yield from _measure(project, bundle)
        check = int8.record(agreement, images, threshold,
                            "" if images else "no labelled image could be read to check it",
                            time.perf_counter() - started)
    except Exception as error:  # GeneratorExit and KeyboardInterrupt (a cancel) are not caught
        log.warning("The int8 check of run %s failed", run_id, exc_info=error)
        check = int8.record(0.0, 0, threshold, str(error) or type(error).__name__, time.perf_counter() - started)
        data = None
    bundle.metadata["int8"] = check
    bundle.int8_network = data if check["passed"] else None
    bundle.save(path)
    with project.session() as session:  # also on the run, for lists that show it without loading models
        runs.update_run(session, run_id, metrics={"int8": check})
    note = int8.verdict(check)[1]
    if not check["passed"]:  # a fallback the user should hear of where the run is watched (the window's panel)
        yield Notice(f"Classifying on a CPU will use fp32: {note}.")
    yield Int8Checked(run_id, check["passed"], note)


def _measure(project, bundle: ModelBundle) -> Iterator[object]:
    """Progress events; returns (top-1 agreement, images compared, the int8 network's bytes)."""
    with project.session() as session:
        images = [image for image in catalog.labelled_images(session) if image.content_hash]
    spec, weights = bundle.spec, bundle.backbone_weights_file()
    fp32 = yield from _embedded(ensure_embeddings(project, images, spec, "auto", weights_path=weights))
    readable = [image for image in images if image.id not in fp32.failed]
    with tempfile.TemporaryDirectory(prefix="dovecote-int8-") as work:
        # A fine-tuned backbone is this run's alone: its int8 network lives in the bundle, not the store.
        network = Path(work) / "int8.onnx" if bundle.fine_tuned else _stored_network(project, spec, weights)
        if not network.exists():
            yield from _calibrate(project, spec, weights, readable, network)
        quantized = yield from _embedded(ensure_embeddings(project, readable, spec, "cpu", weights_path=weights,
                                                           network=network))
        data = network.read_bytes()
    hashes = [image.content_hash for image in readable if image.id not in quantized.failed]
    if not hashes:
        return 0.0, 0, data
    same = (np.argmax(bundle.head.predict_proba(load_embeddings(project, hashes, fp32.model_key)), 1)
            == np.argmax(bundle.head.predict_proba(load_embeddings(project, hashes, quantized.model_key)), 1))
    return float(np.mean(same)), len(hashes), data


def pending_work(project, spec, images: list, config, weights=None) -> tuple[int, bool]:
    """What the check of a run of `config` (a TrainConfig) on the backbone `spec` with `weights` (a file, or
    None for the pretrained ones) will cost, for its plan: (images the int8 network must still embed, whether
    it must be calibrated first). A backbone fine-tuned by the run itself is new; any other's stored network
    and its cached embeddings are known before the run."""
    if not config.int8:
        return 0, False
    hashes = {image.content_hash for image in images if image.content_hash}
    network = None if config.fine_tune is not None else _stored_network(project, spec, weights)
    if network is None or not network.exists():
        return len(hashes), True
    with project.session() as session:
        cached = embedding_store.cached_pairs(session, model_key(spec, weights, network), list(hashes), (0,))
    return sum(1 for h in hashes if (h, 0) not in cached), False


def adopt_int8_network(project, spec, weights, data: bytes) -> None:
    """Make `data` (an int8 network another run's check made and passed for this backbone, spec and weights)
    the one the checks of runs on that backbone use, unless they have one already."""
    from core.atomic import write_bytes

    path = _stored_network(project, spec, weights)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)


def _embedded(events) -> Iterator[object]:
    """ensure_embeddings' events, its Progress shown as this phase's; returns its EmbeddingsReady."""
    ready = None
    for event in events:
        if isinstance(event, EmbeddingsReady):
            ready = event
        elif isinstance(event, Progress):
            yield dataclasses.replace(event, phase=COMPARING)
        else:
            yield event
    return ready


def _stored_network(project, spec, weights) -> Path:
    name = hashlib.sha256(model_key(spec, weights).encode()).hexdigest()[:20]
    return project.store_dir / "int8" / f"{name}.onnx"


def _calibrate(project, spec, weights, images: list, out: Path) -> Iterator[object]:
    from core.models.onnx_export import ensure_onnx

    chosen = calibration_set(images, int8.CALIBRATION_IMAGES)
    yield Progress(CALIBRATING, 0, len(chosen))
    batches = calibration_batches(project.root, chosen, spec.preprocessing)
    steps = int8.quantize(ensure_onnx(spec, weights), batches, out)
    try:
        for event in steps:
            yield Progress(CALIBRATING, min(event.done, len(chosen)), len(chosen))
    finally:  # a cancel: the quantizer's thread is joined before the decoding stops
        steps.close()
        batches.close()


def calibration_set(images: list, count: int) -> list:
    """Up to `count` images, the classes taking turns (seeded order within each), so that a large class does
    not set every range alone."""
    by_class: dict[int, list] = {}
    for image in images:
        by_class.setdefault(image.class_id, []).append(image)
    rng = np.random.default_rng(0)
    queues = [list(rng.permutation(len(members))) for members in by_class.values()]
    members = list(by_class.values())
    chosen = []
    while len(chosen) < count and any(queues):
        for queue, group in zip(queues, members):
            if queue and len(chosen) < count:
                chosen.append(group[queue.pop()])
    return chosen


def calibration_batches(root: Path, images: list, prep) -> Iterator[np.ndarray]:
    arrays = []
    loaded = decode_ahead(lambda image: preprocessed_or_reason(root / image.path, prep), images, 2 * _BATCH,
                          "int8-calibrate")
    try:
        for _, result in loaded:
            if not isinstance(result, str):
                arrays.append(result[0])
            if len(arrays) == _BATCH:
                yield np.stack(arrays)
                arrays = []
        if arrays:
            yield np.stack(arrays)
    finally:
        loaded.close()


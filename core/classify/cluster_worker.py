"""What a cluster worker runs: one chunk of files through the model, with the model loaded once per worker
process as it joins the run and reused for every chunk it is given. Imports nothing from Dask: the client
ships these functions."""
from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

from core.classify.batches import decoded_images, in_batches, predicted
from core.classify.precision import worker_precision
from core.features.predictor import Predictor

NETWORK_THREADS = 1  # see load_model
_models: dict[str, Future] = {}  # run key -> its Predictor, built or being built
_lock = threading.Lock()  # a worker runs several chunks at once in threads; they share one predictor


def load_model(key: str, bundle, device: str, precision: str) -> None:
    """Start building this worker's predictor for the run `key` in a thread of its own, and return: called
    as the worker joins the run (core.classify.cluster_plugin), so the model loads while the client walks the
    folder and the first chunk decodes. The backbone runs through ONNX Runtime on a CPU, torch on a GPU (as
    Embedder chooses for `device`), int8 on a CPU where `precision` says so.

    ONNX Runtime gets one thread: a Dask worker runs as many chunks at once as it has threads (one core
    each, Dask's unit of work), each chunk's batches on its own thread. Side by side, single-threaded runs
    of the network measured ~12 % less CPU per image than runs that share threads between them (local:1 on
    2 cores: 24.5 against 27.8 ms), and never more threads than cores, whatever the number of workers."""
    with _lock:
        if key in _models:  # workers in one process (an in-process cluster) share it
            return
        _models[key] = future = Future()

    def build() -> None:
        try:
            future.set_result(Predictor(bundle, device, worker_precision(precision, device), NETWORK_THREADS))
        except BaseException as error:  # raised again in every chunk that needs it: the client shows it
            future.set_exception(error)

    threading.Thread(target=build, name=f"dovecote-load-{key}", daemon=True).start()


def forget_model(key: str) -> None:
    """The run is over: its predictor is garbage (a long-lived worker serves many runs)."""
    with _lock:
        _models.pop(key, None)


def loaded_predictor(key: str) -> Predictor:
    """The predictor of the run `key`, waiting for it to finish loading."""
    with _lock:
        future = _models.get(key)
    if future is None:
        raise RuntimeError("this worker has not been given the run's model (it joined without its plugin)")
    return future.result()


def classify_files(key: str, root: str, rels: list[str], batch_size: int, prep) -> list[tuple[str, object]]:
    """(relative path, probabilities or the reason the file could not be read) for each of `rels`, in order.
    The first batch decodes while the model may still be loading."""
    rows = []
    for batch in in_batches(decoded_images(Path(root), iter(rels), prep, batch_size), batch_size):
        rows.extend(predicted(batch, loaded_predictor(key)))
    return rows


def file_identity(root: str, rels: list[str]) -> list[tuple[int, int] | None]:
    """(size, modification time in s) of each file as this machine sees it, None where it cannot: the client
    compares them with its own view to know every worker reads the same folder at the same path."""
    identities = []
    for rel in rels:
        try:
            info = (Path(root) / rel).stat()
            identities.append((info.st_size, int(info.st_mtime)))
        except OSError:
            identities.append(None)
    return identities


def sees_file(path: str, content: str) -> bool:
    try:
        return Path(path).read_text(encoding="utf-8") == content
    except OSError:
        return False

"""What a cluster worker runs: one chunk of files through the model, with the model loaded once per worker
process and reused for every chunk it is given. Imports nothing from Dask at module level: the client ships
these functions, and only asks the worker it runs on how many threads it was given."""
from __future__ import annotations

import threading
from pathlib import Path

from core.classify.inference import in_batches, decoded_images, predicted
from core.classify.precision import worker_precision
from core.features.predictor import Predictor

_predictors: dict[str, Predictor] = {}
_lock = threading.Lock()  # a worker runs several chunks at once in threads; they share one predictor


def predictor_for(key: str, bundle, device: str, precision: str = "fp32") -> Predictor:
    """This worker's predictor for the model `key` (the backbone through ONNX Runtime on a CPU, torch on a
    GPU, as Embedder chooses for `device`; int8 on a CPU where `precision` says so), built on the first chunk
    and kept for the next ones. ONNX Runtime gets the worker's threads, not every core: several workers on
    one machine would otherwise each start a thread per core and fight over them."""
    with _lock:
        if key not in _predictors:
            _predictors.clear()  # a worker serves one run's model at a time; an earlier run's is garbage now
            _predictors[key] = Predictor(bundle, device, worker_precision(precision, device), worker_threads())
        return _predictors[key]


def worker_threads() -> int | None:
    """The threads the Dask worker running this was given (its share of the machine), None outside one."""
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError):  # not on a Dask worker
        return None


def classify_files(key: str, bundle, root: str, rels: list[str], batch_size: int, device: str,
                   precision: str = "fp32") -> list[tuple[str, object]]:
    """(relative path, probabilities or the reason the file could not be read) for each of `rels`, in order."""
    predictor = predictor_for(key, bundle, device, precision)
    rows = []
    for batch in in_batches(decoded_images(Path(root), iter(rels), bundle.preprocessing, batch_size), batch_size):
        rows.extend(predicted(batch, predictor))
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

"""A folder's files as network input and through a predictor, in batches: what a single-machine run and a
cluster worker both run (core.classify.inference, core.classify.cluster_worker). Light on imports: a worker
process starting up loads only this, not the CSV, sorting and store code the client needs."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from core.images.decode_ahead import cpu_threads, decode_ahead
from core.models.preprocessing import preprocessed_or_reason


def predicted(chunk: list[tuple[str, object]], predictor) -> list[tuple[str, object]]:
    """(path, array or reason) -> (path, probabilities or reason), the decoded arrays predicted as one batch."""
    arrays = [item for _, item in chunk if isinstance(item, np.ndarray)]
    probabilities = iter(predictor.predict(np.stack(arrays)) if arrays else ())
    return [(rel, next(probabilities) if isinstance(item, np.ndarray) else item) for rel, item in chunk]


def _load(path: Path, prep) -> np.ndarray | str:
    """The network input for one file, or the reason it cannot be had (never raises for a bad file)."""
    loaded = preprocessed_or_reason(path, prep)
    return loaded if isinstance(loaded, str) else loaded[0]


def decoded_images(root: Path, paths: Iterator[str], prep, batch_size: int) -> Iterator[tuple[str, np.ndarray | str]]:
    """(relative path, array or reason) in walk order, decoding up to two batches ahead in threads."""
    return decode_ahead(lambda rel: _load(root / rel, prep), paths, 2 * batch_size + cpu_threads(), "classify-decode")


def in_batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

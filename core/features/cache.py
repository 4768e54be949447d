"""Embeddings: each image's backbone features, computed once per (content hash, model key, view) and kept
in the project store, so that retraining a head after a relabel costs seconds, not a pass over the images."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from core.models.backbones import BackboneSpec, file_digest, weights_identity
from core.features.embedder import DeviceUnavailable, Embedder, resolve_device
from core.errors import DovecoteError
from core.events import Notice, Progress
from core.images.decode_ahead import decode_ahead
from core.models.preprocessing import VIEW_NAMES, load_preprocessed, preprocess, preprocessed_or_reason
from core.storage import embeddings as store

__all__ = [
    "DeviceUnavailable", "Embedder", "EmbeddingsMissing", "EmbeddingsReady", "VIEW_NAMES", "ensure_embeddings",
    "load_embeddings", "load_preprocessed", "model_key", "preprocess", "resolve_device",
]

PHASE = "Computing embeddings"
# Images decoded ahead of the network: keeps the decoding threads busy without holding many photos.
_PREFETCH_BATCHES = 2


class EmbeddingsMissing(DovecoteError):
    pass


@dataclass(frozen=True)
class EmbeddingsReady:
    model_key: str
    failed: dict[int, str] = field(default_factory=dict)  # image id -> reason it has no embedding
    device: str = ""  # what computed them ("" when everything was cached)


def model_key(spec: BackboneSpec, weights_path=None, network=None) -> str:
    """Identifies what an embedding depends on: backbone, its feature layout, preprocessing, weights, and the
    ONNX file run instead of the fp32 export, if any (an int8 network, by content)."""
    prep = json.dumps(spec.preprocessing.to_dict(), sort_keys=True).encode()
    digest = hashlib.sha256(prep).hexdigest()[:10]
    key = f"{spec.name}:d{spec.feature_dim}:p{spec.preprocessing.version}-{digest}:{weights_identity(spec, weights_path)}"
    return key + (f":net-{file_digest(Path(network))[:16]}" if network is not None else "")


def ensure_embeddings(
    project, images, spec: BackboneSpec, device: str = "auto", views: Sequence[int] = (0,),
    batch_size: int = 32, weights_path=None, network=None,
) -> Iterator[object]:
    """Compute the embeddings the cache lacks for `images` (rows with .id, .path, .content_hash); with
    `network` (an ONNX file, e.g. the int8 backbone), that network's, on the CPU.

    Yields Progress, a Notice per unreadable file (skipped), then EmbeddingsReady. Each batch is committed
    before the next starts, so closing the generator (cancel) keeps everything computed so far."""
    key = model_key(spec, weights_path, network)
    views = tuple(dict.fromkeys(views))
    failed: dict[int, str] = {}
    by_hash: dict[str, list] = {}
    for image in images:
        if getattr(image, "status", "ok") == "unreadable" or not image.content_hash:
            # Known bad at import: not worth another attempt (a rescan picks up a repaired file).
            failed[image.id] = getattr(image, "error", None) or "unreadable"
        else:
            by_hash.setdefault(image.content_hash, []).append(image)
    if failed:
        yield Notice(f"{len(failed)} image(s) that could not be read at import are skipped.")
    with project.session() as session:
        cached = store.cached_pairs(session, key, list(by_hash), views)
    todo = [(h, rows, [v for v in views if (h, v) not in cached]) for h, rows in by_hash.items()]
    todo = [item for item in todo if item[2]]
    if not todo:
        yield EmbeddingsReady(key, failed)
        return

    yield Progress(PHASE, 0, len(todo))
    embedder = None  # made for the first batch (none if nothing decodes); the first ONNX export takes seconds
    ahead = max(2, _PREFETCH_BATCHES * batch_size // len(views))  # in images; each brings its views
    decoded = decode_ahead(lambda item: _load_item(project.root, item, spec), todo, ahead, "embed-decode")
    try:
        pending: list[tuple[str, list[int], list[np.ndarray]]] = []
        done = 0
        for (content_hash, rows, wanted), result in decoded:
            if isinstance(result, str):
                for row in rows:
                    failed[row.id] = result
                yield Notice(f"{rows[0].path}: {result} (skipped)")
            else:
                pending.append((content_hash, wanted, result))
            done += 1
            if pending and (sum(len(p[1]) for p in pending) >= batch_size or done == len(todo)):
                if embedder is None:
                    yield Progress(PHASE, done - len(pending), len(todo), f"loading {spec.title}")
                    embedder = Embedder(spec, device, weights_path,
                                        network=str(network) if network is not None else None)
                _embed_and_store(project, embedder, key, pending)
                pending = []
            if not pending or done == len(todo):
                yield Progress(PHASE, done, len(todo), rows[-1].path)
    finally:
        decoded.close()
    yield EmbeddingsReady(key, failed, embedder.device if embedder else "")


def load_embeddings(project, content_hashes: list[str], key: str, view: int = 0) -> np.ndarray:
    """[N, D] float32 in the order of `content_hashes` (repeats allowed). All must be cached."""
    with project.session() as session:
        found = store.vectors(session, key, content_hashes, view)
    missing = [h for h in content_hashes if h not in found]
    if missing:
        raise EmbeddingsMissing(
            f"{len(missing)} of {len(content_hashes)} images have no cached embedding for {key} (view {view}). "
            "Compute them first (train again, or run the embedding step)."
        )
    if not content_hashes:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.frombuffer(found[h], dtype="<f4") for h in content_hashes]).astype(np.float32)


def _load_item(root, item, spec: BackboneSpec) -> list[np.ndarray] | str:
    """Arrays for the wanted views, from the first copy of this content that decodes; else the reason."""
    _, rows, wanted = item
    loaded = "cannot be read"
    for row in rows:
        loaded = preprocessed_or_reason(root / row.path, spec.preprocessing, wanted)
        if not isinstance(loaded, str):
            break
    return loaded


def _embed_and_store(project, embedder: Embedder, key: str, pending) -> None:
    arrays = [array for _, _, views in pending for array in views]
    vectors = embedder.embed(np.stack(arrays))
    rows, index = [], 0
    for content_hash, wanted, _ in pending:
        for view in wanted:
            rows.append((content_hash, view, vectors[index]))
            index += 1
    with project.session() as session:
        store.store(session, key, rows)

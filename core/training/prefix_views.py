"""What CPU fine-tuning trains on: the frozen prefix's outputs over several views of each image, run in ONNX
Runtime (several times faster than torch eager here) and kept in the project store
(core.training.activation_cache), so that the next run (another seed, more epochs, a few new labels) starts
from what is there. Views are decided by an image's content and the view number alone (view_input)."""
from __future__ import annotations

import hashlib
from contextlib import closing
from pathlib import Path
from typing import Iterator

import numpy as np

from core.events import Notice, Progress
from core.images.decode_ahead import decode_ahead
from core.models.backbones import BackboneSpec, cache_dir, weights_identity
from core.models.preprocessing import preprocessed_or_reason
from core.training.activation_cache import ActivationCache
from core.training.finetune import FineTuneConfig, augment
from core.training.network_split import Cut, Layout, Prefix, layout

PREPARE_PHASE = "Preparing fine-tuning"
# The view of a validation image that decides whether classifying averages each image with its mirror image.
MIRRORED = -1
_BATCH = 32  # images a prefix run takes

Item = tuple[Path, int, str]  # (path, class index, content hash)


class PrefixViews:
    def __init__(self, spec: BackboneSpec, config: FineTuneConfig, store_dir: Path, weights_path, extractor,
                 train: list[Item], val: list[Item]):
        self.spec, self.config, self.store_dir, self.weights_path = spec, config, Path(store_dir), weights_path
        self.extractor, self.train_items, self.val_items = extractor, train, val
        self.layout: Layout = layout(extractor, spec.preprocessing.input_size)
        self.failed: dict[Path, str] = {}  # images that could not be read, and why
        self._sessions: dict[Cut, object] = {}  # ONNX Runtime sessions of the prefix, by cut

    def cached_share(self, cut: Cut) -> float:
        """The share of the plain views at `cut` an earlier run cached already."""
        cache = self._cache(cut)
        pairs = [(h, 0) for _, _, h in self.train_items + self.val_items]
        return sum(cache.has(h, v) for h, v in pairs) / max(1, len(pairs))

    def rows(self, cut: Cut, views: int):
        """Generator: computes the missing views (Progress), then returns ((train rows [N, views, row], labels),
        (validation rows [M, row], labels), the validation images' mirror images' rows or None when mirroring
        is not allowed); (None, ..) when no training image could be read."""
        cache = self._cache(cut)
        mirror = self.config.flip and self.config.test_time_flip
        val_views = [0, MIRRORED] if mirror else [0]
        wanted = [(i, list(range(views))) for i in range(len(self.train_items))]
        wanted += [(len(self.train_items) + i, val_views) for i in range(len(self.val_items))]
        items = self.train_items + self.val_items
        todo = [(i, [v for v in wanted_views if not cache.has(items[i][2], v)]) for i, wanted_views in wanted]
        todo = [(i, missing) for i, missing in todo if missing]
        if todo:
            yield from self._compute(cache, cut, views, items, todo)
        keep_train = [i for i, (p, _, h) in enumerate(self.train_items) if p not in self.failed and cache.has(h, 0)]
        keep_val = [i for i, (p, _, h) in enumerate(self.val_items)
                    if p not in self.failed and all(cache.has(h, v) for v in val_views)]
        if not keep_train:
            return None, None, None
        x_train = np.empty((len(keep_train), views, cache.row_size), np.float16)
        for view in range(views):
            cache.read([(self.train_items[i][2], view) for i in keep_train], x_train[:, view])
        x_val = cache.read([(self.val_items[i][2], 0) for i in keep_val])
        y_train = np.array([self.train_items[i][1] for i in keep_train], np.int64)
        y_val = np.array([self.val_items[i][1] for i in keep_val], np.int64)
        x_mirrored = cache.read([(self.val_items[i][2], MIRRORED) for i in keep_val]) if mirror else None
        return (x_train, y_train), (x_val, y_val), x_mirrored

    def _compute(self, cache: ActivationCache, cut: Cut, views: int, items: list[Item],
                 todo: list[tuple[int, list[int]]]) -> Iterator[Progress]:
        """Decodes the images of `todo` (item index, its missing views) in threads while the prefix runs."""
        session, total, done = self._session(cut), sum(len(v) for _, v in todo), 0
        note = f"{views} view(s) per image"
        yield Progress(PREPARE_PHASE, 0, total, note, unit="views")
        pending_pairs, pending_arrays = [], []
        stream = decode_ahead(lambda item: self._views(items[item[0]], item[1]), todo, 2 * _BATCH, "finetune-decode")
        with closing(stream):
            for position, ((i, missing), arrays) in enumerate(stream):
                if isinstance(arrays, str):
                    self.failed[items[i][0]] = arrays
                else:
                    pending_pairs += [(items[i][2], v) for v in missing]
                    pending_arrays += arrays
                if len(pending_arrays) >= _BATCH or (position == len(todo) - 1 and pending_arrays):
                    rows = session.run(None, {session.get_inputs()[0].name: np.stack(pending_arrays)})[0]
                    cache.add(pending_pairs, rows)
                    done += len(pending_arrays)
                    pending_pairs, pending_arrays = [], []
                    yield Progress(PREPARE_PHASE, done, total, note, unit="views")

    def prefix_rows(self, cut: Cut, images: np.ndarray) -> np.ndarray:
        session = self._session(cut)
        return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(images, np.float32)})[0]

    def failures(self) -> Iterator[Notice]:
        for path, reason in self.failed.items():
            yield Notice(f"{path}: {reason} (skipped)")

    def _views(self, item: Item, views: list[int]) -> list[np.ndarray] | str:
        """In a decoding thread: the inputs of the wanted views of one image, or why it cannot be read."""
        path, _, content_hash = item
        loaded = preprocessed_or_reason(path, self.spec.preprocessing)
        if isinstance(loaded, str):
            return loaded
        return [view_input(loaded[0], content_hash, view, self.config) for view in views]

    def _key(self, cut: Cut) -> str:
        from core.features.cache import model_key

        c = self.config
        views = f"aug{int(c.augment)}-f{int(c.flip)}-r{c.max_rotation}-z{c.max_zoom}-c{c.contrast}"
        return f"{model_key(self.spec, self.weights_path)}|cut{cut.block}.{cut.unit}|{views}|v1"

    def _cache(self, cut: Cut) -> ActivationCache:
        return ActivationCache(self.store_dir, self._key(cut), self.layout.rows[cut])

    def _session(self, cut: Cut):
        if cut not in self._sessions:
            from core.features.embedder import onnx_session
            from core.models.onnx_export import export_onnx

            size = self.spec.preprocessing.input_size
            ident = weights_identity(self.spec, self.weights_path)
            path = cache_dir() / "onnx" / f"{self.spec.name}-prefix-b{cut.block}u{cut.unit}-s{size}-{ident}.onnx"
            if not path.exists():
                export_onnx(Prefix(self.extractor, cut).eval(), size, path, "rows")
            self._sessions[cut] = onnx_session(str(path))
        return self._sessions[cut]


def view_input(plain: np.ndarray, content_hash: str, view: int, config: FineTuneConfig) -> np.ndarray:
    """View 0: the plain image; MIRRORED: its mirror image; others: a random crop, turn, flip and contrast
    change decided by the image's content and the view number alone, so that every run (any seed) finds the
    same views in the cache."""
    if view == 0:
        return plain
    if view == MIRRORED:
        return np.ascontiguousarray(plain[..., ::-1])
    import torch

    seed = int.from_bytes(hashlib.blake2b(f"{content_hash}:{view}".encode(), digest_size=8).digest(), "little")
    with torch.no_grad():
        out = augment(torch.from_numpy(plain[None]), np.random.default_rng(seed), config)
    return out[0].numpy()

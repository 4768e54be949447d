"""The frozen prefix's outputs for each (image content, view), kept in the project store like the embedding
cache, so that fine-tuning on a CPU runs the expensive early stages once per view, not once per epoch, and a
re-run (another seed, more epochs, a few new labels) starts from what is there.

A cache is a folder per key (backbone, weights, input size, cut, how views are made): float16 rows in chunk
files, each written whole and then renamed, and an index (content hash -> view -> chunk, row), replaced in
one step after each chunk; a crash leaves at most an unlisted chunk behind. Only the newest KEEP_KEYS
folders are kept: an older cut or input size would otherwise stay on disk for ever."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from core.atomic import atomic_path, write_text

FOLDER = "activations"
INDEX = "index.json"
KEEP_KEYS = 2


class ActivationCache:
    def __init__(self, store_dir: Path, key: str, row_size: int):
        import hashlib

        self.row_size = int(row_size)
        self.folder = Path(store_dir) / FOLDER / hashlib.sha256(key.encode()).hexdigest()[:16]
        self._index: dict[str, dict[str, list]] = self._read_index(key)
        self._key = key
        self._chunks: dict[str, np.ndarray] = {}
        self._writing = False

    @property
    def bytes_per_row(self) -> int:
        return self.row_size * 2

    def has(self, content_hash: str, view: int) -> bool:
        return str(view) in self._index.get(content_hash, {})

    def add(self, pairs: list[tuple[str, int]], rows: np.ndarray) -> None:
        """Store rows [len(pairs), row_size] for (content hash, view) pairs."""
        if not pairs:
            return
        if not self._writing:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._forget_other_keys()
            self._writing = True
        rows = np.ascontiguousarray(rows, dtype=np.float16)
        name = f"chunk-{time.time_ns():x}.npy"
        with atomic_path(self.folder / name) as temp:
            with open(temp, "wb") as handle:
                np.save(handle, rows)
        for row, (content_hash, view) in enumerate(pairs):
            self._index.setdefault(content_hash, {})[str(view)] = [name, row]
        write_text(self.folder / INDEX, json.dumps({"key": self._key, "rows": self._index}))

    def read(self, pairs: list[tuple[str, int]], out: np.ndarray | None = None) -> np.ndarray:
        """float16 [len(pairs), row_size] (into `out` when given). All must be cached."""
        out = np.empty((len(pairs), self.row_size), np.float16) if out is None else out
        for i, (content_hash, view) in enumerate(pairs):
            name, row = self._index[content_hash][str(view)]
            out[i] = self._chunk(name)[row]
        return out

    def _chunk(self, name: str) -> np.ndarray:
        if name not in self._chunks:
            self._chunks[name] = np.load(self.folder / name, mmap_mode="r")
        return self._chunks[name]

    def _read_index(self, key: str) -> dict:
        try:
            data = json.loads((self.folder / INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("rows"), dict):
            return {}
        present = {p.name for p in self.folder.glob("chunk-*.npy")}
        return {h: {v: place for v, place in views.items() if place[0] in present}
                for h, views in data["rows"].items()}

    def _forget_other_keys(self) -> None:
        """Keep this folder and the newest other ones, KEEP_KEYS in all."""
        os.utime(self.folder)
        others = sorted((p for p in self.folder.parent.iterdir() if p.is_dir() and p != self.folder),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP_KEYS - 1:]:
            shutil.rmtree(old, ignore_errors=True)

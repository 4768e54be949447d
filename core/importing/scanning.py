"""Folder import: walk, hash, check every image once, and rescan incrementally.

Only new or changed files are opened. A file that vanished is marked missing (its label kept); a file that
reappears elsewhere with the same content takes over the old record, label included."""
from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from core.events import Notice, Progress
from core.images.decode import ImageError, examine, read_info
from core.images.thumbnails import ThumbnailCache
from core.importing.walk import describe_skipped, walk_images
from core.project import Project
from core.storage import catalog, labels
from core.storage.paths import shown

log = logging.getLogger(__name__)

CHUNK = 64  # files examined and committed together: bounds memory and the work lost to a cancel
WORKERS = min(8, (os.cpu_count() or 2) + 2)  # Pillow decodes and hashlib hashes without the GIL


@dataclass
class ImportSummary:
    found: int = 0
    added: int = 0
    updated: int = 0
    moved: int = 0
    missing: int = 0
    unreadable: int = 0
    labelled: int = 0
    unreadable_files: list[tuple[str, str]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> entries left out (hidden, FIFO, link loop...)

    def skipped_text(self) -> str:
        return describe_skipped(self.skipped)


@dataclass(frozen=True)
class ImportFinished:
    summary: ImportSummary


@dataclass(frozen=True)
class _Examined:
    path: str
    size: int
    mtime: float
    content_hash: str | None
    width: int | None
    height: int | None
    error: str | None


def content_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _examine(root: Path, rel: str, stat: os.stat_result, thumbs: ThumbnailCache) -> _Examined:
    path = root / rel
    try:
        digest = content_hash(path)
    except OSError as error:
        return _Examined(rel, stat.st_size, stat.st_mtime, None, None, None, f"cannot read: {error.strerror}")
    try:
        if thumbs.has(digest):
            info = read_info(path)
        else:
            info, thumb = examine(path, thumbs.size)
            thumbs.store(digest, thumb)
        return _Examined(rel, stat.st_size, stat.st_mtime, digest, info.width, info.height, None)
    except ImageError as error:
        return _Examined(rel, stat.st_size, stat.st_mtime, digest, None, None, str(error))
    except OSError as error:
        return _Examined(rel, stat.st_size, stat.st_mtime, digest, None, None, f"cannot read: {error}")


def import_folder(project: Project, labels_from_subfolders: bool = False, follow_links: bool = False
                  ) -> Iterator[object]:
    """Import or rescan the project's folder. Yields Progress and Notice events, then ImportFinished.
    Links to places outside the folder are followed only with `follow_links`.
    Closing the generator early (cancel) keeps everything committed so far."""
    root, summary = project.root, ImportSummary()
    thumbs = ThumbnailCache(project.thumbnails_dir)
    with project.session() as session:
        known = catalog.known_files(session)

    seen: set[str] = set()
    todo: list[tuple[str, os.stat_result]] = []
    for rel, stat in walk_images(root, {project.store_dir}, follow_links=follow_links, skipped=summary.skipped):
        seen.add(rel)
        old = known.get(rel)
        if old is None or old.size != stat.st_size or old.mtime != stat.st_mtime or old.status == "missing":
            todo.append((rel, stat))
        if len(seen) % 500 == 0:
            yield Progress("Looking for images", len(seen), None)
    summary.found = len(seen)
    vanished = {rel: k for rel, k in known.items() if rel not in seen}
    # content hash → record of a vanished file, so a moved/renamed file keeps its id and label
    moved_from = {k.content_hash: (rel, k) for rel, k in vanished.items() if k.content_hash}

    yield Progress("Reading images", 0, len(todo))
    with ThreadPoolExecutor(WORKERS) as pool:
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            results = list(pool.map(lambda item: _examine(root, item[0], item[1], thumbs), chunk))
            with project.session() as session:
                new_ids = {r.path: _record(session, r, known, moved_from, vanished, summary) for r in results}
                if labels_from_subfolders:
                    _label_from_subfolders(session, new_ids, summary)
            # Yield only after the commit: a slow consumer must not hold the store's write lock.
            for result in results:
                if result.error:
                    yield Notice(f"{shown(result.path)}: {result.error}")
            yield Progress("Reading images", start + len(chunk), len(todo), chunk[-1][0])

    with project.session() as session:
        gone = [k.id for k in vanished.values() if k.status != "missing"]
        catalog.mark_missing(session, gone)
        summary.missing = len(vanished)
    yield ImportFinished(summary)


def _record(session, result: _Examined, known, moved_from, vanished, summary: ImportSummary) -> int | None:
    """Store one examined file; returns the id of a newly added image, else None."""
    fields = dict(size=result.size, mtime=result.mtime, content_hash=result.content_hash,
                  width=result.width, height=result.height,
                  status="unreadable" if result.error else "ok", error=result.error)
    if result.error:
        log.info("Skipped unreadable %s: %s", result.path, result.error)
        summary.unreadable += 1
        summary.unreadable_files.append((result.path, result.error))
    old = known.get(result.path)
    if old is not None:
        catalog.update_image(session, old.id, **fields)
        summary.updated += 1
        return None
    origin = moved_from.pop(result.content_hash, None) if result.content_hash else None
    if origin is not None:
        old_rel, old_record = origin
        vanished.pop(old_rel, None)
        catalog.update_image(session, old_record.id, path=result.path, **fields)
        summary.moved += 1
        return None
    summary.added += 1
    return catalog.add_image(session, path=result.path, **fields)


def _label_from_subfolders(session, new_ids: dict[str, int | None], summary: ImportSummary) -> None:
    """New images under a first-level subfolder get that folder's name as their class."""
    by_class: dict[str, list[int]] = {}
    for rel, image_id in new_ids.items():
        if image_id is not None and "/" in rel:
            by_class.setdefault(rel.split("/", 1)[0], []).append(image_id)
    for name, ids in by_class.items():
        # a folder name that is not UTF-8 names its class as a person reads it
        labels.set_labels(session, ids, labels.ensure_class(session, shown(name)), source="imported")
        summary.labelled += len(ids)

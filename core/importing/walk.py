"""Walking a folder for images, and saying why every other entry was left out.

Nothing is skipped in silence: hidden entries, FIFOs and devices named like images, broken links and link
loops, links to places outside the folder (followed only when asked) and image formats Dovecote cannot
read are counted by reason, so that a summary can say "3 skipped: 1 not a regular file, 2 hidden"."""
from __future__ import annotations

import errno
import os
from collections import Counter
from pathlib import Path
from typing import Iterator

from core.images.decode import is_image_name
from core.storage.paths import uses_reserved

# A classify --sort destination holds this file: its images are copies (or moved originals) of ones
# classified already, so classifying the folder again must not read them a second time.
SORTED_MARKER = ".dovecote-sorted"

HIDDEN = "hidden"
NOT_REGULAR = "not a regular file"
BROKEN_LINK = "broken link"
LINK_LOOP = "link loop"
OUTSIDE = "link to outside the folder (add --follow-links to follow it)"
UNSUPPORTED = "image format Dovecote cannot read"
UNREADABLE_FOLDER = "folder that cannot be read"
RESERVED_NAME = "name Dovecote cannot store"
SORTED_OUTPUT = "folder an earlier classify --sort filled"
# Image formats people keep beside photos that Pillow does not decode: worth a mention, unlike a .txt.
_OTHER_IMAGE_SUFFIXES = {".svg", ".svgz", ".heic", ".heif", ".avif", ".jxl", ".psd", ".eps", ".ico", ".raw",
                         ".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2", ".raf"}


def walk_images(root: Path, skip: set[Path] = frozenset(), *, follow_links: bool = False,
                skip_sorted: bool = False, skipped: Counter | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """(relative POSIX path, stat) of every image below root, in name order.

    `skip`: folders and files never read (the store, a sort destination, the results CSV). Links are
    followed inside root; one to a place outside is followed only with `follow_links`. A folder reached twice
    is walked once. `skip_sorted`: leave out folders an earlier classify --sort made. `skipped` collects
    reason -> count for every entry left out."""
    skipped = Counter() if skipped is None else skipped
    root = root.resolve()
    skip_paths = {str(p) for p in skip}
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            info = directory.stat()
            if (info.st_dev, info.st_ino) in seen_dirs:
                continue
            seen_dirs.add((info.st_dev, info.st_ino))
            if skip_sorted and directory != root and (directory / SORTED_MARKER).is_file():
                skipped[SORTED_OUTPUT] += 1
                continue
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            skipped[UNREADABLE_FOLDER] += 1
            continue
        subdirs = []
        for entry in entries:
            if entry.path in skip_paths:
                continue
            reason = _reason_to_skip(root, entry, follow_links)
            if reason == "folder":
                subdirs.append(Path(entry.path))
            elif reason is None:
                try:
                    yield Path(entry.path).relative_to(root).as_posix(), entry.stat()
                except OSError:
                    skipped[BROKEN_LINK] += 1
            elif reason:
                skipped[reason] += 1
        stack.extend(reversed(subdirs))


def _reason_to_skip(root: Path, entry: os.DirEntry, follow_links: bool) -> str | None:
    """None for an image to read, "folder" for one to walk, "" for an entry that is simply not an image,
    else why it is left out."""
    if entry.name.startswith("."):
        return HIDDEN
    try:
        if entry.is_symlink():
            try:
                target = Path(entry.path).resolve(strict=True)
            except RuntimeError:  # Python < 3.13 reports a loop so
                return LINK_LOOP
            except OSError as error:
                return LINK_LOOP if error.errno == errno.ELOOP else BROKEN_LINK
            if not follow_links and not target.is_relative_to(root):
                return OUTSIDE
        if entry.is_dir():
            return "folder"
        if not is_image_name(entry.name):
            return UNSUPPORTED if Path(entry.name).suffix.lower() in _OTHER_IMAGE_SUFFIXES else ""
        if not entry.is_file():
            return NOT_REGULAR
    except OSError as error:
        return LINK_LOOP if error.errno == errno.ELOOP else NOT_REGULAR
    return RESERVED_NAME if uses_reserved(entry.name) else None


def describe_skipped(skipped: Counter | dict) -> str:
    """ "3 skipped: 1 not a regular file, 2 hidden", or "" when nothing was."""
    total = sum(skipped.values())
    if not total:
        return ""
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{total} skipped: {parts}"

"""Splitting a folder's images into work: a deterministic partition of their sorted relative paths.

Both a `--shard K/N` run and a cluster run cut the same sorted list, so N shard runs on N machines cover
exactly the files one cluster run covers, each once, whatever order the disk lists them in."""
from __future__ import annotations

import re
from typing import Iterator, Sequence

from core.errors import InvalidRequest

CHUNK_FILES = 64  # most files per cluster task: a second or two of work; results stream, a lost worker costs little


def parse_shard(text: str) -> tuple[int, int]:
    """ "3/10" -> (3, 10): the third of ten shards (counted from 1, as SLURM array indices usually are)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise InvalidRequest(f"--shard takes K/N, e.g. 3/10 for the third of ten parts, not {text!r}.")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise InvalidRequest(f"--shard {k}/{n}: K must be between 1 and N (here 1 to {max(n, 1)}).")
    return k, n


def shard_of(paths: Sequence[str], k: int, n: int) -> list[str]:
    """The K-th of N contiguous, near-equal slices of the sorted paths."""
    ordered = sorted(paths)
    return ordered[(k - 1) * len(ordered) // n: k * len(ordered) // n]


def chunks(paths: Sequence[str], size: int = CHUNK_FILES, streams: int | None = None) -> Iterator[list[str]]:
    """The sorted paths in consecutive chunks of `size` (the last one shorter).

    With `streams` (how many chunks are worked on at once: a cluster's worker threads) the sizes vary, still
    a function of the paths alone: the first chunks are small and double up to `size`, so that results come
    back while the cluster warms up; the last ones shrink (each at most 1/(2 x streams) of what is left,
    guided self-scheduling), so that at the end no stream is left working alone on a full chunk."""
    ordered = sorted(paths)
    if streams is None:
        for start in range(0, len(ordered), size):
            yield ordered[start:start + size]
        return
    smallest = max(1, size // 8)
    start, grown = 0, smallest
    while start < len(ordered):
        share = -(-(len(ordered) - start) // (2 * max(1, streams)))  # rounded up
        count = min(size, grown, max(smallest, share))
        yield ordered[start:start + count]
        start += count
        grown *= 2

"""Decoding a bounded distance ahead of the consumer, in threads (Pillow and numpy release the GIL), so that
the network works on one batch while the next ones are decoded. The one such pipeline: embeddings,
fine-tuning and classification all use it."""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")


def cpu_threads() -> int:
    """Cores this process may use (respects affinity masks and containers' CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def decode_ahead(load: Callable[[Item], Loaded], items: Iterable[Item], ahead: int, name: str = "decode"
                 ) -> Iterator[tuple[Item, Loaded]]:
    """(item, load(item)) in the order of `items`, with up to `ahead` further items loading in a thread pool
    while the consumer works on the one yielded. `items` is drawn lazily (a folder walk stays a stream) and
    memory holds at most `ahead` + 1 results. `load` should return a failure rather than raise for a bad
    file; what it raises comes out here. Closing the iterator (cancel) drops what was queued and waits for
    the loads under way, so no thread outlives it."""
    queue: deque[tuple[Item, Future]] = deque()
    pool = ThreadPoolExecutor(cpu_threads(), thread_name_prefix=name)
    try:
        for item in items:
            queue.append((item, pool.submit(load, item)))
            if len(queue) > ahead:
                item, future = queue.popleft()
                yield item, future.result()
        while queue:
            item, future = queue.popleft()
            yield item, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

"""How commands talk: JSON for scripts, a progress bar and plain lines for people."""
from __future__ import annotations

import json
import sys
from typing import Iterable, Iterator

from tqdm import tqdm

from core.events import Notice, Progress


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def follow(events: Iterable[object], quiet: bool = False) -> Iterator[object]:
    """Show Progress as a bar with rate and ETA and Notices as lines (on stderr); pass other events on."""
    bar: tqdm | None = None
    phase = None
    try:
        for event in events:
            if isinstance(event, Progress):
                if quiet:
                    continue
                if bar is None or event.phase != phase:
                    if bar is not None:
                        bar.close()
                    phase = event.phase
                    bar = tqdm(total=event.total, desc=event.phase, unit="img", file=sys.stderr,
                               dynamic_ncols=True, leave=True)
                if event.total is not None and bar.total != event.total:
                    bar.total = event.total
                bar.n = event.done
                bar.refresh()
            elif isinstance(event, Notice):
                if not quiet:
                    (tqdm.write if bar else print)(f"  ! {event.message}", file=sys.stderr)
            else:
                yield event
    finally:
        if bar is not None:
            bar.close()

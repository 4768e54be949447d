"""How commands talk: JSON for scripts, a progress bar and plain lines for people.

On a terminal, progress is a bar that redraws itself. Piped to a file or another program, a redrawing bar
is noise, so each phase is one line, written when the phase ends: "Reading images: 120 of 120 images, 3.4 s"."""
from __future__ import annotations

import codecs
import io
import json
import sys
import time
from typing import Iterable, Iterator, TextIO

from tqdm import tqdm

from core.events import Notice, Progress


def _replace_undecodable(error: UnicodeError):
    """A file name that is not UTF-8 printed anywhere: its odd bytes as the replacement character, not a
    UnicodeEncodeError (core.storage.paths.shown does the same where a command formats a path itself)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    utf8 = codecs.lookup(error.encoding).name == "utf-8"  # a handler may give UTF-8 only as bytes
    return (b"\xef\xbf\xbd" if utf8 else b"?") * (error.end - error.start), error.end


codecs.register_error("dovecote-shown", _replace_undecodable)


def safe_streams() -> None:
    """Make stdout and stderr print any path without failing."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="dovecote-shown")


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def follow(events: Iterable[object], quiet: bool = False) -> Iterator[object]:
    """Show Progress (a bar, or a line per phase when stderr is not a terminal) and Notices as lines, on
    stderr; pass other events on."""
    display = (_Bar if is_terminal(sys.stderr) else PhaseLines)(sys.stderr)
    try:
        for event in events:
            if isinstance(event, Progress):
                if not quiet:
                    display.show(event)
            elif isinstance(event, Notice):
                if not quiet:
                    display.note(f"  ! {event.message}")
            else:
                yield event
    finally:
        display.close()


def counted(event: Progress) -> str:
    """ "120 of 4,000 images", "120 images", or "" for a phase that counts nothing (loading a model)."""
    if event.total is None:
        return f"{event.done:,} {event.unit}" if event.done else ""
    return f"{event.done:,} of {event.total:,} {event.unit}"


class PhaseLines:
    """One line per phase, when it ends (or when the run stops during it): no redraws."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.last: Progress | None = None
        self.started = 0.0

    def show(self, event: Progress) -> None:
        if self.last is not None and event.phase != self.last.phase:
            self._finish()
        if self.last is None:
            self.started = time.perf_counter()
        self.last = event

    def note(self, text: str) -> None:
        print(text, file=self.stream)

    def close(self) -> None:
        if self.last is not None:
            self._finish()

    def _finish(self) -> None:
        count = counted(self.last)
        seconds = time.perf_counter() - self.started
        print(f"{self.last.phase}: {count + ', ' if count else ''}{seconds:.1f} s", file=self.stream, flush=True)
        self.last = None


class _Bar:
    """A tqdm bar per phase, in the phase's unit; a phase that counts nothing shows its name alone."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.bar: tqdm | None = None
        self.phase: str | None = None

    def show(self, event: Progress) -> None:
        if self.bar is None or event.phase != self.phase:
            self.close()
            self.phase = event.phase
            uncounted = event.total is None and event.done == 0
            self.bar = tqdm(total=event.total, desc=event.phase, unit=f" {event.unit}", file=self.stream,
                            dynamic_ncols=True, leave=True,
                            bar_format="{desc}…" if uncounted else None)
        if event.total is not None and self.bar.total != event.total:
            self.bar.total = event.total
        self.bar.n = event.done
        self.bar.refresh()

    def note(self, text: str) -> None:
        (tqdm.write if self.bar else print)(text, file=self.stream)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

"""What the window benchmarks share: a meter of event-loop stalls that can say where each long one was spent,
a temporary workspace with its own settings, and the idle baseline every ratio is taken against."""
from __future__ import annotations

import contextlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

TICK_MS = 5


class StallMeter:
    """Records the gaps between ticks of a fast timer: a long gap is a frozen window.

    With `where=True` a watcher thread samples the GUI thread's stack while a tick is overdue, so `culprits()`
    can say which lines of ours the long stalls were spent in."""

    def __init__(self, where: bool = False, overdue_ms: float = 40):
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self.ends: list[float] = []
        self._last = self._origin = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._where, self._overdue = where, overdue_ms / 1000
        self._samples: Counter[str] = Counter()
        self._this_stall: Counter[str] = Counter()
        self.long_stalls: list[tuple[float, float, Counter[str]]] = []  # (ms, at s, where) of stalls over 100 ms
        self._gui_thread = threading.get_ident()
        self._watching = threading.Event()

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self._last) * 1000
        self.gaps.append(gap)
        self.ends.append(now - self._origin)
        self._last = now
        if gap - TICK_MS > 100 and self._where:
            self.long_stalls.append((gap - TICK_MS, now - self._origin, self._this_stall))
        self._this_stall = Counter()

    def start(self) -> None:
        self.gaps.clear()
        self.ends.clear()
        self._samples.clear()
        self.long_stalls.clear()
        self._last = self._origin = time.perf_counter()
        self._timer.start()
        if self._where:
            self._watching.set()
            threading.Thread(target=self._watch, daemon=True).start()

    def stop(self) -> list[float]:
        self._timer.stop()
        self._watching.clear()
        return [max(0.0, gap - TICK_MS) for gap in self.gaps]

    def worst(self, stalls: list[float], count: int = 3) -> str:
        """The longest stalls and when they ended (seconds since start())."""
        ranked = sorted(zip(stalls, self.ends), reverse=True)[:count]
        return ", ".join(f"{stall:.0f} ms at {at:.1f} s" for stall, at in ranked)

    def _watch(self) -> None:
        while self._watching.is_set():
            time.sleep(0.01)
            if time.perf_counter() - self._last > self._overdue:
                where = _our_innermost(sys._current_frames().get(self._gui_thread))
                if where:
                    self._samples[where] += 1
                    self._this_stall[where] += 1

    def culprits(self, count: int = 6) -> str:
        """Where the GUI thread was while ticks were overdue, by 10 ms samples, most first."""
        if not self._samples:
            return "  (no overdue tick sampled)"
        lines = [f"  {n * 10:5d} ms  {where}" for where, n in self._samples.most_common(count)]
        for ms, at, where in sorted(self.long_stalls, key=lambda stall: stall[0], reverse=True)[:count]:
            lines.append(f"  stall of {ms:.0f} ms at {at:.1f} s: "
                         + "; ".join(f"{n * 10} ms {w}" for w, n in where.most_common(3)))
        return "\n".join(lines)


def _our_innermost(frame) -> str:
    """The innermost frames in the project's own code (not Qt's, not a library's); else the innermost two.

    Only names and line numbers are taken, and no frame is held a moment longer than the walk: a frame this
    thread still holds when its function returns keeps that function's locals alive, and a QPainter among
    them would then be destroyed on this thread (a crash in Qt's backing store)."""
    stack: list[tuple[str, int, str]] = []
    while frame is not None:
        stack.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    stack.reverse()
    ours = [f for f in stack if "/core/" in f[0] or "/desktop/" in f[0]] or stack[-2:]
    return " <- ".join(f"{Path(name).parent.name}/{Path(name).name}:{line} {function}"
                       for name, line, function in reversed(ours[-3:]))


def run_until(app, condition, timeout_s: float) -> None:
    end = time.perf_counter() + timeout_s
    while not condition() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def describe(stalls: list[float]) -> str:
    ordered = sorted(stalls)
    p99 = ordered[int(len(ordered) * 0.99) - 1] if ordered else 0.0
    return (f"max {max(ordered, default=0):6.1f} ms   p99 {p99:5.1f} ms   median {statistics.median(ordered or [0]):4.1f} ms"
            f"   over 100 ms: {sum(s > 100 for s in ordered)}   ticks: {len(ordered)}")


def verdict(stalls: list[float], limit_ms: float = 100) -> str:
    return f"goal: none over {limit_ms:.0f} ms -> {'met' if max(stalls, default=0) <= limit_ms else 'NOT met'}"


@contextlib.contextmanager
def workspace(prefix: str):
    """A temporary folder with the app's settings inside it (so a run never reads or writes the user's), and a
    QApplication; removed afterwards."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    work = Path(tempfile.mkdtemp(prefix=f"dovecote-bench-{prefix}-"))
    try:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work / "settings"))
        app = QApplication.instance() or QApplication([])
        yield work, app
    finally:
        shutil.rmtree(work, ignore_errors=True)


def idle_stalls(app, seconds: float = 2.0) -> list[float]:
    """The baseline: the stalls of the window shown and doing nothing."""
    meter = StallMeter()
    meter.start()
    run_until(app, lambda: False, seconds)
    return meter.stop()


def main_window():
    """The main window as `dovecote gui` builds it (theme, settings, the start-up heap frozen), at 1280x800."""
    import argparse

    from desktop.app import create_window

    window = create_window(argparse.Namespace())
    window.resize(1280, 800)
    return window

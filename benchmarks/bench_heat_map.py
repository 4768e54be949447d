"""How long does "Why? Show what the model looked at" take in the window, the first time and the next?

A small project really trained with the default backbone (tests/colourproject.py); the main window opens it,
selects an image, and turns the heat map on in the preview; then the next images, one at a time. Prints the
time from the toggle (or the selection) to the overlay on screen, and the event-loop stalls meanwhile, against
the idle window in the same run. The first includes loading the model into the warm worker; the goal for the
others (issue 11): well under a second on a CPU, no stall over 100 ms.

    .venv/bin/python benchmarks/bench_heat_map.py [--images 4]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests"), str(HERE)]

from colourproject import trained_project  # noqa: E402
from gui_bench import StallMeter, describe, idle_stalls, main_window, run_until, verdict, workspace  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="images explained after the first")
    args = parser.parse_args()

    with workspace("heat-map") as (work, app):
        os.environ.setdefault("DOVECOTE_CACHE_DIR", str(work / "cache"))
        # Trained in another process: this one, like the app's window, must not have imported torch.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as trainer:
            project, _run = trainer.submit(trained_project, work / "colour project").result()
        assert "torch" not in sys.modules
        window = main_window()
        window.opener.open(project)
        workers = getattr(window.context.tasks, "workers", None)
        opened = time.perf_counter()
        if workers is not None:
            run_until(app, lambda: workers.ready_count() > 0, 120)
            print(f"warm worker ready {time.perf_counter() - opened:.1f} s after the window opened")
        idle = idle_stalls(app)
        preview, shown = window.preview, []
        preview.heat.ready.connect(lambda image_id, *_: shown.append(image_id))
        meter = StallMeter()
        meter.start()
        times = []
        for row in range(args.images + 1):
            window.grid.select_row(row)
            run_until(app, lambda: preview.image_id == window.model.image_id(row), 10)
            started = time.perf_counter()
            if row == 0:
                preview.heat_action.setChecked(True)
            run_until(app, lambda: shown and shown[-1] == window.model.image_id(row), 120)
            times.append(time.perf_counter() - started)
        stalls = meter.stop()
        if len(shown) < args.images + 1:
            print("the heat map did not appear")
            return 1
        later = times[1:]
        print(f"first heat map (the model loaded into the worker): {times[0]:.2f} s")
        print(f"next {len(later)}: mean {sum(later) / len(later):.2f} s, slowest {max(later):.2f} s   "
              "(goal: well under a second)")
        print(f"event-loop stalls, idle window: {describe(idle)}")
        print(f"event-loop stalls meanwhile:    {describe(stalls)}   ({verdict(stalls)})")
        window.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

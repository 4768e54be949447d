"""Does the window stay responsive while a large folder is imported?

Opens a generated folder of 10,000 images (real handwritten digits from scikit-learn, upscaled to 96 px
JPEGs in class subfolders, plus a few unreadable files) in the main window and measures how long the Qt
event loop is ever blocked: a 5 ms timer records the gaps between its ticks. The baseline is the same
measurement with the window idle, in the same run; the import's wall time is compared with a headless
import of the same folder (what `dovecote import` does). Goal: no stall over 100 ms.

    .venv/bin/python benchmarks/bench_gui_import.py [--images 10000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from gui_bench import StallMeter, describe, idle_stalls, main_window, run_until, workspace  # noqa: E402


def make_folder(root: Path, count: int) -> None:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i in range(count):
        k = i % len(digits.images)
        pixels = (digits.images[k] * (255 / 16)).astype(np.uint8)
        folder = root / f"digit-{digits.target[k]}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - pixels, "L").resize((96, 96), Image.Resampling.BILINEAR).save(
            folder / f"{i:06d}.jpg", quality=90)
    for i in range(5):
        (root / f"unreadable-{i}.jpg").write_bytes(b"this is not a picture")


def headless_import_seconds(folder: Path, store: Path) -> float:
    from core.project import Project
    from core.importing.scanning import import_folder

    start = time.perf_counter()
    with Project.open(folder, store) as project:
        for _event in import_folder(project, labels_from_subfolders=True):
            pass
    return time.perf_counter() - start


def make_store(folder: Path, rows: int) -> None:
    """A project whose store lists `rows` images (no files: the grid works from the store and the
    thumbnail cache), half of them labelled in ten classes, sharing 100 real thumbnails."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    from core.project import Project
    from core.storage import catalog, labels
    from core.images.thumbnails import ThumbnailCache

    digits = load_digits()
    folder.mkdir(parents=True)
    with Project.open(folder) as project:
        thumbs = ThumbnailCache(project.thumbnails_dir)
        for k in range(100):
            pixels = (255 - digits.images[k] * (255 / 16)).astype(np.uint8)
            thumbs.store(f"{k:032x}", Image.fromarray(pixels, "L").resize((256, 256)).convert("RGB"))
        with project.session() as session:
            ids = [catalog.add_image(session, path=f"digit-{digits.target[i % 100]}/{i:06d}.jpg", size=2000 + i % 977,
                                     mtime=1e9 + i, content_hash=f"{i % 100:032x}", width=96, height=96, status="ok")
                   for i in range(rows)]
            for c in range(10):
                labels.set_labels(session, ids[c : rows // 2 : 10], labels.add_class(session, f"digit-{c}"))


def grid_timings(app, window, folder: Path, where: bool = False) -> dict[str, tuple[float, float]]:
    """For each user action on the project in `folder`: (ms until done, longest event-loop stall in ms).
    Done means stored and shown: large writes run in the background, so the two differ. With `where`, says
    which lines of ours each action's stalls were spent in."""
    from core.storage import gallery

    meter = StallMeter(where=where)

    def timed(name: str, action) -> tuple[float, float]:
        meter.start()
        start = time.perf_counter()
        action()
        app.processEvents()
        run_until(app, lambda: not window.context.busy and not window.model.reading, 120)
        app.processEvents()
        elapsed = (time.perf_counter() - start) * 1000
        stalls = meter.stop()
        if where:
            print(f"{name}: done in {elapsed:.0f} ms\n{meter.culprits(4)}")
        return elapsed, max(stalls + [elapsed if len(stalls) < 2 else 0.0])  # no tick at all: it all blocked

    grid, model = window.grid, window.model
    model.set_query(gallery.GalleryQuery())
    actions = [
        ("open (grid shown)", lambda: window.context.open(folder)),
        ("scroll to the end", grid.scrollToBottom),
        ("press 1 on one image", lambda: (grid.select_row(3), window.label_actions.label_with_key(1))),
        ("show unlabelled only", lambda: model.set_query(gallery.GalleryQuery(show="unlabelled"))),
        ("search a file name", lambda: model.set_query(gallery.GalleryQuery(search="0123"))),
        ("show all, sort by size", lambda: model.set_query(gallery.GalleryQuery(sort="size"))),
        ("select all, press 2", lambda: (grid.selectAll(), window.label_actions.label_with_key(2))),
        ("undo that", window.label_actions.undo_last),
    ]
    found = {name: timed(name, action) for name, action in actions}
    window.context.close()
    app.processEvents()
    return found


def import_in_window(app, window, folder: Path, headless: float, where: bool) -> bool:
    """Imports the generated `folder` in the window; prints its stalls against the idle window's and its time
    against the headless import's. False if it did not finish."""
    from desktop.project import opener as project_opener

    project_opener.ask_subfolder_classes = lambda *_args: True  # as a user clicking Yes
    idle = idle_stalls(app)
    done = []
    window.importer.finished.connect(done.append)
    started = time.perf_counter()
    window.opener.open(folder)  # creates the store (one time per folder), shows the grid, starts the import
    opening = time.perf_counter() - started
    meter = StallMeter(where=where)
    meter.start()
    run_until(app, lambda: bool(done), 600)
    in_gui = time.perf_counter() - started
    during = meter.stop()
    if not done or done[0] is None:
        print("the import did not finish")
        return False
    print(f"import in the window:              {in_gui:6.2f} s   ({in_gui / headless:.2f}x the headless import)")
    print(f"opening the folder (new store, first grid), before the import runs: {opening * 1000:.0f} ms")
    print(f"rows in the grid: {window.model.rowCount():,}   classes: {len(window.context.classes)}")
    print(f"event-loop stalls, idle window:    {describe(idle)}")
    print(f"event-loop stalls, during import:  {describe(during)}")
    print(f"  the longest: {meter.worst(during)}")
    if where:
        print("  where the GUI thread was while stalled:\n" + meter.culprits())
    print(f"longest stall during import vs idle: {max(during) / max(max(idle), 1.0):.1f}x"
          f"   (goal: never over 100 ms -> {'met' if max(during) <= 100 else 'NOT met'})")
    window.context.close()
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="images to import in the window (0: none)")
    parser.add_argument("--grid-rows", type=int, default=100_000, help="size of the large store for grid timings")
    parser.add_argument("--where", action="store_true", help="say which lines of ours the long stalls were in")
    args = parser.parse_args()

    with workspace("gui-import") as (work, app):
        # Everything generated before the window exists: making it imports scikit-learn and builds 100,000
        # rows, which the app's window process never does (and which a full garbage collection would walk).
        folder, small, large = work / "digits", work / "small-store", work / "large-store"
        if args.images:
            started = time.perf_counter()
            make_folder(folder, args.images)
            print(f"generated {args.images:,} images + 5 unreadable in {time.perf_counter() - started:.1f} s")
            headless = headless_import_seconds(folder, work / "headless-store")
            print(f"headless import (baseline):        {headless:6.2f} s")
        if args.grid_rows:
            make_store(small, 1_000)
            make_store(large, args.grid_rows)
        window = main_window()
        if args.images and not import_in_window(app, window, folder, headless, args.where):
            return 1
        if args.grid_rows:
            baseline, big = grid_timings(app, window, small), grid_timings(app, window, large, args.where)
            print(f"\nper action: done in ms / longest stall in ms; 1,000 images (baseline) vs {args.grid_rows:,}")
            for action, (done, stall) in big.items():
                base_done, base_stall = baseline[action]
                print(f"  {action:24s} {base_done:7.0f} / {base_stall:4.0f}   {done:7.0f} / {stall:4.0f}"
                      f"   ({done / max(base_done, 0.1):.1f}x done, {stall / max(base_stall, 0.1):.1f}x stall)")
        window.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

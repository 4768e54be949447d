"""Does the window stay responsive while it trains, and does training from the window cost more than the CLI?

Generates a project of ~2,000 small images (scikit-learn's real handwritten digits, 32 px, ten classes),
opens it in the main window, starts a quick run from the Train view (the head on cached features), then a
short fine-tuning run, measuring the Qt event loop all the while (a 5 ms timer records the gaps between its
ticks). The same two runs on an identical copy of the project from `dovecote train` in a terminal are the
baseline for the wall time. Then a longer fine-tuning run is stopped with Stop, to measure how long the
stop takes. Goals: no stall over 100 ms; window/CLI time ratio under 1.1; stopped within 2 s.

    .venv/bin/python benchmarks/bench_gui_train.py [--images 2000] [--fine-tune-epochs 1]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gui_bench import StallMeter, describe, idle_stalls, main_window, run_until, workspace  # noqa: E402


def make_project(root: Path, count: int) -> None:
    """`count` digits at 32 px in class folders (mirrored copies past the 1,797 of the data set), imported."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    from core.importing.scanning import import_folder
    from core.project import Project

    digits = load_digits()
    for i in range(count):
        k = i % len(digits.images)
        pixels = (255 - digits.images[k] * (255 / 16)).astype(np.uint8)
        image = Image.fromarray(pixels, "L").resize((32, 32), Image.Resampling.BILINEAR)
        if i >= len(digits.images):
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        folder = root / f"digit-{digits.target[k]}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:05d}.png")
    with Project.open(root) as project:
        for _event in import_folder(project, labels_from_subfolders=True):
            pass


def cli_seconds(folder: Path, *options: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core.cli", "train", str(folder), "--json", "--device", "cpu", *options],
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - started


def window_run(app, window, fine_tune_epochs: int | None, size: int, meter: StallMeter | None,
               stop_after: str | None = None):
    """Set the Train view as a user would, press Train, wait for the end: (seconds, estimate, stop latency)."""
    panel = window.train_view.settings_panel
    panel.fine_tune.setChecked(fine_tune_epochs is not None)
    panel.epochs.setValue(fine_tune_epochs or 0)
    index = panel.input_size.findData(size)
    assert index >= 0, f"no image size {size} in the Train view"
    panel.input_size.setCurrentIndex(index)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    view = window.train_view
    run_until(app, lambda: False, 0.5)  # past the estimate's delay: the one for these settings is due or running
    run_until(app, lambda: view.plan is not None and not view._estimate_timer.isActive() and view._estimating is None,
              60)  # the estimate for these settings has landed (each runs in a child process)
    estimate = view.plan.seconds if view.plan else None
    done, stop = [], {}

    def watch(task, _config):
        def on_event(event):
            if stop_after and type(event).__name__ == "EpochEnded" and event.phase == stop_after and not stop:
                stop["at"] = time.perf_counter()
                window.train_view.progress.cancel.click()
        task.event.connect(on_event)

    window.training.started.connect(watch)
    window.training.finished.connect(done.append)
    if meter is not None:
        meter.start()
    started = time.perf_counter()
    panel.train_button.click()
    run_until(app, lambda: bool(done), 900)
    seconds = time.perf_counter() - started
    window.training.started.disconnect(watch)
    window.training.finished.disconnect(done.append)
    latency = time.perf_counter() - stop["at"] if stop else None
    return seconds, estimate, latency


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--fine-tune-epochs", type=int, default=1)
    parser.add_argument("--quick-size", type=int, default=96, help="network input of the quick run (pixels)")
    parser.add_argument("--fine-tune-size", type=int, default=32, help="network input of fine-tuning (pixels)")
    parser.add_argument("--where", action="store_true", help="say which lines of ours the long stalls were in")
    args = parser.parse_args()

    os.environ.setdefault("DOVECOTE_CACHE_DIR", str(Path(tempfile.gettempdir()) / "dovecote-bench-cache"))
    with workspace("train") as (work, app):
        started = time.perf_counter()
        gui_folder, cli_folder, warm = work / "window", work / "cli", work / "warm-up"
        make_project(gui_folder, args.images)
        shutil.copytree(gui_folder, cli_folder)
        make_project(warm, 200)
        print(f"generated and imported {args.images:,} images (twice) in {time.perf_counter() - started:.1f} s")
        # Exports the backbone to ONNX at both input sizes once, so neither side pays it.
        quick_size, fine_size = ("--input-size", str(args.quick_size)), ("--input-size", str(args.fine_tune_size))
        cli_seconds(warm, *quick_size)
        cli_seconds(warm, "--fine-tune", "--epochs", "1", *fine_size)
        print(f"warmed up (ONNX exports) after {time.perf_counter() - started:.0f} s", flush=True)

        window = main_window()
        window.context.open(gui_folder)
        window.show_view("train")
        idle = idle_stalls(app)
        meter = StallMeter(where=args.where)

        quick, quick_estimate, _ = window_run(app, window, None, args.quick_size, meter)
        print(f"quick run in the window: {quick:.1f} s", flush=True)
        fine, fine_estimate, _ = window_run(app, window, args.fine_tune_epochs, args.fine_tune_size, None)
        print(f"fine-tuning run in the window: {fine:.1f} s", flush=True)
        during = meter.stop()
        cli_quick = cli_seconds(cli_folder, *quick_size)
        cli_fine = cli_seconds(cli_folder, "--fine-tune", "--epochs", str(args.fine_tune_epochs), *fine_size)
        _, _, latency = window_run(app, window, 20, args.fine_tune_size, None, stop_after="fine-tune")
        runs = [window.train_view.runs.model.run(r) for r in range(window.train_view.runs.model.rowCount())]
        print(f"runs in the window: {', '.join(f'{r.title} {r.status}' for r in reversed(runs))}")
        print(f"quick run:       window {quick:6.1f} s   CLI {cli_quick:6.1f} s   (estimated before start: "
              f"{quick_estimate or 0:.0f} s)")
        print(f"fine-tuning run: window {fine:6.1f} s   CLI {cli_fine:6.1f} s   (estimated before start: "
              f"{fine_estimate or 0:.0f} s)")
        ratio = (quick + fine) / (cli_quick + cli_fine)
        print(f"event-loop stalls, idle window: {describe(idle)}")
        ordered = sorted(during)
        p99 = ordered[int(len(ordered) * 0.99) - 1] if ordered else 0.0
        print(f"event-loop stalls during training: max {max(ordered, default=0):.0f} ms, p99 {p99:.0f} ms, "
              f"over 100 ms: {sum(s > 100 for s in ordered)}")
        print(f"  the longest: {meter.worst(during)}")
        if args.where:
            print("  where the GUI thread was while stalled:\n" + meter.culprits())
        print(f"window/CLI time ratio: {ratio:.2f}   (goal under 1.1)")
        print(f"Stop pressed during fine-tuning -> run ended: {latency * 1000:.0f} ms   (goal under 2,000 ms)"
              if latency is not None else "Stop: the run ended before it could be stopped")
        window.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long until the window is on screen? Goal: under 2 s.

Each case runs in a fresh interpreter (imports are most of the cost) and prints the seconds from starting
the process to the window's first paint: the main window empty, the main window opening a project of
--images images (its store already made, so a rescan starts in the background), and the classify window with a
model to read. The baseline, in the same run, is a bare QMainWindow in the same kind of fresh interpreter.

    .venv/bin/python benchmarks/bench_window_open.py [--images 2000] [--repeat 3]
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

ROOT = Path(__file__).resolve().parent.parent

SHOW = """
import sys, time
from PySide6.QtCore import QObject, QEvent, QTimer
from PySide6.QtWidgets import QApplication
{make}
class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and obj is window:
            print(f"{{time.time():.4f}}")
            QTimer.singleShot(0, lambda: (window.close(), QApplication.instance().quit()))
            obj.removeEventFilter(self)
        return False
painted = FirstPaint()
window.installEventFilter(painted)
QApplication.instance().exec()
"""
CASES = {
    "bare QMainWindow (baseline)": "from PySide6.QtWidgets import QMainWindow\napp = QApplication([])\n"
                                   "window = QMainWindow(); window.resize(1280, 800); window.show()",
    "main window, no folder": "import argparse\nfrom desktop.app import create_window\n"
                              "window = create_window(argparse.Namespace(folder=None))",
    "main window, opening a project": "import argparse\nfrom desktop.app import create_window\n"
                                      "window = create_window(argparse.Namespace(folder=sys.argv[1]))",
    "classify window, reading a model": "from pathlib import Path\napp = QApplication([])\n"
                                        "from desktop.classify.window import ClassifyWindow\n"
                                        "window = ClassifyWindow(Path(sys.argv[1]), model=sys.argv[1])\n"
                                        "window.show()",
}


def make_project(folder: Path, count: int) -> None:
    from PIL import Image

    from core.importing.scanning import import_folder
    from core.project import Project

    for i in range(count):
        (folder / f"c{i % 4}").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (i % 256, 80, 160)).save(folder / f"c{i % 4}" / f"{i:05d}.png")
    with Project.open(folder) as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose window is timed (to compare two)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="dovecote-bench-open-"))
    try:
        folder = work / "photos"
        make_project(folder, args.images)
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   PYTHONPATH=args.code, XDG_CONFIG_HOME=str(work / "config"), DOVECOTE_LOG_DIR=str(work / "log"))
        print(f"{args.code}: seconds from starting the process to the first paint, best of {args.repeat}")
        best = {}
        for name, make in CASES.items():
            code = SHOW.format(make=make)
            times = []
            for _ in range(args.repeat):
                started = time.time()  # the child prints the wall-clock time of its first paint
                out = subprocess.run([sys.executable, "-c", code, str(folder)], env=env, capture_output=True,
                                     text=True, timeout=120, cwd=work)
                if out.returncode != 0 or not out.stdout.strip():
                    print(f"{name}: failed\n{out.stderr[-2000:]}")
                    return 1
                times.append(float(out.stdout.strip().splitlines()[-1]) - started)
            best[name] = min(times)
        base = best["bare QMainWindow (baseline)"]
        for name, seconds in best.items():
            verdict = "" if name.startswith("bare") else f"   (goal < 2 s: {'met' if seconds < 2 else 'NOT met'})"
            print(f"  {name:34s} {seconds:5.2f} s   {seconds / base:4.1f}x baseline{verdict}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

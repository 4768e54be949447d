"""Runs a built Dovecote the way a user would, on small generated images; exits 1 if any step fails.

    python packaging/smoke_test.py dist/dovecote/dovecote          (Linux; dovecote.exe on Windows,
                                                                   Dovecote.app/Contents/MacOS/dovecote)
Steps: --help; import + status --json; train with the default backbone; classify a new folder (every
image must land in its colour's class); `gui FOLDER` (offscreen where there is no screen), which must
import the folder in its child process and stay up, then is ended. Needs only Pillow besides Python."""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (215, 45, 35), "blue": (35, 70, 215)}
STEP_TIMEOUT_S = 900  # training on a slow shared machine, ONNX export included
GUI_IMPORT_TIMEOUT_S = 180
GUI_UP_AFTER_S = 1.0


class StepFailed(Exception):
    pass


def colour_images(folder: Path, per_class: int, subfolders: bool) -> Path:
    """Images of two clearly different colours, with a white square that moves from image to image."""
    for name, (r, g, b) in COLOURS.items():
        target = folder / name if subfolders else folder
        target.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = Image.new("RGB", (64, 48), (r, min(255, g + 7 * i), b))
            x = 2 + i * 50 // max(1, per_class - 1)
            ImageDraw.Draw(image).rectangle((x, 1, x + 10, 12), fill=(255, 255, 255))
            image.save(target / f"{name}-{i}.png")
    return folder


class Smoke:
    def __init__(self, app: Path, work: Path):
        self.app = app
        self.work = work
        self.env = dict(os.environ, DOVECOTE_CACHE_DIR=str(work / "cache"))  # a fresh ONNX export, too
        if sys.platform != "win32":  # keep the window's settings away from the user's
            for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
                self.env[name] = str(work / "home" / name.lower())
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            self.env.setdefault("QT_QPA_PLATFORM", "offscreen")

    def run(self, *args: str) -> str:
        done = subprocess.run([str(self.app), *args], env=self.env, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT_S)
        if done.returncode != 0:
            raise StepFailed(f"`dovecote {' '.join(args)}` exited with {done.returncode}:\n{done.stderr[-3000:]}")
        return done.stdout

    def json(self, *args: str):
        return json.loads(self.run(*args))

    # ---- the steps

    def help(self) -> str:
        text = self.run("--help")
        missing = [c for c in ("gui", "import", "train", "classify") if c not in text]
        if missing:
            raise StepFailed(f"--help does not list {missing}")
        return "lists the commands"

    def import_and_status(self) -> str:
        project = colour_images(self.work / "project", per_class=6, subfolders=True)
        self.run("import", str(project), "--labels-from-subfolders", "--json")
        status = self.json("status", str(project), "--json")
        if status["classes"] != {"blue": 6, "red": 6} or status["labelled"] != 12:
            raise StepFailed(f"status after import: {status}")
        return f"{status['images']} images, classes {status['classes']}"

    def train(self) -> str:
        run = self.json("train", str(self.work / "project"), "--json", "--seed", "0", "--device", "cpu")
        if run["status"] != "finished" or run["backbone"] != "efficientnet_lite0" or not Path(run["model_file"]).is_file():
            raise StepFailed(f"training run: {run}")
        return f"run {run['id']} {run['backbone']} val_acc {run['val_acc']} in {run['duration_s']:.1f} s"

    def classify(self) -> str:
        new = colour_images(self.work / "new", per_class=3, subfolders=True)
        summary = self.json("classify", str(new), "--model", str(self.work / "project"), "--json")
        with open(summary["output"], newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        wrong = [r["path"] for r in rows if r["predicted"] != Path(r["path"]).parts[0]]
        if len(rows) != 6 or wrong:
            raise StepFailed(f"classify wrote {len(rows)} rows, wrong: {wrong}")
        return f"{len(rows)} images, all in their class ({summary['device']})"

    def gui(self) -> str:
        folder = colour_images(self.work / "gui", per_class=2, subfolders=False)
        window = subprocess.Popen([str(self.app), "gui", str(folder)], env=self.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + GUI_IMPORT_TIMEOUT_S
            images = 0
            while images < 4:  # the window imports the folder in a child process of the frozen program
                if window.poll() is not None:
                    raise StepFailed(f"the window closed with {window.returncode}:\n{window.stdout.read()[-3000:]}")
                if time.monotonic() > deadline:
                    raise StepFailed(f"the window did not import {folder} within {GUI_IMPORT_TIMEOUT_S} s")
                time.sleep(0.5)  # polling another process's store: there is nothing to wait on
                if (folder / ".dovecote").is_dir():
                    images = self.json("status", str(folder), "--json")["images"]
            time.sleep(GUI_UP_AFTER_S)
            if window.poll() is not None:
                raise StepFailed(f"the window closed with {window.returncode} after the import")
            return f"window up, imported {images} images"
        finally:
            if window.poll() is None:
                window.terminate()
            window.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", type=Path, help="the built dovecote program")
    args = parser.parse_args(argv)
    if not args.app.is_file():
        parser.error(f"{args.app} is not a file")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="dovecote-smoke-") as work:
        smoke = Smoke(args.app.resolve(), Path(work))
        steps = [("help", smoke.help), ("import+status", smoke.import_and_status), ("train", smoke.train),
                 ("classify", smoke.classify), ("gui", smoke.gui)]
        for name, step in steps:
            started = time.monotonic()
            try:
                detail = step()
            except (StepFailed, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError, OSError) as error:
                failures += 1
                print(f"FAIL {name} ({time.monotonic() - started:.1f} s): {error}", flush=True)
            else:
                print(f"ok   {name} ({time.monotonic() - started:.1f} s): {detail}", flush=True)
    print("smoke test passed" if not failures else f"smoke test FAILED: {failures} step(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

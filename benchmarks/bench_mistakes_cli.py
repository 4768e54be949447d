"""Suspected mistakes found the way the owner measures them: a folder of real images with a share of them filed
under a wrong class on purpose, then `dovecote import --labels-from-subfolders`, `dovecote train` (the
default quick run) and `dovecote evaluate --json`, each a new process as a user runs them. Prints, per draw of
misfiled images, recall@k (the share of the misfiled among the first k suspects, k = the number misfiled) and
the list's precision (in all, and over its first L entries, L = the length of the baseline's list); and the
baseline in the same run, on the same stored out-of-fold probabilities:
confident learning's prune-by-noise-rate list (benchmarks/bench_label_errors.py; Dovecote's until December 2026).

The images: the 2,800 grey animal silhouettes of benchmarks/finetune_data.py's `animals-mixed` (30 % of them
jittered), which puts the out-of-fold predictions near 0.83 of the given labels, the regime of the owner's
set A (10 classes, quick head 0.889). Needs `pip install --no-deps animal-mnist` (its wheel holds the images).

    python benchmarks/bench_mistakes_cli.py [--draws 3] [--share 0.05] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from bench_label_errors import prune_by_noise_rate, report, scores  # noqa: E402
from core.evaluation.run_evaluation import load_evaluation  # noqa: E402
from core.models.backbones import cache_dir  # noqa: E402
from core.project import Project  # noqa: E402
from finetune_data import finetune_data  # noqa: E402


def by_class(root: Path) -> dict[str, list[Path]]:
    images: dict[str, list[Path]] = {}
    for path in sorted(root.glob("*/*/*.png")):  # <split>/<class>/<image>
        images.setdefault(path.parent.name, []).append(path)
    return images


def make_folder(folder: Path, images: dict[str, list[Path]], share_misfiled: float, seed: int) -> set[str]:
    """The folder of class subfolders; returns the relative paths of the misfiled images."""
    rng = random.Random(seed)
    classes = sorted(images)
    misfiled = set()
    for name in classes:
        for number, source in enumerate(images[name]):
            filed = name
            if rng.random() < share_misfiled:
                filed = rng.choice([other for other in classes if other != name])
                misfiled.add(f"{filed}/{name}-{number:04d}.png")
            target = folder / filed / f"{name}-{number:04d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return misfiled


def dovecote(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        sys.exit(f"dovecote {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.05, help="of the images filed under a wrong class")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    cache = cache_dir() / "bench-accuracy"
    images = by_class(finetune_data(cache / "animals-mixed", "animals-mixed")[0])
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="dovecote-mistakes-"))
    rows = {"dovecote evaluate --json": [], "baseline: prune by noise rate": []}
    for draw in range(1, args.draws + 1):
        folder = workdir / f"draw-{draw}"
        shutil.rmtree(folder, ignore_errors=True)
        truth = make_folder(folder, images, args.share, seed=draw)
        started = time.perf_counter()
        dovecote("import", str(folder), "--labels-from-subfolders")
        dovecote("train", str(folder))
        evaluation = json.loads(dovecote("evaluate", str(folder), "--json"))
        seconds = time.perf_counter() - started
        with Project.open(folder) as project:
            stored = load_evaluation(project, evaluation["run"])
        paths = [stored.paths[i] for i in stored.image_ids]
        baseline = [paths[i] for i in prune_by_noise_rate(stored.labels, stored.proba)]
        listed = [s["path"] for s in evaluation["suspected_errors"]]
        rows["dovecote evaluate --json"].append(scores(listed, truth, len(baseline)))
        rows["baseline: prune by noise rate"].append(scores(baseline, truth, len(baseline)))
        print(f"draw {draw}: {evaluation['images']} images, {len(truth)} misfiled; import + train + evaluate "
              f"{seconds:.0f} s; out-of-fold predictions match {evaluation['metrics']['accuracy']:.3f} of the given "
              f"labels", flush=True)
        for name, found in rows.items():
            report(name, found[-1:])
    print(f"mean over {args.draws} draws (precision@L: over the first entries, as many as the baseline lists):")
    for name, found in rows.items():
        report(name, found)
    at_k = [f[1] for f in rows["dovecote evaluate --json"]]
    base = [f[1] for f in rows["baseline: prune by noise rate"]]
    print(f"ratio of recall@k to the baseline's: {np.mean(at_k) / np.mean(base):.2f}   goal recall@k >= 0.80 -> "
          f"{'met' if np.mean(at_k) >= 0.80 else 'not met'}")

if __name__ == "__main__":
    main()

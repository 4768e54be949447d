"""What does classifying on a Dask cluster cost on one machine, where its overhead is all that can show?

The folder: --images JPEGs (default 2,000) of 640x480, cut from scikit-learn's two sample photos, a different
crop each. The model: the default backbone with a random head (speed does not depend on what it learned).
Timed in the same run, the model loaded beforehand in each case (the worker processes' first chunk still
loads theirs, inside the timing, as a real run would):
- single process: core.classify.inference.classify_folder;
- a local cluster of 1 worker process, and of 2, threads per worker set so that the total equals the cores:
  core.classify.cluster.classify_on_cluster.
Prints images/s of each, the ratios to single process (goal: >= 0.9x), and the time to the first result.

    .venv/bin/python benchmarks/bench_cluster.py [--images 2000] [--chunk-files 64]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZE = (640, 480)


def make_folder(root: Path, count: int) -> None:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(p) for p in load_sample_images().images]
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        dx, dy = (i * 7) % 60, (i * 5) % 45
        photo.crop((dx, dy, w - 60 + dx, h - 45 + dy)).resize(SIZE).save(root / f"IMG_{i:05d}.jpg", quality=90)


def timed(events) -> tuple[float, float, int]:
    """(images/s over the classifying phase, seconds from the call to the first row, rows)."""
    from core.classify.inference import ClassifyFinished
    from core.events import Progress

    called, first = time.perf_counter(), None
    for event in events:
        if first is None and isinstance(event, Progress) and event.phase == "Classifying" and event.done:
            first = time.perf_counter() - called
        if isinstance(event, ClassifyFinished):
            return event.summary.images_per_s, first, event.summary.classified
    raise RuntimeError("the run did not finish")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--chunk-files", type=int, default=64)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from bench_classify import random_bundle
    from core.classify.cluster import classify_on_cluster
    from core.classify.inference import ClassifyRequest, classify_folder
    from core.features.predictor import Predictor
    from core.images.decode_ahead import cpu_threads

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        print(f"Writing {args.images} JPEGs of {SIZE[0]}x{SIZE[1]}...", flush=True)
        make_folder(folder, args.images)
        bundle = random_bundle()
        predictor = Predictor(bundle, "cpu")  # the one-off ONNX export, outside the timings
        print(f"{cpu_threads()} CPU core(s); chunks of {args.chunk_files} files")

        def request():
            return ClassifyRequest(folder, output=Path(tmp) / "out.csv", overwrite=True, device="cpu")

        results = {"single process": timed(classify_folder(request(), bundle, predictor))}
        for workers in (1, 2):
            started = time.perf_counter()
            events = classify_on_cluster(request(), f"local:{workers}", bundle, chunk_files=args.chunk_files)
            rate, first, rows = timed(events)
            results[f"local cluster, {workers} worker(s)"] = (rate, first, rows)
            print(f"  (local:{workers} start-up, run and shut-down: {time.perf_counter() - started:.1f} s)")

    base = results["single process"][0]
    for name, (rate, first, rows) in results.items():
        print(f"{name:<28} {rate:7.1f} images/s  {rate / base:5.2f}x  first result after {first:5.1f} s  ({rows} rows)")
    worst = min(rate for rate, _, _ in results.values()) / base
    print(f"worst cluster ratio {worst:.2f}x (goal >= 0.9x: {'met' if worst >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()

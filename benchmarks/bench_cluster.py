"""What does classifying on a Dask cluster cost on one machine, where its overhead is all that can show?

The folder: --images JPEGs (default 2,000) of 640x480, cut from scikit-learn's two sample photos, a different
crop each. The model: the default backbone with a random head (speed does not depend on what it learned); its
one-off ONNX export is made beforehand. Each run is timed from the call to the complete CSV, as a user waits
for it: the single process loads its model inside the timing, a cluster run also starts its cluster (worker
processes, their imports, their model) inside it.
- single process: core.classify.inference.classify_folder;
- a local cluster of 1 worker process, and of 2, threads per worker set so that the total equals the cores:
  core.classify.cluster.classify_on_cluster.
The three run back to back, --rounds times (default 2), so that a busy machine shows as a spread. Prints
images/s of each (end to end, and over the classifying phase alone), the ratios to the single process of the
same round (goal: >= 0.9x end to end), the time to the first result, and the cluster's shut-down; and the CPU
time per image of all the run's processes (this one and the workers, start-up and shut-down included), which
a machine shared with other work disturbs much less than the wall clock.

    .venv/bin/python benchmarks/bench_cluster.py [--images 2000] [--rounds 2] [--chunk-files 64]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
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


def timed(events) -> tuple[float, float, float, int]:
    """(images/s from the call to the complete CSV, images/s over the classifying phase, seconds from the call
    to the first row, rows)."""
    from core.classify.inference import ClassifyFinished
    from core.events import Progress

    called, first = time.perf_counter(), None
    for event in events:
        if first is None and isinstance(event, Progress) and event.phase == "Classifying" and event.done:
            first = time.perf_counter() - called
        if isinstance(event, ClassifyFinished):
            rows = event.summary.classified
            return rows / (time.perf_counter() - called), event.summary.images_per_s, first, rows
    raise RuntimeError("the run did not finish")


class TreeCpu:
    """CPU seconds used by this process and its descendants (a local cluster's forkserver and workers) while
    open. Descendants are sampled every 0.1 s (the workers are not this process's children, so getrusage
    cannot see them), what ran before is left out; a worker's last 0.1 s before it ends may be missed."""

    def __enter__(self):
        import psutil  # there with Dask

        self._me = psutil.Process()
        self._start = {p.pid: _cpu(p) for p in self._me.children(recursive=True)}
        self._last: dict[int, float] = {}
        self._self_start = _cpu(self._me)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while True:
            for child in self._me.children(recursive=True):
                self._last[child.pid] = _cpu(child) or self._last.get(child.pid, 0.0)
            if self._stop.wait(0.1):
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.seconds = _cpu(self._me) - self._self_start + sum(
            used - self._start.get(pid, 0.0) for pid, used in self._last.items())


def _cpu(process) -> float:
    import psutil

    try:
        times = process.cpu_times()
    except psutil.Error:  # it ended
        return 0.0
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk-files", type=int, default=64)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from bench_classify import random_bundle
    from core.classify.cluster import classify_on_cluster
    from core.classify.inference import ClassifyRequest, classify_folder
    from core.features.predictor import Predictor
    from core.images.decode_ahead import cpu_threads

    ratios: dict[str, list[float]] = {}  # images/s, end to end, over the single process's
    cpu_ratios: dict[str, list[float]] = {}  # the single process's CPU per image over the run's
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        print(f"Writing {args.images} JPEGs of {SIZE[0]}x{SIZE[1]}...", flush=True)
        make_folder(folder, args.images)
        bundle = random_bundle()
        Predictor(bundle, "cpu")  # the one-off ONNX export, outside the timings
        print(f"{cpu_threads()} CPU core(s); chunks of up to {args.chunk_files} files")

        def request():
            return ClassifyRequest(folder, output=Path(tmp) / "out.csv", overwrite=True, device="cpu")

        for round_ in range(1, args.rounds + 1):
            print(f"Round {round_}:", flush=True)
            with TreeCpu() as cpu:
                results = {"single process": timed(classify_folder(request(), bundle))}
            cpu_ms = {"single process": 1000 * cpu.seconds / args.images}
            for workers in (1, 2):
                name = f"local cluster, {workers} worker(s)"
                with TreeCpu() as cpu:
                    events = classify_on_cluster(request(), f"local:{workers}", bundle, chunk_files=args.chunk_files)
                    results[name] = timed(events)
                    closing = time.perf_counter()
                    events.close()  # the cluster's shut-down: after the CSV is complete, before the command returns
                    print(f"  (local:{workers} shut-down {time.perf_counter() - closing:.1f} s)")
                cpu_ms[name] = 1000 * cpu.seconds / args.images
            base = results["single process"][0]
            for name, (rate, phase, first, rows) in results.items():
                ratios.setdefault(name, []).append(rate / base)
                cpu_ratios.setdefault(name, []).append(cpu_ms["single process"] / cpu_ms[name])
                print(f"  {name:<28} {rate:6.1f} images/s  {rate / base:5.2f}x  (classifying phase {phase:6.1f}/s)  "
                      f"first result after {first:4.1f} s  CPU {cpu_ms[name]:5.1f} ms/image  ({rows} rows)",
                      flush=True)

    print("Ratios to the single process, end to end (each round), and in CPU time per image:")
    for name, values in ratios.items():
        if name != "single process":
            cpu = cpu_ratios[name]
            print(f"  {name:<28} {' '.join(f'{v:.2f}x' for v in values)}  mean {sum(values) / len(values):.2f}x"
                  f"   CPU {' '.join(f'{v:.2f}x' for v in cpu)}  mean {sum(cpu) / len(cpu):.2f}x")
    worst = min(sum(values) / len(values) for name, values in ratios.items() if name != "single process")
    print(f"worst cluster ratio {worst:.2f}x (goal >= 0.9x: {'met' if worst >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()

"""How fast does `dovecote classify` go through a folder of 12-megapixel photos on the CPU?

The folder: scikit-learn's two sample photos (a temple, a flower) resized to 4032x3024 JPEGs, cropped and
flipped differently for each file. The model: the default backbone (EfficientNet-Lite0, offline weights)
with a head of random weights (speed does not depend on what the head learned).

Both are timed in the same run, model loading excluded, best of --repeat passes each (the machine may be
shared; the best pass is the least disturbed):
- dovecote: core.classify.inference.classify_folder (JPEG draft decoding in threads, ONNX Runtime, CSV written);
- baseline: the naive way, each photo fully decoded with Pillow, resized, then batches through torch eager.
Goal: dovecote >= 5x the baseline, and >= 20 images/s.

    .venv/bin/python benchmarks/bench_classify.py [--images 48] [--batch-size 32] [--repeat 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZE = (4032, 3024)


def make_folder(root: Path, count: int) -> list[Path]:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(p) for p in load_sample_images().images]
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        dx, dy = (i * 7) % 40, (i * 5) % 30
        cropped = photo.crop((dx, dy, w - 40 + dx, h - 30 + dy)).resize(SIZE, Image.Resampling.BICUBIC)
        if i % 4 >= 2:
            cropped = cropped.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        noise = np.random.default_rng(i).integers(0, 8, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
        image = Image.fromarray(np.asarray(cropped) | noise)  # camera-like grain: realistic JPEG sizes
        path = root / f"IMG_{i:04d}.jpg"
        image.save(path, quality=92)
        paths.append(path)
    return paths


def random_bundle(n_classes: int = 5):
    import numpy as np

    from core.models.backbones import DEFAULT_BACKBONE, get_backbone
    from core.models.bundles import ModelBundle
    from core.models.heads import HeadModel

    spec = get_backbone(DEFAULT_BACKBONE)
    rng = np.random.default_rng(0)
    head = HeadModel({
        "fc1.weight": rng.normal(0, 0.05, (256, spec.feature_dim)).astype(np.float32),
        "fc1.bias": np.zeros(256, np.float32),
        "fc2.weight": rng.normal(0, 0.1, (n_classes, 256)).astype(np.float32),
        "fc2.bias": np.zeros(n_classes, np.float32),
    })
    return ModelBundle([f"class {i}" for i in range(n_classes)], spec.name, spec.preprocessing, head)


def dovecote(folder: Path, bundle, batch_size: int) -> tuple[float, dict[str, list[float]]]:
    import csv

    from core.classify.inference import ClassifyFinished, ClassifyRequest, classify_folder

    output = folder.parent / "predictions.csv"
    request = ClassifyRequest(folder, output=output, overwrite=True, batch_size=batch_size, device="cpu")
    summary = next(e for e in classify_folder(request, bundle) if isinstance(e, ClassifyFinished)).summary
    with open(output, newline="") as handle:
        probs = {row["path"]: [float(row[c]) for c in bundle.classes] for row in csv.DictReader(handle)}
    return summary.images_per_s, probs


def baseline(paths: list[Path], bundle, batch_size: int) -> tuple[float, dict[str, list[float]]]:
    import numpy as np
    import torch
    from PIL import Image

    prep = bundle.preprocessing
    model = bundle.classifier(probabilities=True)  # backbone + head + softmax, torch eager
    mean = np.array(prep.mean, np.float32)
    std = np.array(prep.std, np.float32)

    def load(path: Path) -> np.ndarray:
        image = Image.open(path).convert("RGB")  # full 12-megapixel decode
        w, h = image.size
        scale = prep.resize / min(w, h)
        image = image.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
        w, h = image.size
        left, top = (w - prep.input_size) // 2, (h - prep.input_size) // 2
        image = image.crop((left, top, left + prep.input_size, top + prep.input_size))
        return ((np.asarray(image, np.float32) / 255 - mean) / std).transpose(2, 0, 1)

    probs = {}
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(paths), batch_size):
            chunk = paths[i : i + batch_size]
            batch = torch.from_numpy(np.stack([load(p) for p in chunk]))
            for path, row in zip(chunk, model(batch).numpy()):
                probs[path.name] = row.tolist()
    return len(paths) / (time.perf_counter() - start), probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch

    from core.features.predictor import Predictor
    from core.images.decode_ahead import cpu_threads

    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        print(f"Writing {args.images} JPEGs of {SIZE[0]}x{SIZE[1]}...", flush=True)
        paths = make_folder(folder, args.images)
        megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        bundle = random_bundle()
        Predictor(bundle, "cpu")  # the one-off ONNX export, outside the timings
        print(f"{cpu_threads()} CPU core(s), torch {torch.__version__} with {torch.get_num_threads()} threads; "
              f"{megabytes:.1f} MB per photo")

        fast_runs, slow_runs = [], []
        for _ in range(args.repeat):
            fast_runs.append(dovecote(folder, bundle, args.batch_size))
            slow_runs.append(baseline(paths, bundle, args.batch_size))
        fast, fast_probs = max(fast_runs, key=lambda run: run[0])
        slow, slow_probs = max(slow_runs, key=lambda run: run[0])
        same = np.mean([np.argmax(fast_probs[k]) == np.argmax(slow_probs[k]) for k in slow_probs])
        drift = max(np.max(np.abs(np.subtract(fast_probs[k], slow_probs[k]))) for k in slow_probs)

    ratio = fast / slow
    print(f"baseline (full decode + torch eager): {slow:6.2f} images/s  (passes: "
          f"{', '.join(f'{r[0]:.2f}' for r in slow_runs)})")
    print(f"dovecote classify:                    {fast:6.2f} images/s  (passes: "
          f"{', '.join(f'{r[0]:.2f}' for r in fast_runs)})")
    print(f"speed-up: {ratio:.1f}x (goal >= 5x: {'met' if ratio >= 5 else 'NOT met'}); "
          f"{fast:.1f} images/s (goal >= 20: {'met' if fast >= 20 else 'NOT met'})")
    print(f"same top class as the baseline for {same:.0%} of the photos, largest probability difference {drift:.3f}: "
          "draft decoding resamples differently, and a random head has near ties")


if __name__ == "__main__":
    main()

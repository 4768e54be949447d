"""How fast does `dovecote classify` go through a folder of 12-megapixel photos on the CPU?

The folder: scikit-learn's two sample photos (a temple, a flower) resized to 4032x3024 JPEGs, cropped and
flipped differently for each file. The model: the default backbone (EfficientNet-Lite0, offline weights)
with a head of random weights (speed does not depend on what the head learned).

Both are timed in the same run, model loading excluded, best of --repeat passes each (the machine may be
shared; the best pass is the least disturbed):
- dovecote: core.classify.inference.classify_folder (JPEG draft decoding in threads, ONNX Runtime, CSV written);
- baseline: the naive way, each photo fully decoded with Pillow, resized, then batches through torch eager.
Goal: dovecote >= 5x the baseline, and >= 20 images/s.

Then the int8 path (issue 15, item 8), on a model trained as a user would: sklearn's digits (--digits per
class, upscaled to 64x64 PNGs) imported and trained with the defaults, which end with the int8 check:
- the check's agreement (top-1, int8 against fp32, over the labelled images) and what the check cost;
- the network alone, fp32 against int8, on preprocessed batches (goal: int8 >= 1.5x);
- end to end, `dovecote classify` in fp32 and in int8, on the 12 MP JPEGs (decoding bounds the gain) and on
  small images (--small 320x240 JPEGs);
- with --compare-formats, each quantization setting (QOperator or QDQ, per-channel or per-tensor weights):
  its network's images/s and its agreement on the digits, to choose the default.

    .venv/bin/python benchmarks/bench_classify.py [--images 48] [--batch-size 32] [--repeat 2] [--digits 30]
        [--small 160] [--compare-formats] [--skip-baseline]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZE = (4032, 3024)


def make_folder(root: Path, count: int, size: tuple[int, int] = SIZE) -> list[Path]:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [Image.fromarray(p) for p in load_sample_images().images]
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        dx, dy = (i * 7) % 40, (i * 5) % 30
        cropped = photo.crop((dx, dy, w - 40 + dx, h - 30 + dy)).resize(size, Image.Resampling.BICUBIC)
        if i % 4 >= 2:
            cropped = cropped.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        noise = np.random.default_rng(i).integers(0, 8, (size[1], size[0], 3), dtype=np.uint8)
        image = Image.fromarray(np.asarray(cropped) | noise)  # camera-like grain: realistic JPEG sizes
        path = root / f"IMG_{i:04d}.jpg"
        image.save(path, quality=92)
        paths.append(path)
    return paths


def random_bundle(n_classes: int = 5, backbone: str | None = None):
    import numpy as np

    from core.models.backbones import DEFAULT_BACKBONE, get_backbone
    from core.models.bundles import ModelBundle
    from core.models.heads import HeadModel

    spec = get_backbone(backbone or DEFAULT_BACKBONE)
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


def digits_project(root: Path, per_class: int):
    """sklearn's digits, `per_class` of each, as 64x64 PNG class folders, imported and trained (defaults:
    quick training, then the int8 check). Returns (folder, run id, the check's event, its seconds)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    from core.importing.scanning import import_folder
    from core.project import Project
    from core.training.int8_check import Int8Checked
    from core.training.plan import INT8, PhaseStarted
    from core.training.runner import TrainConfig, train

    data = load_digits()
    seen: dict[int, int] = {}
    for i, (pixels, label) in enumerate(zip(data.images, data.target)):
        if seen.get(label, 0) >= per_class:
            continue
        seen[label] = seen.get(label, 0) + 1
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray((255 - pixels * 16).clip(0, 255).astype(np.uint8)).resize((64, 64), Image.BICUBIC)
        image.convert("RGB").save(folder / f"{i}.png")
    with Project.open(root) as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass
        checked, started = None, None
        for event in train(project, TrainConfig(device="cpu")):
            if isinstance(event, PhaseStarted) and event.key == INT8:
                started = time.perf_counter()
            if isinstance(event, Int8Checked):
                checked = event
                seconds = time.perf_counter() - started
    return root, checked.run_id, checked, seconds


def network_rates(embedders: dict, batch, repeat: int) -> dict[str, float]:
    """Images/s of each embedder on the same batch, interleaved, best of `repeat` (a shared machine)."""
    rates = {name: 0.0 for name in embedders}
    for embedder in embedders.values():
        embedder.embed(batch)  # warm-up: first-run allocations
    for _ in range(repeat):
        for name, embedder in embedders.items():
            start = time.perf_counter()
            embedder.embed(batch)
            rates[name] = max(rates[name], len(batch) / (time.perf_counter() - start))
    return rates


def classify_rate(folder: Path, model: Path, precision: str, batch_size: int) -> float:
    from core.classify.inference import ClassifyFinished, ClassifyRequest, classify_folder

    request = ClassifyRequest(folder, model=model, output=folder.parent / f"{folder.name}-{precision}.csv",
                              overwrite=True, batch_size=batch_size, device="cpu", precision=precision)
    return next(e for e in classify_folder(request) if isinstance(e, ClassifyFinished)).summary.images_per_s


def small_folder(root: Path, count: int) -> Path:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    root.mkdir()
    photos = [Image.fromarray(p) for p in load_sample_images().images]
    for i in range(count):
        photo = photos[i % 2].resize((320, 240)).rotate(i % 7, expand=False)
        photo.save(root / f"small_{i:04d}.jpg", quality=90)
    return root


def int8_part(tmp: Path, photos: Path, args) -> None:
    import numpy as np

    from core.features.embedder import Embedder
    from core.models.bundles import load_model
    from core.models.preprocessing import load_preprocessed

    started = time.perf_counter()
    project, run_id, checked, check_s = digits_project(tmp / "digits", args.digits)
    print(f"\nint8: digits project ({10 * args.digits} labelled images) trained with the defaults in "
          f"{time.perf_counter() - started:.1f} s, of which the int8 check {check_s:.1f} s")
    print(f"int8 check: {checked.note}; {'passed' if checked.passed else 'NOT passed'}")
    bundle = load_model(project, run_id)
    if bundle.int8_network is None:
        print("(no int8 network stored: the speed figures below are not measured)")
        return
    spec = bundle.spec
    images = sorted(photos.iterdir())[: args.batch_size]
    batch = np.stack([load_preprocessed(p, spec.preprocessing)[0] for p in images])
    embedders = {"fp32": Embedder(spec, "cpu"), "int8": Embedder(spec, "cpu", network=bundle.int8_network)}
    rates = network_rates(embedders, batch, max(3, args.repeat + 1))
    ratio = rates["int8"] / rates["fp32"]
    print(f"network alone ({len(batch)} images a batch at {spec.preprocessing.input_size} px): fp32 "
          f"{rates['fp32']:.1f}, int8 {rates['int8']:.1f} images/s: {ratio:.2f}x "
          f"(goal >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})")
    small = small_folder(tmp / "small", args.small)
    model = project / ".dovecote" / "models" / f"run-{run_id}.safetensors"
    for name, folder in (("12 MP JPEGs", photos), (f"320x240 JPEGs ({args.small})", small)):
        ends = {p: 0.0 for p in ("fp32", "int8")}
        for _ in range(args.repeat):
            for precision in ends:
                ends[precision] = max(ends[precision], classify_rate(folder, model, precision, args.batch_size))
        print(f"dovecote classify, {name}: fp32 {ends['fp32']:.1f}, int8 {ends['int8']:.1f} images/s: "
              f"{ends['int8'] / ends['fp32']:.2f}x")
    if args.compare_formats:
        compare_formats(project, bundle, batch, args)


def compare_formats(project: Path, bundle, batch, args) -> None:
    """Each quantization setting on the same calibration images (the check's own choice of them): its
    network's speed and its top-1 agreement with fp32 over the digits."""
    import numpy as np

    from core.features.embedder import Embedder
    from core.models import int8
    from core.models.onnx_export import ensure_onnx
    from core.models.preprocessing import load_preprocessed
    from core.project import Project
    from core.storage import catalog
    from core.training.int8_check import calibration_batches, calibration_set

    spec = bundle.spec
    with Project.open(project) as opened, opened.session() as session:
        images = catalog.labelled_images(session)
    arrays = np.stack([load_preprocessed(project / image.path, spec.preprocessing)[0] for image in images])
    reference = np.argmax(bundle.head.predict_proba(Embedder(spec, "cpu").embed(arrays)), 1)
    chosen = calibration_set(images, int8.CALIBRATION_IMAGES)
    embedders, agreement = {"fp32": Embedder(spec, "cpu")}, {}
    for fmt in ("QOperator", "QDQ"):
        for per_channel in (True, False):
            name = f"{fmt}, {'per-channel' if per_channel else 'per-tensor'}"
            out = project / f"{fmt}-{per_channel}.onnx"
            started = time.perf_counter()
            for _ in int8.quantize(ensure_onnx(spec, None), calibration_batches(project, chosen, spec.preprocessing), out,
                                   fmt, per_channel):
                pass
            embedders[name] = Embedder(spec, "cpu", network=str(out))
            predicted = np.argmax(bundle.head.predict_proba(embedders[name].embed(arrays)), 1)
            agreement[name] = float(np.mean(predicted == reference))
            print(f"  quantized {name} in {time.perf_counter() - started:.1f} s", flush=True)
    rates = network_rates(embedders, batch, max(3, args.repeat + 1))
    for name, rate in rates.items():
        extra = f", agreement {agreement[name]:.2%}" if name in agreement else ""
        print(f"  {name:<24} {rate:6.1f} images/s  {rate / rates['fp32']:.2f}x{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--digits", type=int, default=30, help="labelled digits per class for the int8 part")
    parser.add_argument("--small", type=int, default=160, help="small JPEGs for the int8 part's end-to-end figure")
    parser.add_argument("--compare-formats", action="store_true", help="also compare quantization settings")
    parser.add_argument("--skip-baseline", action="store_true", help="only the int8 part")
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

        if args.skip_baseline:
            int8_part(Path(tmp), folder, args)
            return
        fast_runs, slow_runs = [], []
        for _ in range(args.repeat):
            fast_runs.append(dovecote(folder, bundle, args.batch_size))
            slow_runs.append(baseline(paths, bundle, args.batch_size))
        fast, fast_probs = max(fast_runs, key=lambda run: run[0])
        slow, slow_probs = max(slow_runs, key=lambda run: run[0])
        same = np.mean([np.argmax(fast_probs[k]) == np.argmax(slow_probs[k]) for k in slow_probs])
        drift = max(np.max(np.abs(np.subtract(fast_probs[k], slow_probs[k]))) for k in slow_probs)
        report_baseline(fast, slow, fast_runs, slow_runs, same, drift)
        int8_part(Path(tmp), folder, args)


def report_baseline(fast, slow, fast_runs, slow_runs, same, drift) -> None:
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

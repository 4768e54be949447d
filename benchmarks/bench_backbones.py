"""What does a larger backbone cost on this CPU? Seconds per 1,000 images for each offline backbone
(EfficientNet-Lite0, the default, against Lite1 and Lite2), in the same run:
- embedding: core.features.cache.ensure_embeddings into a fresh store (what training and re-training wait
  for on new images);
- classify: core.classify.inference.classify_folder with a model of that backbone (a head of random weights:
  speed does not depend on what it learned), fp32, CSV written.
Each on two folders: 12-megapixel camera JPEGs (decoding weighs) and 640x480 JPEGs (the network weighs).
The ONNX export of each network is made first, outside the timings; best of --repeat passes (the least
disturbed). What the larger backbones gain in accuracy: benchmarks/bench_accuracy.py --backbones.

    .venv/bin/python benchmarks/bench_backbones.py [--images 64] [--repeat 2]
        [--backbones efficientnet_lite0,efficientnet_lite1,efficientnet_lite2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_classify import SIZE, dovecote, make_folder, random_bundle  # noqa: E402

FOLDERS = {"12 MP": SIZE, "640x480": (640, 480)}


def embedding_seconds(folder: Path, store: Path, spec, batch_size: int) -> float:
    from core.features.cache import EmbeddingsReady, ensure_embeddings
    from core.importing.scanning import content_hash
    from core.project import Project

    paths = sorted(folder.glob("*.jpg"))
    rows = [SimpleNamespace(id=i, path=p.name, content_hash=content_hash(p)) for i, p in enumerate(paths)]
    project = Project.open(folder, store=store)
    try:
        start = time.perf_counter()
        events = list(ensure_embeddings(project, rows, spec, "cpu", batch_size=batch_size))
        seconds = time.perf_counter() - start
    finally:
        project.close()
    ready = events[-1]
    assert isinstance(ready, EmbeddingsReady) and not ready.failed, "every image should embed"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="images per folder")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backbones", default="efficientnet_lite0,efficientnet_lite1,efficientnet_lite2",
                        help="comma-separated; the first is the baseline of the ratios")
    args = parser.parse_args()

    from core.models.backbones import get_backbone
    from core.models.onnx_export import ensure_onnx

    specs = [get_backbone(name) for name in args.backbones.split(",") if name]
    for spec in specs:
        ensure_onnx(spec)
    with tempfile.TemporaryDirectory(prefix="bench-backbones-") as tmp:
        folders = {}
        for title, size in FOLDERS.items():
            folders[title] = Path(tmp) / title.replace(" ", "")
            folders[title].mkdir()
            print(f"writing {args.images} JPEGs of {size[0]}x{size[1]}...", flush=True)
            make_folder(folders[title], args.images, size)
        per_1000 = 1000 / args.images
        for title, folder in folders.items():
            print(f"== {title}: seconds per 1,000 images (best of {args.repeat}); x = against {specs[0].name}")
            first = None
            for spec in specs:
                bundle = random_bundle(backbone=spec.name)
                embed = min(embedding_seconds(folder, Path(tmp) / f"store-{spec.name}-{t}", spec, args.batch_size)
                            for t in range(args.repeat)) * per_1000
                classify = min(1000 / dovecote(folder, bundle, args.batch_size)[0] for _ in range(args.repeat))
                first = first or (embed, classify)
                print(f"  {spec.name:<20} embedding {embed:6.1f} s ({embed / first[0]:.2f}x)   "
                      f"classify {classify:6.1f} s ({classify / first[1]:.2f}x)   input {spec.preprocessing.input_size} px",
                      flush=True)


if __name__ == "__main__":
    main()

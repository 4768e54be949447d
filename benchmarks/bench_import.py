"""Import speed: thumbnails of 12 MP JPEGs via the draft path vs a full decode, and the scan rate of a
10,000-file folder. Prints ratios measured in this run.

    .venv/bin/python benchmarks/bench_import.py
"""
from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from sklearn.datasets import load_sample_images

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.images.decode import thumbnail  # noqa: E402
from core.project import Project  # noqa: E402
from core.importing.scanning import ImportFinished, import_folder  # noqa: E402
from core.images.thumbnails import THUMB_SIZE  # noqa: E402

PHOTOS = 8
FILES = 10_000


def write_photos(folder: Path) -> list[Path]:
    paths = []
    for i in range(PHOTOS):
        sample = load_sample_images().images[i % 2]
        path = folder / f"photo_{i}.jpg"
        Image.fromarray(sample).resize((4032, 3024), Image.Resampling.BICUBIC).save(path, quality=92)
        paths.append(path)
    return paths


def full_decode_thumbnail(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.BILINEAR)
        return image


def per_image(fn, paths: list[Path]) -> float:
    fn(paths[0])  # warm up
    start = time.perf_counter()
    for path in paths:
        fn(path)
    return (time.perf_counter() - start) / len(paths)


def scan_rate(folder: Path) -> float:
    for i in range(FILES):
        sub = folder / f"batch{i // 1000}"
        sub.mkdir(exist_ok=True)
        Image.new("RGB", (16, 16), (i % 256, (i // 256) % 256, 90)).save(sub / f"{i}.png")
    with Project.open(folder) as project:
        start = time.perf_counter()
        summary = [e for e in import_folder(project) if isinstance(e, ImportFinished)][0].summary
        elapsed = time.perf_counter() - start
        rescan_start = time.perf_counter()
        list(import_folder(project))
        rescan = time.perf_counter() - rescan_start
    assert summary.added == FILES
    return elapsed, rescan


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_photos(Path(tmp))
        full = per_image(full_decode_thumbnail, paths)
        draft = per_image(lambda p: thumbnail(p, THUMB_SIZE), paths)
        print(f"thumbnail of a 4032x3024 JPEG: full decode {full * 1000:.0f} ms, draft {draft * 1000:.0f} ms "
              f"-> {full / draft:.1f}x faster (target >= 5x)")
    with tempfile.TemporaryDirectory() as tmp:
        elapsed, rescan = scan_rate(Path(tmp))
        print(f"import of {FILES} small files: {elapsed:.1f} s = {FILES / elapsed:.0f} files/s "
              f"(hash, check, thumbnail, store); rescan with nothing changed: {rescan:.2f} s "
              f"= {FILES / rescan:.0f} files/s")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this whole benchmark: {peak:.0f} MB (images are handled {64} at a time)")


if __name__ == "__main__":
    main()

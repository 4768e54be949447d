"""Accuracy on real images, through the code a user runs, beside baselines measured in the same run.

Data sets (real images that install with a package, nothing downloaded at run time):
  digits    scikit-learn's handwritten digits (8x8 scans, 10 classes); 75/25 split, seeded.
  faces     scikit-image's LFW subset: 25x25 photo crops, faces vs. not faces (2 classes); 50/50 split.
  textures  patches of 10 real grey photographs (scikit-image and scikit-learn samples: brick, grass,
            gravel, moon, cells, a temple, a flower, a cat, coffee, a retina), 64x64 from random places and
            scales; training patches come from the left 60% of each photo, test patches from the right 40%,
            so no test patch overlaps a training one. 200 training and 80 test patches per class.
Regimes: 10 and 30 labelled images per class (what a user sorts in a few minutes) and every training image
(1,347 digits, 2,000 textures).

For each regime: Dovecote's default `train` (train() with the CLI's defaults: the project's class folders,
its validation split, its out-of-fold evaluation), its test accuracy, macro F1, calibration error (ECE, 15
bins) and wall time; and the baselines: an SVC on the raw pixels (RBF, scaled), and the frozen network
with scikit-learn's logistic regression on the same cached embeddings (the "linear probe").

Images, projects and their embeddings are kept under --cache (default: the user cache folder), so a second
run computes no embedding and takes seconds per regime.

    python benchmarks/bench_accuracy.py --quick            # digits and faces at 10 per class, textures all
    python benchmarks/bench_accuracy.py --backbones efficientnet_lite0,efficientnet_lite2 --sets textures
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_training import run_training  # noqa: E402
from core.evaluation.calibration import calibration_error  # noqa: E402
from core.features.cache import ensure_embeddings, load_embeddings  # noqa: E402
from core.importing.scanning import import_folder  # noqa: E402
from core.models.backbones import DEFAULT_BACKBONE, cache_dir, get_backbone  # noqa: E402
from core.models.bundles import load_model  # noqa: E402
from core.project import Project  # noqa: E402
from core.storage import catalog, labels  # noqa: E402
from core.training.runner import TrainConfig  # noqa: E402

TEXTURE_SOURCES = ("brick", "grass", "gravel", "moon", "cell", "china", "flower", "chelsea", "coffee", "retina")
PATCH = 64


@dataclass(frozen=True)
class Pool:
    name: str
    train: list[tuple[np.ndarray, str]]  # (uint8 image, class name)
    test: list[tuple[np.ndarray, str]]
    regimes: tuple[int | None, ...]  # images per class; None: the whole training pool


def digits_pool() -> Pool:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = [np.clip(image * 16, 0, 255).astype(np.uint8) for image in digits.images]
    train, test = train_test_split(np.arange(len(images)), test_size=0.25, stratify=digits.target, random_state=0)
    pick = lambda ids: [(images[i], str(digits.target[i])) for i in ids]  # noqa: E731
    return Pool("digits", pick(train), pick(test), (10, 30, None))


def faces_pool() -> Pool:
    from skimage.data import lfw_subset

    faces = lfw_subset()  # the first 100 are faces, the next 100 are not
    rng = np.random.default_rng(0)
    train, test = [], []
    for start, name in ((0, "face"), (100, "not-face")):
        order = rng.permutation(100) + start
        for i, index in enumerate(order):
            (train if i < 50 else test).append(((faces[index] * 255).astype(np.uint8), name))
    return Pool("faces", train, test, (10, 30))


def _grey_photo(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return np.asarray(Image.fromarray(load_sample_image(f"{name}.jpg")).convert("L"))
    from skimage import data

    image = getattr(data, name)()
    return np.asarray(Image.fromarray(image).convert("L")) if image.ndim == 3 else image


def textures_pool(per_class: tuple[int, int] = (200, 80)) -> Pool:
    rng = np.random.default_rng(0)
    train, test = [], []
    for name in TEXTURE_SOURCES:
        photo = _grey_photo(name)
        height, width = photo.shape
        split = int(width * 0.6)
        for part, count, (left, right) in ((train, per_class[0], (0, split)), (test, per_class[1], (split, width))):
            for _ in range(count):
                side = int(rng.integers(48, min(128, right - left, height) + 1))
                x = int(rng.integers(left, right - side + 1))
                y = int(rng.integers(0, height - side + 1))
                patch = Image.fromarray(photo[y : y + side, x : x + side]).resize((PATCH, PATCH), Image.BILINEAR)
                part.append((np.asarray(patch), name))
    return Pool("textures", train, test, (10, 30, None))


POOLS = {"digits": digits_pool, "faces": faces_pool, "textures": textures_pool}


def write_folder(folder: Path, items: list[tuple[np.ndarray, str]]) -> Path:
    """Class subfolders of PNGs, written once (kept in the cache)."""
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        for index, (pixels, name) in enumerate(items):
            path = folder / name / f"{index:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
        (folder / ".complete").touch()
    return folder


def subset(items: list, per_class: int | None, seed: int = 0) -> list:
    if per_class is None:
        return items
    rng = np.random.default_rng(seed)
    chosen = []
    for name in sorted({name for _, name in items}):
        members = [i for i, (_, n) in enumerate(items) if n == name]
        chosen.extend(rng.permutation(members)[:per_class].tolist())
    return [items[i] for i in sorted(chosen)]


def imported(folder: Path) -> Project:
    project = Project.open(folder)
    for _ in import_folder(project, labels_from_subfolders=True):
        pass
    return project


def labelled_embeddings(project: Project, backbone: str, view: int = 0) -> tuple[np.ndarray, list[str]]:
    """The project's labelled images as (embeddings of one view, class names): computed once, then cached
    (views: core.models.preprocessing.VIEW_NAMES; 0 the plain image, 1 its mirror image)."""
    spec = get_backbone(backbone)
    with project.session() as session:
        images = catalog.labelled_images(session)
        names = {c.id: c.name for c in labels.list_classes(session)}
    ready = None
    for event in ensure_embeddings(project, images, spec, "cpu", views=(view,)):
        ready = event
    return (load_embeddings(project, [i.content_hash for i in images], ready.model_key, view),
            [names[i.class_id] for i in images])


def scores(truth: list[str], proba: np.ndarray, classes: list[str]) -> tuple[float, float, float]:
    from sklearn.metrics import f1_score

    y = np.array([classes.index(name) for name in truth])
    predicted = proba.argmax(1)
    return (float((predicted == y).mean()), float(f1_score(y, predicted, average="macro")),
            calibration_error(y, proba))


def raw_pixels(items) -> np.ndarray:
    side = 32
    return np.stack([np.asarray(Image.fromarray(p).resize((side, side), Image.BILINEAR), np.float32).ravel() / 255
                     for p, _ in items])


def svc_baseline(train_items, test_items) -> tuple[float, float, float, float]:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    started = time.perf_counter()
    classes = sorted({n for _, n in train_items})
    model = make_pipeline(StandardScaler(), SVC(random_state=0))
    model.fit(raw_pixels(train_items), [classes.index(n) for _, n in train_items])
    votes = np.eye(len(classes))[model.predict(raw_pixels(test_items))]  # an SVC gives no probabilities
    acc, f1, _ = scores([n for _, n in test_items], votes, classes)
    return acc, f1, None, time.perf_counter() - started


def probe_baseline(X, names, X_test, test_names) -> tuple[float, float, float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    classes = sorted(set(names))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(X, [classes.index(n) for n in names])
    return (*scores(test_names, model.predict_proba(X_test), classes), time.perf_counter() - started)


def row(label: str, acc: float, f1: float, ece: float | None, seconds: float, extra: str = "") -> None:
    shown = "  -  " if ece is None else f"{ece:.3f}"
    print(f"  {label:<40} acc {acc:.4f}  macro F1 {f1:.4f}  ECE {shown}  {seconds:7.2f} s  {extra}", flush=True)


def bench_pool(pool: Pool, cache: Path, backbones: list[str], regimes, views: tuple[int, ...] = (0,)) -> list[dict]:
    results = []
    test_folder = write_folder(cache / pool.name / "test", pool.test)
    test_project = imported(test_folder)
    for per_class in regimes:
        if per_class not in pool.regimes:
            continue
        items = subset(pool.train, per_class)
        regime = f"{per_class}/class" if per_class else "all"
        print(f"== {pool.name}, {regime}: {len(items)} training images, {len(pool.test)} test images", flush=True)
        folder = write_folder(cache / pool.name / f"train-{regime.replace('/', '-')}", items)
        acc, f1, ece, seconds = svc_baseline(items, pool.test)
        row("baseline: SVC on raw pixels", acc, f1, ece, seconds)
        results.append(dict(set=pool.name, regime=regime, method="svc-pixels", acc=acc))
        with imported(folder) as project:
            for backbone in backbones:
                started = time.perf_counter()
                X_test, test_names = labelled_embeddings(test_project, backbone)
                X, names = labelled_embeddings(project, backbone)
                embed_s = time.perf_counter() - started
                acc, f1, ece, seconds = probe_baseline(X, names, X_test, test_names)
                row(f"baseline: {backbone} + logistic", acc, f1, ece, seconds)
                results.append(dict(set=pool.name, regime=regime, method=f"probe-{backbone}", acc=acc))
                finished, model_s, total_s = run_training(project, TrainConfig(backbone=backbone, device="cpu",
                                                                                 views=views))
                bundle = load_model(finished.model_path)
                acc, f1, ece = scores(test_names, bundle.head.predict_proba(X_test), bundle.classes)
                calibration = finished.metrics.get("calibration") or {}
                uncalibrated = bundle.head.with_temperature(1 / calibration.get("temperature", 1.0))
                ece_before = scores(test_names, uncalibrated.predict_proba(X_test), bundle.classes)[2]
                row(f"dovecote train ({backbone}{', views ' + str(views) if views != (0,) else ''})", acc, f1, ece, total_s,
                    f"(test ECE {ece_before:.3f} before calibration, T {calibration.get('temperature', 1):.2f}; "
                    f"model saved at {model_s:.2f} s, phases {finished.metrics['phase_seconds']}; "
                    f"embeddings {embed_s:.1f} s, 0 when cached)")
                results.append(dict(set=pool.name, regime=regime, method=f"dovecote-{backbone}", acc=acc))
    test_project.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="digits,faces,textures", help="comma-separated: " + ", ".join(POOLS))
    parser.add_argument("--backbones", default=DEFAULT_BACKBONE, help="comma-separated backbone names")
    parser.add_argument("--regimes", default="10,30,all", help="images per class, comma-separated; all: every one")
    parser.add_argument("--quick", action="store_true", help="10 per class for digits and faces, all for textures")
    parser.add_argument("--cache", type=Path, default=None, help="where images, projects and embeddings are kept")
    parser.add_argument("--views", default="0", help="embedding views used as training samples (TrainConfig.views: "
                        "0 plain, 1 flipped, 2-5 corner crops), e.g. 0,1")
    args = parser.parse_args()
    cache = args.cache or cache_dir() / "bench-accuracy"
    backbones = [b for b in args.backbones.split(",") if b]
    regimes = [None if r == "all" else int(r) for r in args.regimes.split(",")]
    started = time.perf_counter()
    results = []
    for name in args.sets.split(","):
        pool = POOLS[name]()
        chosen = ([None] if name == "textures" else [10]) if args.quick else regimes
        results += bench_pool(pool, cache, backbones, chosen, tuple(int(v) for v in args.views.split(",")))
    print(f"\nsummary (test accuracy; ratio to the best baseline of the same regime), "
          f"{time.perf_counter() - started:.0f} s in all")
    for entry in results:
        if entry["method"].startswith("dovecote-"):
            same = [r["acc"] for r in results if r["set"] == entry["set"] and r["regime"] == entry["regime"]
                    and not r["method"].startswith("dovecote-")]
            print(f"  {entry['set']:<9} {entry['regime']:<9} {entry['method']:<28} {entry['acc']:.4f}  "
                  f"x{entry['acc'] / max(same):.3f} of the best baseline ({max(same):.4f})")


if __name__ == "__main__":
    main()

"""The images the fine-tuning benchmarks train on (benchmarks/bench_training.py --part finetune,
benchmarks/bench_finetune_lr.py): small images in 10 classes, as class folders under <root>/train and
<root>/test, made from packages that install offline (see bench_training.py's docstring for each)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

DATA = ("textures", "digits", "animals", "animals-jittered", "animals-mixed")
# The share of the silhouettes jittered. "animals-mixed" puts the head alone near 0.88, the regime of the
# owner's set A (10 classes of small grey object images, quick head 0.889).
JITTERED = {"animals": 0.0, "animals-mixed": 0.3, "animals-jittered": 1.0}


def finetune_data(workdir: Path, data: str, train_images: int | None = None) -> tuple[Path, bool, str]:
    """(root, whether mirror images keep their class, what the images are) of one of DATA, made in workdir."""
    if data == "textures":
        return grey_textures(workdir), True, "grey textures, 28x28 PNG"
    if data in JITTERED:
        share = JITTERED[data]
        jittered = {0.0: "", 1.0: ", jittered"}.get(share, f", {share:.0%} of them jittered")
        return (animal_silhouettes(workdir, jittered=share), True,
                f"grey animal silhouettes (animal-mnist){jittered}, 28x28 PNG")
    return jittered_digits(workdir, train_images=train_images), False, "jittered digits, 32x32 PNG"


def jittered_digits(workdir: Path, seed: int = 0, size: int = 32, train_images: int | None = None) -> Path:
    """jittered/<split>/<class>/<i>.png: each 8x8 digit scaled to 14-28 px, placed at random on a noisy,
    randomly tinted size x size background; train/test split stratified 75/25, the training part cut to
    `train_images` (stratified) when given."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    rng = np.random.default_rng(seed)
    index = np.arange(len(digits.target))
    train_idx, test_idx = train_test_split(index, test_size=0.25, stratify=digits.target, random_state=seed)
    if train_images is not None and train_images < len(train_idx):
        train_idx, _ = train_test_split(train_idx, train_size=train_images, stratify=digits.target[train_idx],
                                        random_state=seed)
    split = {int(i): "train" for i in train_idx} | {int(i): "test" for i in test_idx}
    for i in split:
        side = int(rng.integers(14, 29))
        glyph = Image.fromarray(np.clip(digits.images[i] * 16, 0, 255).astype(np.uint8), "L").resize(
            (side, side), Image.Resampling.BILINEAR)
        tint = rng.integers(0, 256, 3)
        background = np.clip(rng.normal(0, 40, (size, size, 3)) + tint * 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(background)
        ink = Image.new("RGB", (side, side), tuple(int(255 - v * 0.5) for v in tint))
        x, y = (int(v) for v in rng.integers(0, size - side + 1, 2))
        image.paste(ink, (x, y), glyph)
        path = workdir / "jittered" / split[int(i)] / str(digits.target[i]) / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
    return workdir / "jittered"


def animal_silhouettes(workdir: Path, per_class: tuple[int, int] = (200, 80), seed: int = 0,
                       jittered: float = 0.0) -> Path:
    """animals/<split>/<class>/<i>.png from the animal-mnist package's data: numpy arrays in gzipped pickles,
    read with an unpickler that builds nothing but numpy arrays (a registry's file is not trusted further).
    `jittered`: the share of the images (drawn at random) shrunk to 60-100 %, placed at random, turned up to 15
    degrees, their contrast and brightness changed and Gaussian noise added (the plain set is easy: the head
    alone scores ~0.97; all jittered, ~0.80)."""
    import gzip
    import importlib.util
    import pickle

    found = importlib.util.find_spec("animal_mnist")
    if found is None or found.origin is None:
        raise SystemExit("--data animals needs the images of PyPI's animal-mnist: pip install --no-deps animal-mnist")
    folder = Path(found.origin).parent / "data" / "Animal_MNIST"

    class ArraysOnly(pickle.Unpickler):
        def find_class(self, module, name):
            from numpy._core import multiarray

            allowed = {("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
                       ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
            if (module, name) not in allowed:
                raise pickle.UnpicklingError(f"{module}.{name} is not part of a numpy array")
            return allowed[(module, name)]

    with gzip.open(folder / "animal_data_version_3.gz") as handle:
        images = np.asarray(ArraysOnly(handle).load(), np.uint8).reshape(-1, 28, 28)
    with gzip.open(folder / "animal_label_version_3.gz") as handle:
        labels = np.asarray(ArraysOnly(handle).load(), np.int64)
    _, first = np.unique(images.reshape(len(images), -1), axis=0, return_index=True)  # 284 exact copies
    keep = np.sort(first)
    images, labels = images[keep], labels[keep]
    rng = np.random.default_rng(seed)
    which = np.random.default_rng(seed + 1)  # its own draws: the plain and the all-jittered sets stay as they were
    root = workdir / "animals"
    for label in range(10):
        members = rng.permutation(np.flatnonzero(labels == label))
        chosen = {"train": members[:per_class[0]], "test": members[per_class[0]:sum(per_class)]}
        for split, ids in chosen.items():
            for i in ids:
                path = root / split / str(label) / f"{i:05d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                picture = Image.fromarray(images[i], "L")
                if which.random() < jittered:
                    picture = _jittered(picture, rng)
                picture.save(path)
    return root


def _jittered(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = picture.width
    small = max(8, int(side * rng.uniform(0.6, 1.0)))
    turned = picture.rotate(float(rng.uniform(-15, 15)), Image.Resampling.BILINEAR).resize(
        (small, small), Image.Resampling.BILINEAR)
    canvas = Image.new("L", (side, side), 0)
    canvas.paste(turned, tuple(int(v) for v in rng.integers(0, side - small + 1, 2)))
    pixels = np.asarray(canvas, np.float32) * rng.uniform(0.5, 1.0) + rng.uniform(0, 60)
    return Image.fromarray(np.clip(pixels + rng.normal(0, 20, pixels.shape), 0, 255).astype(np.uint8))


def grey_textures(workdir: Path, side: int = 28, per_class: tuple[int, int] = (200, 80), seed: int = 0) -> Path:
    """textures/<split>/<class>/<i>.png: side x side grey patches of 10 real photographs, each cut at a random
    place and scale (24-96 px), with random brightness and contrast and Gaussian noise; training and test
    patches drawn the same way (not the same patches)."""
    from bench_accuracy import TEXTURE_SOURCES, _grey_photo

    rng = np.random.default_rng(seed)
    root = workdir / "textures"
    for label, name in enumerate(TEXTURE_SOURCES):
        photo = _grey_photo(name)
        height, width = photo.shape
        for split, count in zip(("train", "test"), per_class):
            for i in range(count):
                crop = int(rng.integers(24, min(96, width, height) + 1))
                x, y = int(rng.integers(0, width - crop + 1)), int(rng.integers(0, height - crop + 1))
                patch = np.asarray(Image.fromarray(photo[y:y + crop, x:x + crop]).resize(
                    (side, side), Image.Resampling.BILINEAR), np.float32)
                patch = patch * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30) + rng.normal(0, 8, patch.shape)
                path = root / split / str(label) / f"{i:04d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.clip(patch, 0, 255).astype(np.uint8)).save(path)
    return root

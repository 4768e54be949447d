"""A tiny project really trained with the default backbone: two classes of clearly different colours, a
few head epochs. For tests of the real model path (classify, its CLI and window)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from core.models.heads import HeadConfig
from core.project import Project
from core.importing.scanning import import_folder
from core.training.runner import RunFinished, TrainConfig, train

COLOURS = {"red": (220, 40, 30), "blue": (30, 60, 220)}
PER_CLASS = 6


def colour_images(root: Path, per_class: int = PER_CLASS, size=(64, 48)) -> Path:
    """root/<class>/<i>.png, each class one colour, with a white square near the edge that moves from image
    to image: how an image is resized and cropped changes what the network sees."""
    for name, (r, g, b) in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = Image.new("RGB", size, (r, min(255, g + 6 * i), b))
            x = 2 + i * (size[0] - 14) // max(1, per_class - 1)
            ImageDraw.Draw(image).rectangle((x, 1, x + 10, 12), fill=(255, 255, 255))
            image.save(root / name / f"{i}.png")
    return root


def trained_project(root: Path, int8: bool = True) -> tuple[Path, int]:
    """The project folder and the id of its finished run (its int8 network checked, unless `int8` is False)."""
    colour_images(root)
    with Project.open(root) as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass
        config = TrainConfig(head=HeadConfig(kind="mlp", max_epochs=8, patience=None), device="cpu", int8=int8)
        finished = [e for e in train(project, config) if isinstance(e, RunFinished)][-1]
    assert finished.status == "finished", finished
    return root, finished.run_id

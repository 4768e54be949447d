"""A small trained project for evaluation tests: generated images whose cached embeddings are made up from
each image's true class (no backbone runs), some of them filed under the wrong class on purpose."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.models.backbones import DEFAULT_BACKBONE, get_backbone
from core.features.cache import model_key
from core.project import Project
from core.importing.scanning import import_folder
from core.storage import catalog
from core.storage import embeddings as embedding_store

CLASSES = ("cats", "dogs", "birds")
PER_CLASS = 15
DIM = 32
# path -> true class: filed under another class's folder on purpose.
MISFILED = {"dogs/cat_03.png": "cats", "birds/dog_07.png": "dogs", "cats/bird_11.png": "birds"}


def make_folder(root: Path, classes: tuple[str, ...] = CLASSES) -> Path:
    for c, name in enumerate(classes):
        for i in range(PER_CLASS):
            Image.new("RGB", (24, 16), ((40 * c + 20) % 256, 7 * i, 90)).save(root / _path(name, i, root))
    return root


def _path(name: str, i: int, root: Path) -> Path:
    stem = f"{name[:-1]}_{i:02d}.png"
    folder = next((p.split("/")[0] for p, true in MISFILED.items() if true == name and p.endswith(stem)), name)
    (root / folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / stem


def true_class(path: str) -> str:
    return MISFILED.get(path, path.split("/")[0])


def cache_embeddings(project: Project, seed: int = 0, classes: tuple[str, ...] = CLASSES) -> None:
    """Vectors near a centre per true class, so a head separates the classes and spots the misfiled. Shorter
    than the backbone's (nothing on this path depends on the length): quicker heads."""
    spec = get_backbone(DEFAULT_BACKBONE)
    rng = np.random.default_rng(seed)
    centres = {name: rng.normal(0, 1, DIM) for name in classes}
    with project.session() as session:
        rows = [(image.content_hash, 0, centres[true_class(image.path)] + rng.normal(0, 0.6, DIM))
                for image in catalog.all_images(session)]
        embedding_store.store(session, model_key(spec), rows)


def trained_project(root: Path, max_epochs: int = 30, classes: tuple[str, ...] = CLASSES):
    """(project, run id): imported with subfolder labels, embeddings cached, one head trained."""
    from core.models.heads import HeadConfig
    from core.training.runner import RunFinished, TrainConfig, train

    make_folder(root, classes)
    project = Project.open(root)
    for _ in import_folder(project, True):
        pass
    cache_embeddings(project, classes=classes)
    run_id = None
    config = TrainConfig(head=HeadConfig(kind="mlp", max_epochs=max_epochs, patience=None), device="cpu", int8=False)
    for event in train(project, config):
        if isinstance(event, RunFinished):
            run_id = event.run_id
    return project, run_id

"""Why did the model say that? Grad-CAM (Selvaraju et al., 2017) on the backbone's last convolutional stage:
the stage's feature maps weighted by how much the predicted class's score grows with each of them (the
spatial mean of its gradient), summed, rectified, and scaled to the network's input square.

The heat map covers the square the model saw (the centre crop preprocessing takes); `box` says where that
square lies in the picture, as fractions of its width and height, so a viewer can lay the map over the image."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from core.images.decode import load_rgb
from core.models.preprocessing import preprocess
from core.models.threads import torch_threads


@dataclass(frozen=True)
class HeatMap:
    heat: np.ndarray  # float32 [S, S] in 0..1 over the square the network saw; 1 where it looked most
    box: tuple[float, float, float, float]  # that square in the picture: left, top, width, height (fractions)
    class_index: int  # the class explained (the predicted one unless asked for another)
    class_name: str
    confidence: float  # the model's probability for that class


@dataclass(frozen=True)
class HeatMapReady:
    image_id: int
    run_id: int
    heat_map: HeatMap


def grad_cam(extractor, head: Callable, images, target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(heat [S, S] in 0..1, probabilities [C]) for one preprocessed image [1, 3, S, S]: `extractor` is a
    FeatureExtractor (core/models/backbone_nets.py), `head` maps its features to logits; `target` is the class
    to explain (None: the predicted one)."""
    import torch
    import torch.nn.functional as F

    captured: dict[str, torch.Tensor] = {}

    def keep(_module, _inputs, output):
        # The extractor is frozen: start the gradient at this stage's output, so it flows back to it alone.
        output = output.detach().requires_grad_(True)
        captured["maps"] = output
        return output

    hook = extractor.blocks[-1].register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = head(extractor(images))
            probabilities = torch.softmax(logits, dim=1)[0].detach()
            index = int(probabilities.argmax()) if target is None else int(target)
            (gradient,) = torch.autograd.grad(logits[0, index], captured["maps"])
    finally:
        hook.remove()
    maps = captured["maps"].detach()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * maps).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    top = float(cam.max())
    heat = (cam / top).numpy() if top > 0 else np.zeros(tuple(images.shape[-2:]), np.float32)
    return heat.astype(np.float32), probabilities.numpy()


def crop_box(width: int, height: int, prep) -> tuple[float, float, float, float]:
    """Where preprocessing's centre square lies in a width x height picture, as fractions."""
    side = min(width, height) * min(1.0, prep.input_size / prep.resize)
    return ((width - side) / 2 / width, (height - side) / 2 / height, side / width, side / height)


class Explainer:
    """A model bundle's backbone and head in torch, built once (seconds), then a heat map per image in a
    fraction of a second on a CPU."""

    def __init__(self, bundle):
        import torch

        self.bundle = bundle
        classifier = bundle.classifier()  # the one Classifier: stock or fine-tuned backbone, and the head
        self._extractor, self._head = classifier.backbone, classifier.head
        self._torch = torch

    def explain(self, path: str | Path, target: int | None = None) -> HeatMap:
        prep = self.bundle.preprocessing
        image = load_rgb(Path(path), min_side=prep.resize)
        try:
            pixels = preprocess(image, prep)
            box = crop_box(image.width, image.height, prep)
        finally:
            image.close()
        batch = self._torch.from_numpy(pixels)[None]
        with torch_threads(1):  # one small image: see core/models/threads.py
            heat, probabilities = grad_cam(self._extractor, self._head, batch, target)
        index = int(probabilities.argmax()) if target is None else int(target)
        return HeatMap(heat, box, index, self.bundle.classes[index], float(probabilities[index]))


_cached: dict[str, Explainer] = {}
_lock = threading.Lock()


def explainer_for(bundle_path: str | Path) -> Explainer:
    """The Explainer of a model file, kept for the next image (one model at a time: the one being looked at)."""
    from core.models.bundles import ModelBundle

    path = Path(bundle_path)
    key = f"{path}:{path.stat().st_mtime_ns}"
    with _lock:
        if key not in _cached:
            _cached.clear()
            _cached[key] = Explainer(ModelBundle.load(path))
        return _cached[key]


def explain_image(project, run_id: int, image_id: int) -> Iterator[object]:
    """A job: the heat map of run `run_id`'s prediction for image `image_id`. Yields HeatMapReady."""
    from core.storage import catalog, runs

    with project.session() as session:
        run = runs.get_run(session, run_id)
        (image,) = catalog.images_by_ids(session, [image_id])
    explainer = explainer_for(project.store_dir / run.model_path)
    yield HeatMapReady(image_id, run_id, explainer.explain(project.root / image.path))

"""Predictions for the images nobody has labelled yet, by a run's final model: what turns labelling the rest
into "accept or correct". Stored as the run's "model" predictions; embeddings come from (and go to) the cache,
so after the first time only the head runs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from core.events import Progress
from core.features.cache import EmbeddingsReady, ensure_embeddings, load_embeddings
from core.models.bundles import ModelBundle
from core.storage import gallery, predictions, runs
from core.storage.catalog import images_by_ids
from core.storage.predictions import StoredPrediction

PHASE = "Predicting unlabelled images"
KIND = "model"


@dataclass(frozen=True)
class UnlabelledPredicted:
    run_id: int
    images: int  # unlabelled images that got a prediction


def predict_unlabelled(project, run_id: int, device: str = "auto") -> Iterator[object]:
    """Predict every readable unlabelled image with run `run_id`'s model and store it (replacing the run's
    earlier "model" predictions). Yields Progress and Notices, then UnlabelledPredicted."""
    with project.session() as session:
        run = runs.get_run(session, run_id)
        class_ids = list((run.metrics.get("oof") or {}).get("class_ids") or [])
        images = images_by_ids(session, sorted(gallery.unlabelled_ids(session)))
    bundle = ModelBundle.load(project.store_dir / run.model_path)
    if len(class_ids) != len(bundle.classes):  # not evaluated: the run's classes by name, as it named them
        with project.session() as session:
            by_name = {name: class_id for class_id, name in predictions.class_names(session).items()}
        class_ids = [by_name.get(name) for name in bundle.classes]
    ready = None
    weights = bundle.backbone_weights_file()
    for event in ensure_embeddings(project, images, bundle.spec, device, weights_path=weights):
        if isinstance(event, EmbeddingsReady):
            ready = event
        else:
            yield event
    images = [image for image in images if image.id not in ready.failed]
    yield Progress(PHASE, 0, len(images))
    proba = (bundle.head.predict_proba(load_embeddings(project, [i.content_hash for i in images], ready.model_key))
             if images else np.zeros((0, len(class_ids))))
    best = proba.argmax(axis=1) if len(images) else np.zeros(0, int)
    rows = [StoredPrediction(image.id, class_ids[int(k)], float(p[k]), [round(float(v), 6) for v in p])
            for image, k, p in zip(images, best, proba)]
    with project.session() as session:
        predictions.replace_predictions(session, run_id, KIND, rows)
    yield Progress(PHASE, len(images), len(images))
    yield UnlabelledPredicted(run_id, len(rows))

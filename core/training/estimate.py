"""The estimate shown before a run ("about 40 s on this computer"): the run's plan, made from the project
as it is now, without starting anything."""
from __future__ import annotations

from typing import Iterator

from core.training.int8_check import pending_work
from core.training.plan import TrainingPlan, make_plan, uncached_count
from core.training.runner import TrainConfig, _training_set, run_network
from core.models.backbones import get_backbone


def estimate_run(project, config: TrainConfig, device: str) -> Iterator[TrainingPlan]:
    """Yields the plan of a run of `config` on `device` (a resolved device: "cpu", "cuda:0", "mps").
    Raises InvalidRequest, as training would, when the project cannot be trained yet."""
    classes, images, _ = _training_set(project)
    network = run_network(project, get_backbone(config.backbone), images, config, device == "cpu")
    spec = network.spec
    uncached = uncached_count(project, spec, images, config.views, network.weights_path)
    int8_work = pending_work(project, spec, images, config, network.weights_path)
    yield make_plan(config, spec, device, len(images), len(classes), uncached, int8_work)

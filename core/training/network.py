"""The network a run computes its embeddings with: the pretrained one, one from a weights file, or an earlier
run's (fine-tuned), frozen, read from that run's model bundle, which carries it (core.training.retrain)."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import InvalidRequest
from core.models.backbones import BackboneSpec
from core.models.bundles import ModelBundle
from core.training.int8_check import adopt_int8_network
from core.training.run_files import model_file


@dataclass(frozen=True)
class Network:
    spec: BackboneSpec  # the backbone as the run feeds it
    weights_path: str | None  # None: the pretrained weights
    of_run: int | None = None  # the earlier run whose network this is, frozen
    fine_tuned_in: int | None = None  # the run that fine-tuned it: of_run, or the run of_run took it from
    flip: bool = False  # of_run's model averages each image with its mirror image: so will this one's
    # What the validation of a head on the pretrained network chose (L2 strength, epochs), for this run's
    # out-of-fold evaluation, which is on the pretrained network's embeddings as of_run's was.
    evaluation_head: dict = field(default_factory=dict)
    # of_run's network as its bundle holds it, for this run's bundle: no torch to load it from the weights file
    state: dict | None = field(default=None, compare=False, repr=False)

    def metrics(self) -> dict:
        """What a run on this network records of it (RunInfo.network reads it)."""
        if self.of_run is None:
            return {}
        return {"network_of_run": self.of_run, "fine_tuned_in": self.fine_tuned_in,
                "evaluation_head": self.evaluation_head}


def network_of_run(project, run_id: int) -> Network:
    """Run `run_id`'s fine-tuned network (fine-tuned by that run, or by the one it took it from). Its int8
    network, if the run's check passed, becomes the one the int8 check of the runs on it uses (the same
    network: the same verdict and cached embeddings, not a calibration and a pass over every image). What this
    writes are cache files, each written whole (an estimate that is killed half-way leaves none half-made)."""
    bundle = ModelBundle.load(model_file(project, run_id))
    metrics = bundle.metadata.get("metrics") or {}
    fine_tuned_in = run_id if bundle.fine_tuned else metrics.get("fine_tuned_in")
    if bundle.backbone_state is None or fine_tuned_in is None:
        raise InvalidRequest(f"Run {run_id}'s network was not fine-tuned here: there is no network of its own "
                             "to train a head on (for weights from a file, train with --weights).")
    weights = str(bundle.backbone_weights_file())
    if bundle.int8_network is not None:
        adopt_int8_network(project, bundle.spec, weights, bundle.int8_network)
    chosen = metrics.get("evaluation_head") or {k: metrics.get(k) for k in ("head_l2", "head_best_epoch")}
    return Network(bundle.spec, weights, run_id, fine_tuned_in, bundle.flip_average, chosen, bundle.backbone_state)

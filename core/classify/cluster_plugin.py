"""The Dask worker plugin that gives a cluster run's model to every worker as it joins: those there when the
run starts, and any that join later (a restarted or added worker), before they take a chunk. Imported by the
client only once Dask is known to be there; the workers import it to unpickle the plugin."""
from __future__ import annotations

from distributed import WorkerPlugin

from core.classify import cluster_worker


class ModelLoader(WorkerPlugin):
    """Starts loading the model on each worker in the background (cluster_worker.load_model) and drops it
    when the client unregisters the plugin at the end of the run."""

    def __init__(self, key: str, bundle, device: str, precision: str):
        self.name = f"dovecote-model-{key}"
        self.key, self.bundle, self.device, self.precision = key, bundle, device, precision

    def setup(self, worker) -> None:
        cluster_worker.load_model(self.key, self.bundle, self.device, self.precision)

    def teardown(self, worker) -> None:
        cluster_worker.forget_model(self.key)

"""A training run's record while it runs: the stored row, its epochs, the measured speeds, and the best model so
far written as the run's bundle, so that a cancel at any moment still leaves a usable model."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.models.bundles import ModelBundle, bundle_path
from core.models.heads import EpochEnded, HeadTrainer
from core.storage import runs
from core.training import speeds
from core.training.finetune import FINE_TUNE_PHASE, FineTuner
from core.training.plan import FINE_TUNE, HEAD
from core.training.network import Network

if TYPE_CHECKING:
    from core.training.staged_finetune import StagedFineTuner


class RunRecord:
    """The stored run and the best model so far, so that a cancel at any moment still saves it."""

    def __init__(self, project, run_id: int, config, classes: list[str], network: Network):  # a TrainConfig
        self.project, self.run_id, self.config, self.classes = project, run_id, config, classes
        self.network = network
        self.spec = network.spec  # the backbone as this run feeds it (with the fine-tuning input size, if any)
        # The preprocessing the run's embeddings and model use (fine-tuning may pick a smaller input size).
        self.metrics: dict = {"classes": list(classes), "phase_seconds": {}, "fine_tuned": False,
                              "preprocessing": self.spec.preprocessing.to_dict()}
        self.metrics.update(network.metrics())
        self.started = time.perf_counter()  # what a time budget counts from
        self.plan = None  # the TrainingPlan
        self.head_trainer: HeadTrainer | None = None
        self.tuner: FineTuner | StagedFineTuner | None = None
        self.model_path: Path | None = None
        self._epochs: list[EpochEnded] = []
        self._rates: dict[str, list[float]] = {HEAD: [], FINE_TUNE: []}
        self.head_seconds: list[float] = []
        self.speeds: dict[str, float | None] = {}  # measured this run, remembered for later estimates
        self._saved: tuple[str, int] | None = None

    def record(self, event: EpochEnded) -> None:
        """Buffered: head epochs take milliseconds, a durable commit each would dominate quick training."""
        self._epochs.append(event)
        self._rates.setdefault(event.phase, []).append(event.images_per_s)
        if event.phase == HEAD:
            self.head_seconds.append(event.seconds)
        if event.phase == FINE_TUNE_PHASE:
            self._flush_epochs()

    def phase_done(self, phase: str, started: float) -> None:
        self.metrics["phase_seconds"][phase] = round(time.perf_counter() - started, 3)

    def save_head(self) -> None:
        spec, trainer = self.spec, self.head_trainer
        if trainer is None or trainer.best_model() is None or self._saved == ("head", trainer.stopping.best_epoch):
            return
        best = trainer.stopping
        self.metrics.update(model="head", val_loss=best.best_val_loss, val_acc=best.best_val_acc,
                            best_epoch=best.best_epoch)
        self._write(spec.name, spec.preprocessing, trainer.best_model(), self._custom_backbone(spec), False,
                    self.network.flip)
        self._saved = ("head", best.best_epoch)

    def calibrate(self) -> None:
        """Divide the saved head's logits by the temperature the out-of-fold evaluation fitted. A model on a
        fine-tuned network is left as it is: those predictions came from heads on the pretrained one."""
        with self.project.session() as session:
            calibration = runs.get_run(session, self.run_id).metrics.get("calibration")
        if not calibration:
            return
        self.metrics["calibration"] = calibration  # what RunFinished reports
        if (calibration["temperature"] == 1.0 or self.metrics.get("fine_tuned") or self.network.of_run is not None
                or self.head_trainer is None):
            return
        best = self.head_trainer.best_model()
        if best is None:
            return
        self.metrics["calibration"] = calibration | {"applied_to_model": True}
        self._write(self.spec.name, self.spec.preprocessing, best.with_temperature(calibration["temperature"]),
                    self._custom_backbone(self.spec), False, self.network.flip)

    def save_fine_tuned(self) -> None:
        """After a fine-tuning epoch: write its weights if they are the best of the run."""
        spec, prep = self.spec, self.spec.preprocessing
        tuner, head_loss = self.tuner, self.metrics.get("head_val_loss")
        if tuner is None or tuner.best() is None or self._saved == (FINE_TUNE_PHASE, tuner.stopping.best_epoch,
                                                                     tuner.test_time_flip):
            return
        best = tuner.stopping
        if head_loss is not None and best.best_val_loss is not None and best.best_val_loss >= head_loss:
            return
        backbone, head = tuner.best()
        self.metrics.update(model="fine-tuned", fine_tuned=True, val_loss=best.best_val_loss,
                            val_acc=best.best_val_acc, best_epoch=best.best_epoch)
        self._write(spec.name, prep, head, backbone, True, tuner.test_time_flip)
        self._saved = (FINE_TUNE_PHASE, best.best_epoch, tuner.test_time_flip)

    def _custom_backbone(self, spec) -> dict | None:
        """A backbone loaded from a weights file travels inside the bundle (stock weights need not)."""
        if self.network.state is not None or self.network.weights_path is None:
            return self.network.state
        from core.models.backbone_nets import build_feature_extractor

        extractor = build_feature_extractor(spec, self.network.weights_path)
        return {k: v.numpy() for k, v in extractor.state_dict().items()}

    def _write(self, backbone: str, prep, head, backbone_state, fine_tuned: bool, flip: bool = False) -> None:
        path = bundle_path(self.project.models_dir, self.run_id)
        bundle = ModelBundle(list(self.classes), backbone, prep, head, backbone_state, metadata={
            "run_id": self.run_id, "fine_tuned": fine_tuned, "metrics": self.metrics, "seed": self.config.seed,
            "head_config": self.config.head.to_dict(), "train_config": self.config.to_dict(),
            "test_time_flip": flip})
        bundle.save(path)
        self.model_path = path
        with self.project.session() as session:
            runs.update_run(session, self.run_id, model_path=path.relative_to(self.project.store_dir).as_posix(),
                            metrics=self.metrics)

    def _flush_epochs(self) -> None:
        if not self._epochs:
            return
        with self.project.session() as session:
            for e in self._epochs:
                runs.add_epoch(session, self.run_id, e.phase, e.epoch, e.train_loss, e.train_acc, e.val_loss,
                               e.val_acc, e.images_per_s, e.seconds)
        self._epochs = []

    def remember_speeds(self, device: str) -> None:
        """The speeds this run measured, for the next estimates on this computer."""
        measured = dict(self.speeds)
        for phase, rates in self._rates.items():
            if len(rates) >= 2:  # the first epoch includes warming up
                measured[phase] = float(np.median(rates[1:]))
        speeds.remember({k: v for k, v in measured.items() if v}, self.spec.name,
                        self.spec.preprocessing.input_size, device)

    def close(self, status: str, error: str | None) -> None:
        """Store the outcome. A cancelled run first saves its best model so far (a cancel during the head
        phase keeps the best head epoch; during fine-tuning the best is on disk already)."""
        if status == "cancelled" and self._saved is None and self.head_trainer is not None:
            self.save_head()
        self._flush_epochs()
        with self.project.session() as session:
            runs.update_run(session, self.run_id, metrics=self.metrics)
            runs.end_run(session, self.run_id, status, error)

"""A run with enough images applies the temperature its out-of-fold predictions fitted to the saved model."""
import json

from safetensors import safe_open

from core.models.bundle_schema import FORMAT
from core.models.heads import HeadConfig
from core.training.runner import RunFinished, TrainConfig, train
from evalproject import cache_embeddings, make_folder
from core.importing.scanning import import_folder
from core.project import Project
import evalproject


def test_the_saved_model_carries_the_out_of_fold_temperature(tmp_path, monkeypatch):
    monkeypatch.setattr(evalproject, "PER_CLASS", 80)  # 240 images: enough to fit a temperature on
    make_folder(tmp_path / "pets")
    with Project.open(tmp_path / "pets") as project:
        for _ in import_folder(project, labels_from_subfolders=True):
            pass
        cache_embeddings(project)
        config = TrainConfig(head=HeadConfig(), device="cpu", int8=False)  # made-up 32-wide features: no network to quantize
        outcome = [e for e in train(project, config) if isinstance(e, RunFinished)][-1]
    calibration = outcome.metrics["calibration"]
    assert calibration["applied_to_model"] and calibration["temperature"] != 1.0
    assert calibration["ece_after"] <= calibration["ece_before"]
    # The bundle's header (its head is 32 wide here, the made-up embeddings' length: read without the checks).
    with safe_open(str(outcome.model_path), framework="numpy") as handle:
        assert json.loads(handle.metadata()[FORMAT])["metrics"]["calibration"] == calibration

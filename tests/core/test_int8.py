"""The int8 path: a trained model's backbone quantized, checked against fp32 on the project's labelled images,
the verdict kept in the model file, and classification using int8 only where that check passed."""
import csv
import shutil

import numpy as np
import pytest

from colourproject import colour_images, trained_project
from core.classify.inference import ClassifyFinished, ClassifyRequest, ClassifyStarted, classify_folder
from core.classify.precision import choose_precision
from core.errors import InvalidRequest
from core.events import Notice, Progress
from core.models import int8
from core.models.bundles import BundleError, ModelBundle, load_model
from core.project import Project
from core.storage import runs
from core.training.int8_check import CALIBRATING, Int8Checked, check_int8


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def classify(project_folder, target, out, **options):
    events = list(classify_folder(ClassifyRequest(target, model=project_folder, output=out, device="cpu", **options)))
    started = next(e for e in events if isinstance(e, ClassifyStarted))
    return started, next(e for e in events if isinstance(e, ClassifyFinished)).summary


@pytest.fixture
def own_project(colour_project, tmp_path):
    """A copy of the session's trained project (its int8 network and embeddings cached), free to change."""
    folder = tmp_path / "copy"
    shutil.copytree(colour_project[0], folder)
    return folder, colour_project[1]


def test_training_checks_int8_and_stores_the_verdict_with_the_model(colour_project):
    folder, run_id = colour_project
    bundle = load_model(folder, run_id)
    check = bundle.metadata["int8"]
    assert check["passed"] and check["agreement"] == 1.0 and check["images"] == 12
    assert check["threshold"] == int8.AGREEMENT_NEEDED and check["checked"][:4].isdigit()
    assert bundle.int8_network is not None and len(bundle.int8_network) > 100_000
    with Project.open(folder) as project, project.session() as session:
        assert runs.get_run(session, run_id).metrics["int8"] == check  # what the runs list shows


def test_int8_classifies_like_fp32(colour_project, tmp_path):
    target = colour_images(tmp_path / "new", per_class=4)
    started, summary = classify(colour_project[0], target, tmp_path / "auto.csv")
    assert started.precision == summary.precision == "int8" and "agrees with fp32 on 100.0 %" in summary.precision_note
    _, fp32 = classify(colour_project[0], target, tmp_path / "fp32.csv", precision="fp32")
    assert fp32.precision == "fp32"
    quantized, reference = read_rows(tmp_path / "auto.csv"), read_rows(tmp_path / "fp32.csv")
    assert quantized.keys() == reference.keys() and len(quantized) == 8
    for path, row in reference.items():
        assert quantized[path]["predicted"] == row["predicted"] == path.split("/")[0]
        assert float(quantized[path]["confidence"]) == pytest.approx(float(row["confidence"]), abs=0.05)


def test_a_model_whose_int8_disagrees_classifies_in_fp32_and_says_why(own_project, tmp_path):
    folder, run_id = own_project
    with Project.open(folder) as project:
        events = list(check_int8(project, run_id, threshold=1.01))  # no int8 network can reach 101 %
    assert isinstance(events[-1], Int8Checked) and not events[-1].passed
    assert "below the 101.0 % needed" in events[-1].note
    assert any(isinstance(e, Notice) and "will use fp32" in e.message for e in events)  # the window shows it
    bundle = load_model(folder, run_id)
    assert not bundle.metadata["int8"]["passed"] and bundle.int8_network is None
    target = colour_images(tmp_path / "new", per_class=2)
    _, summary = classify(folder, target, tmp_path / "out.csv")
    assert summary.precision == "fp32" and "below the 101.0 % needed" in summary.precision_note
    with pytest.raises(InvalidRequest, match="no int8 network"):
        classify(folder, target, tmp_path / "forced.csv", precision="int8", overwrite=True)


def test_precision_int8_is_refused_for_a_gpu_and_fp32_is_always_there(colour_project):
    bundle = load_model(*colour_project)
    assert choose_precision(bundle, "auto", on_cpu=True)[0] == "int8"
    assert choose_precision(bundle, "auto", on_cpu=False)[0] == "fp32"
    assert choose_precision(bundle, "fp32", on_cpu=True)[0] == "fp32"
    with pytest.raises(InvalidRequest, match="runs on the CPU"):
        choose_precision(bundle, "int8", on_cpu=False)


def test_a_model_never_checked_classifies_in_fp32(tmp_path):
    from core.models.heads import HeadModel

    head = HeadModel({"fc1.weight": np.zeros((4, 2560), np.float32), "fc1.bias": np.zeros(4, np.float32),
                      "fc2.weight": np.zeros((2, 4), np.float32), "fc2.bias": np.zeros(2, np.float32)})
    from core.models.backbones import get_backbone

    spec = get_backbone("efficientnet_lite0")
    bundle = ModelBundle(["a", "b"], spec.name, spec.preprocessing, head)
    precision, note = choose_precision(bundle, "auto", on_cpu=True)
    assert precision == "fp32" and "never checked" in note


def test_a_model_file_claiming_int8_without_its_network_is_damaged(colour_project, tmp_path):
    bundle = load_model(*colour_project)
    bundle.int8_network = None  # the record still says it passed
    path = bundle.save(tmp_path / "lying.safetensors")
    with pytest.raises(BundleError, match="int8 network is missing"):
        ModelBundle.load(path)


def test_an_int8_network_using_foreign_operators_is_refused():
    from onnx import TensorProto, helper

    node = helper.make_node("Exfiltrate", ["x"], ["y"], domain="evil.ops")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("evil.ops", 1)])
    with pytest.raises(int8.Int8Unavailable, match="unknown domain 'evil.ops'"):
        int8.check_network(model.SerializeToString())
    plain = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", graph.input, graph.output)
    int8.check_network(helper.make_model(plain, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())


def test_cancelling_the_calibration_leaves_the_model_fp32(tmp_path):
    folder, run_id = trained_project(tmp_path / "fresh", int8=False)
    with Project.open(folder) as project:
        events = check_int8(project, run_id)
        for event in events:
            if isinstance(event, Progress) and event.phase == CALIBRATING and event.done:
                break  # the quantizer's thread is under way
        events.close()
        assert not (project.store_dir / "int8").exists() or not any((project.store_dir / "int8").iterdir())
    bundle = load_model(folder, run_id)
    assert "int8" not in bundle.metadata and bundle.int8_network is None


def test_a_retrain_checks_int8_on_what_is_cached_and_plans_it_so(own_project):
    from core.models.heads import HeadConfig
    from core.training.plan import INT8, TrainingPlan
    from core.training.runner import TrainConfig, train

    folder, first = own_project
    with Project.open(folder) as project:
        events = list(train(project, TrainConfig(head=HeadConfig(max_epochs=3, patience=None), device="cpu")))
    plan = next(e for e in events if isinstance(e, TrainingPlan))
    assert plan.phase(INT8).work == 0 and plan.phase(INT8).seconds == 0  # the stored network, cached embeddings
    assert not any(isinstance(e, Progress) and e.phase == CALIBRATING for e in events)
    checked = next(e for e in events if isinstance(e, Int8Checked))
    assert checked.passed and checked.run_id != first and load_model(folder, checked.run_id).int8_network

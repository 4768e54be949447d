"""The one decode-ahead pipeline: order kept, a bounded distance ahead, threads gone when it closes; and
fine-tuning decodes its next batches while the current one trains."""
import threading
from pathlib import Path

import numpy as np
import pytest

from core.images.decode_ahead import decode_ahead
from core.images.decode import ImageError
from core.models import preprocessing
from core.models.backbones import Preprocessing
from core.training import finetune

PREP = Preprocessing(8, 8, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), version=1)


def test_results_come_in_order_and_loading_stays_a_bounded_distance_ahead():
    pulled = []

    def items():
        for i in range(1000):
            pulled.append(i)
            yield i

    stream = decode_ahead(lambda i: i * i, items(), ahead=5)
    assert [next(stream) for _ in range(3)] == [(0, 0), (1, 1), (2, 4)]
    assert len(pulled) == 3 + 5  # the three consumed, five loading ahead: never the whole folder
    stream.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("decode")]  # no thread outlives it


def test_a_load_that_raises_surfaces_to_the_consumer():
    def load(i):
        if i == 2:
            raise RuntimeError("boom")
        return i

    stream = decode_ahead(load, range(5), ahead=2)
    assert [next(stream), next(stream)] == [(0, 0), (1, 1)]
    with pytest.raises(RuntimeError, match="boom"):
        next(stream)


def test_fine_tuning_decodes_the_next_batches_while_the_step_runs(monkeypatch):
    """While the consumer holds batch 1 (the training step), images of batch 2 are decoded without being
    asked for: decoding overlaps the step. Failures are left out and reported once, in order."""
    next_batch_decoding = threading.Event()
    loaded = []

    def fake_load(path, prep, views=(0,)):
        index = int(path.stem)
        loaded.append(index)
        if index >= 3:  # batch 2 of order 0..8 in batches of 3
            next_batch_decoding.set()
        if index in (4, 7):
            raise ImageError("not an image")
        return [np.full((3, 8, 8), index, np.float32)]

    monkeypatch.setattr(preprocessing, "load_preprocessed", fake_load)
    images = finetune._Images([Path(f"{i}.png") for i in range(9)], PREP)
    batches = images.batches(np.arange(9), batch_size=3)
    batch, kept = next(batches)
    assert next_batch_decoding.wait(timeout=30)  # the step has not asked for batch 2 yet
    assert kept.tolist() == [0, 1, 2] and batch[:, 0, 0, 0].tolist() == [0, 1, 2]
    rest = [kept.tolist() for _, kept in batches]
    assert rest == [[3, 5], [6, 8]]
    assert [n.message for n in images.new_failures()] == ["4.png: not an image (skipped)",
                                                           "7.png: not an image (skipped)"]
    loaded.clear()
    again = [kept.tolist() for _, kept in images.batches(np.arange(9), batch_size=3)]
    assert again == [[0, 1, 2], [3, 5], [6, 8]] and loaded == []  # the second epoch comes from memory
    assert images.new_failures() == []

"""How many threads torch's CPU kernels use, for one piece of work. Small tensors (a head, one image's
Grad-CAM) run best on one: with two, every operation waits for both, and as soon as another program competes
for the cores each takes up to ten times longer (measured: one image's Grad-CAM 0.2 s on one thread, 0.6-3 s
on two with the machine busy)."""
from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op threads set to `count` inside the block, and back to what they were after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)

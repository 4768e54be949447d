"""How fast this computer did each kind of training work, remembered between runs (a small JSON file in the
per-user cache), so that the estimate before a run and the ETA in its first seconds come from measurements
on this computer rather than from a guess. Until a first run has measured them, a cautious guess is used."""
from __future__ import annotations

import json
from dataclasses import dataclass

from core.atomic import write_text
from core.models.backbones import cache_dir

SPEEDS_FILE = "speeds.json"
# How much a new measurement moves the remembered figure: machines vary with load, so recent runs count most.
_WEIGHT = 0.5
# First guesses for a 2-core laptop CPU at 224 px (images a second); GPUs are taken as this many times faster.
# "load": seconds to load the network; "head-start": seconds before the head's first epoch (loading torch).
_GUESS = {"embed": 25.0, "fine-tune": 5.0, "head": 50_000.0, "load": 3.0, "head-start": 3.0}
_GPU_FACTOR = 10.0


@dataclass(frozen=True)
class Speed:
    value: float  # images a second; for "load" and "head-start", seconds
    measured: bool  # False: a first guess


def _key(kind: str, backbone: str, input_size: int, device: str) -> str:
    if kind in ("head", "head-start"):  # the head runs on the CPU whatever the device
        return kind
    return f"{kind}:{backbone}:{input_size}:{device.split(':')[0]}"


def _read() -> dict:
    try:
        data = json.loads((cache_dir() / SPEEDS_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def speed(kind: str, backbone: str, input_size: int, device: str) -> Speed:
    """The remembered speed of `kind` ("embed", "fine-tune", "head", "load"), or a guess."""
    value = _read().get(_key(kind, backbone, input_size, device))
    if isinstance(value, (int, float)) and value > 0:
        return Speed(float(value), True)
    guess = _GUESS[kind]
    if kind in ("embed", "fine-tune"):
        guess *= (224 / input_size) ** 2  # the work grows with the pixels
        if not device.startswith("cpu"):
            guess *= _GPU_FACTOR
    return Speed(guess, False)


def remember(measurements: dict[str, float], backbone: str, input_size: int, device: str) -> None:
    """Blend new measurements (kind -> value) into the remembered ones. Never fails a run: the file is only
    a help for estimates."""
    if not measurements:
        return
    data = _read()
    for kind, value in measurements.items():
        if value is None or value <= 0:
            continue
        key = _key(kind, backbone, input_size, device)
        old = data.get(key)
        data[key] = value if not isinstance(old, (int, float)) else _WEIGHT * value + (1 - _WEIGHT) * old
    try:
        write_text(cache_dir() / SPEEDS_FILE, json.dumps(data, indent=1, sort_keys=True))
    except OSError:
        pass

"""Whether the labelled images can train a classifier, and what is worth a warning: the rules `train`
enforces, in words for the Train view before the user presses Train."""
from __future__ import annotations

from dataclasses import dataclass

# Fewer images than this in a class cannot be split into training and validation images meaningfully.
MIN_IMAGES_PER_CLASS = 5
# Below this a class usually trains, but its accuracy figures rest on very few images.
FEW_IMAGES = 20
# The largest class this many times the smallest: the model will lean towards the large one.
IMBALANCE = 10


@dataclass(frozen=True)
class Readiness:
    blocked: str | None  # why training cannot run, or None
    warnings: tuple[str, ...]  # what may make the result worse, without stopping it


def _names(items: list[tuple[str, int]]) -> str:
    return ", ".join(f"{name!r} ({count})" for name, count in items)


def blocking_reason(counts: dict[str, int]) -> str | None:
    """counts: class name -> labelled readable images (empty classes included; they are left out)."""
    used = [(name, n) for name, n in counts.items() if n > 0]
    if len(used) < 2:
        return (f"Training needs labelled images in at least 2 classes; this project has {len(used)}. "
                "Label some images of each class first.")
    small = [(name, n) for name, n in used if n < MIN_IMAGES_PER_CLASS]
    if small:
        return (f"Each class needs at least {MIN_IMAGES_PER_CLASS} labelled images; too few in {_names(small)}. "
                "Label more images of these classes, or merge or delete them.")
    return None


def readiness(counts: dict[str, int]) -> Readiness:
    blocked = blocking_reason(counts)
    if blocked:
        return Readiness(blocked, ())
    used = [(name, n) for name, n in counts.items() if n > 0]
    warnings = []
    few = [(name, n) for name, n in used if n < FEW_IMAGES]
    if few:
        warnings.append(f"Few images in {_names(few)}: the model and its accuracy figures will be rough. "
                        f"{FEW_IMAGES} or more per class work better.")
    largest, smallest = max(used, key=lambda item: item[1]), min(used, key=lambda item: item[1])
    if largest[1] >= IMBALANCE * smallest[1]:
        warnings.append(f"The classes are very unequal ({largest[0]!r} has {largest[1]:,}, {smallest[0]!r} "
                        f"{smallest[1]:,}): the model will lean towards the larger ones.")
    empty = [name for name, n in counts.items() if n == 0]
    if empty:
        warnings.append(f"No labelled images in {', '.join(repr(e) for e in empty)}: left out of training.")
    return Readiness(None, tuple(warnings))

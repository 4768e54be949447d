"""Events that long operations yield. Frozen dataclasses: the CLI prints them, the GUI re-emits them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    phase: str  # what is being done, for a person: "Scanning", "Reading images", ...
    done: int
    total: int | None  # None while unknown (e.g. still walking the folder); None with done 0: not counted
    detail: str = ""
    unit: str = "images"  # what done and total count, plural: "images", "files", "folds"


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the work (a skipped file, a fallback)."""

    message: str

"""A span of time as the CLI and the window write it: "12 s", "3 min 05 s", "1 h 20 min"."""
from __future__ import annotations


def elapsed_text(seconds: float | None, decimals: int = 0, missing: str = "") -> str:
    """`decimals` places under a minute; `missing` when there is no figure."""
    if seconds is None:
        return missing
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.{decimals}f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"

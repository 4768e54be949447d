"""Shortening text for narrow places without cutting a word in half."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

ELLIPSIS = "…"


def elide_words(text: str, metrics: QFontMetrics, width: int) -> str:
    """`text` if it fits in `width` pixels; else as many whole words as fit, then "…". A first word that
    alone is too long is the only one cut (there is no better place)."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    words = text.split(" ")
    kept = ""
    for word in words:
        candidate = f"{kept} {word}" if kept else word
        if metrics.horizontalAdvance(candidate + ELLIPSIS) > width:
            break
        kept = candidate
    if not kept:
        return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
    return kept.rstrip(" ,;:-") + ELLIPSIS


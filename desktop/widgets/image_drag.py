"""Dragging images between views (the grid's or Review's thumbnails onto a class in the sidebar): one
encoding of the dragged image ids, written and read here only."""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData

IMAGE_IDS_MIME = "application/x-dovecote-image-ids"  # a JSON list of image ids


def image_ids_mime(ids) -> QMimeData:
    mime = QMimeData()
    mime.setData(IMAGE_IDS_MIME, json.dumps(sorted(set(ids))).encode("ascii"))
    return mime


def image_ids_from(mime: QMimeData) -> list[int]:
    return json.loads(bytes(mime.data(IMAGE_IDS_MIME)).decode("ascii"))

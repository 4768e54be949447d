"""Decoding images safely and fast (draft mode, EXIF orientation, size guard) and their thumbnails.
Imports only core.atomic and core.errors; no torch, no store."""

"""Dragging images between views: the grid's thumbnails onto a class in the sidebar."""

IMAGE_IDS_MIME = "application/x-dovecote-image-ids"  # a JSON list of image ids

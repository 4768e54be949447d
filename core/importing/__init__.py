"""Importing a folder into the store: walking it, hashing, reading image facts, labels from subfolders.
May import core.storage, core.images, core.project, core.events, core.errors."""

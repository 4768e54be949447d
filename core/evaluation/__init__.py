"""Honest evaluation: metrics, confusion with image ids, out-of-fold predictions, suspected label errors, run comparison.
May import core.models, core.features, core.training, core.storage, core.events, core.errors."""

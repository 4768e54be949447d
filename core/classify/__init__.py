"""Classifying folders with a model bundle: inference, the results CSV, sorting with an undo journal.
May import core.models, core.features, core.importing, core.images and below; never core.training."""

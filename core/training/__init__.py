"""Training runs as generators of events: the quick head on cached embeddings, fine-tuning, the run itself,
the int8 check of its model.
May import core.models, core.features, core.storage, core.images, core.events, core.errors."""

"""The networks: backbone registry and builders, preprocessing, the classifier, bundles and export.
May import core.images, core.atomic, core.errors; never core.storage, training or evaluation."""

"""The networks: backbone registry and builders, preprocessing, the classifier, bundles and export,
the int8 quantization of a backbone.
May import core.images, core.atomic, core.errors; never core.storage, training or evaluation."""

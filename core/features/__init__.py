"""Embeddings: running a backbone over images (ONNX Runtime on CPU, torch on GPUs) and caching the results.
May import core.models, core.images, core.storage, core.events, core.errors."""

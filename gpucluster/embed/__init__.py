"""Image collections to embeddings: discovery, decoding, preprocessing, models, store.

Names load on first use, so ``import gpucluster.embed`` imports neither torch
nor Pillow; only extraction, models and naming need torch.
"""

import importlib

_EXPORTS = {
    "discover_images": ".discover", "Discovery": ".discover", "IMAGE_EXTENSIONS": ".discover",
    "decode_image": ".decode", "ImageDecodeError": ".decode", "MAX_PIXELS": ".decode",
    "Preprocessing": ".preprocess", "PREPROCESSING_MODES": ".preprocess",
    "normalize_batch": ".preprocess", "load_and_preprocess": ".preprocess",
    "sample_paths": ".sampling",
    "EmbeddingStore": ".store", "StoreConfigError": ".store", "open_store": ".store",
    "load_store": ".store",
    "EmbeddingModel": ".models", "load_model": ".models", "from_module": ".models",
    "TINY_MODEL": ".models",
    "embed_images": ".extract", "EmbedReport": ".extract", "encode_paths": ".extract",
    "throughput": ".extract",
    "name_clusters": ".naming", "cluster_centroids": ".naming", "DEFAULT_TEMPLATES": ".naming",
    "DEFAULT_LABELS": ".naming",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))

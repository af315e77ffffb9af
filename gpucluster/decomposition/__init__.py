"""Dimensionality reduction with the scikit-learn API on every array backend: ``PCA``."""

from .pca import PCA

__all__ = ["PCA"]

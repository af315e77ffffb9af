"""Clustering estimators with scikit-learn's API."""

from .kmeans import KMeans, k_means, kmeans_plusplus

__all__ = ["KMeans", "k_means", "kmeans_plusplus"]

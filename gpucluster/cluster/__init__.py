"""Clustering estimators with scikit-learn's API."""

from .kmeans import KMeans, k_means, kmeans_plusplus
from .minibatch_kmeans import MiniBatchKMeans

__all__ = ["KMeans", "MiniBatchKMeans", "k_means", "kmeans_plusplus"]

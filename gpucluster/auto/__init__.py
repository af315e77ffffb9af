"""Automatic clustering: search algorithms and settings, score and rank the results.

:func:`search` tries every registered algorithm (KMeans / MiniBatchKMeans,
Ward agglomerative, FINCH, HDBSCAN, DBSCAN, OPTICS) over settings derived
from the data, scores each labelling with a composite of silhouette, size
balance and noise (:mod:`.scoring`), and returns a :class:`SearchResult`
whose ``save`` writes a results folder (:mod:`.schema`), read back with
:func:`load_result`. :func:`register_algorithm` adds an estimator to the
search; :func:`load_vectors` reads vectors from a store, .npy, .csv or .parquet, and
:func:`load_labels` a labelling from .npy. :func:`search_segmentation` tunes
the segmentation of one image (feature sets, segment counts, algorithms)
with the same scores.
"""

from .candidates import register_algorithm
from .inputs import load_labels, load_vectors
from .results import SearchResult, load_result
from .schema import SUMMARY_SCHEMA, ResultsError, validate_summary
from .search import search
from .segmentation import SegmentationSearch, search_segmentation

__all__ = [
    "ResultsError",
    "SUMMARY_SCHEMA",
    "SearchResult",
    "SegmentationSearch",
    "load_labels",
    "load_result",
    "load_vectors",
    "register_algorithm",
    "search",
    "search_segmentation",
    "validate_summary",
]

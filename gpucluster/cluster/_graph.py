"""The neighbour graph that HDBSCAN, DBSCAN, single linkage and FINCH can build on.

Each of them needs, for every row, its nearest other rows: HDBSCAN's core
distances and tree edges, DBSCAN's eps-neighbourhoods, single linkage's tree
edges and FINCH's first neighbours. Searched over all pairs that costs
O(n^2 d); ``kernels.knn_graph`` (an inverted-file search above its size
limit) makes it near-linear in n. This module holds the rule for when
"auto" takes the graph, and the one place an estimator asks for it, which
``auto.search`` overrides so that all its candidates share one graph.
"""

from .. import backend, kernels

# "auto" builds on a neighbour graph from this many rows and features of
# host data. Below 17 features the exact searches are KD-tree walks and grow
# near-linearly; above, on make_blobs(n, 256, centers=20) float32 with 2
# shared CPU cores (benchmarks/NOTES.md, "HDBSCAN on the neighbour graph"),
# the exact path and the graph cost about the same at 5k rows and the graph
# is ahead from 10k. On CUDA the exact paths stay: ``graph_mst`` is host-only.
GRAPH_MIN_ROWS = 10_000
GRAPH_MIN_FEATURES = 17
# Neighbours per row in the graph (at least what an estimator needs, such as
# HDBSCAN's min_samples - 1): measured on the same blobs (NOTES.md).
GRAPH_NEIGHBORS = 15


def graph_is_cheaper(X):
    """Whether "auto" takes the neighbour graph for X (n, d): host data with at least
    ``GRAPH_MIN_ROWS`` rows and ``GRAPH_MIN_FEATURES`` features."""
    return (not backend.is_cuda_array(X) and X.shape[0] >= GRAPH_MIN_ROWS
            and X.shape[1] >= GRAPH_MIN_FEATURES)


def takes_graph(algorithm, X):
    """Whether an estimator with this ``algorithm`` builds on the graph for X:
    "knn_graph" always, "auto" where ``graph_is_cheaper(X)``, anything else never."""
    if algorithm != "auto":
        return algorithm == "knn_graph"
    return graph_is_cheaper(X)


def graph_neighbors(needed, n_samples):
    """Neighbours per row of a graph that must hold ``needed`` of them: at least
    ``GRAPH_NEIGHBORS``, at most n_samples - 1."""
    return max(0, min(max(int(needed), GRAPH_NEIGHBORS), n_samples - 1))


class NeighbourGraphMixin:
    """``_neighbour_graph``: the one call through which an estimator gets its graph."""

    def _neighbour_graph(self, X, k, metric):
        """The k nearest other rows of each row of X: ``(distances, indices)``, (n, k),
        X's dtype and int64, ascending, in X's namespace and on its device.

        ``kernels.knn_graph`` with method "auto" (exact below its size limit).
        ``metric`` is one of its metrics ("sqeuclidean", "euclidean", "cosine").
        ``auto.search`` overrides this to hand every candidate one shared graph;
        a fit on a dask array sets ``_graph_source``, a function of the same
        arguments, to build the graph on the Dask cluster
        (:mod:`gpucluster.distributed.density`).
        """
        source = getattr(self, "_graph_source", None)
        if source is not None:
            return source(X, k, metric)
        return kernels.knn_graph(X, k, metric=metric, method="auto")

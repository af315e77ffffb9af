"""HDBSCAN and DBSCAN on a dask array: the neighbour graph on the cluster, the rest on the client.

Both algorithms are global: a cluster is a chain of neighbours that may run
through every chunk, and the spanning tree and the condensed tree are
sequential walks. So ``fit`` brings X's rows to the client (they must fit in
its memory) and runs the single-machine estimator there, with one change:
where the estimator builds on the neighbour graph (HDBSCAN with
``algorithm="knn_graph"``, or "auto" where the graph is the cheaper path;
DBSCAN with ``algorithm="knn_graph"``), the graph is the exact one of
:func:`.neighbors.knn_graph`, one task per pair of row chunks on the
workers: the O(n^2 d) part of the fit, spread over the cluster (its GPUs
with CuPy chunks). Elsewhere (the KD-tree paths of low-dimensional data,
the exact paths) the fit runs on the client alone.

The per-row results (``labels_``, and HDBSCAN's ``probabilities_`` and
``outlier_scores_``) become dask arrays chunked like X's rows; the other
attributes are of X's chunk type (NumPy or CuPy).
"""

from . import _chunks
from .neighbors import knn_graph

# The per-row attributes handed back as dask arrays chunked like X.
PER_ROW_ATTRIBUTES = ("labels_", "probabilities_", "outlier_scores_")


def _on_client(values):
    """A dask array's values on the client (of its chunk type); anything else as it is."""
    return values.compute() if _chunks.is_dask(values) else values


def fit(est, X, **fit_params):
    """``est.fit`` (HDBSCAN or DBSCAN) for a dask array X (n, d), its graph built on the cluster.

    ``fit_params`` (DBSCAN's ``sample_weight``) may be dask arrays too; they are
    brought to the client with X. Returns ``est``.
    """
    da = _chunks.dask_array()
    X = _chunks.check_array(X, name=type(est).__name__)
    rows = X.compute()

    def graph_on_cluster(points, k, metric):
        # The estimator measures X itself unless it rescaled the rows (see HDBSCAN's
        # kernel_rows) or left some out (HDBSCAN's non-finite rows); those rows go
        # back to the workers in chunks of X's size.
        source = (X if points is rows
                  else da.from_array(points, chunks=(max(X.chunks[0]), -1)))
        return knn_graph(source, k, metric)

    est._graph_source = graph_on_cluster
    try:
        est.fit(rows, **{name: _on_client(value) for name, value in fit_params.items()})
    finally:
        del est._graph_source
    for name in PER_ROW_ATTRIBUTES:
        if hasattr(est, name):
            setattr(est, name, da.from_array(getattr(est, name), chunks=(X.chunks[0],)))
    return est

"""The exact neighbour graph of a dask array's rows, one task per pair of row chunks.

Every (query chunk, data chunk) pair is one task on the worker that runs it:
``kernels.knn`` of the query chunk against the data chunk (matmul tiles and
the top-k merge, on the CPU or the GPU as the chunks live), its indices made
global. The candidates of one query chunk are then merged, by a tree of
``split_every`` parts at a time, into each row's k nearest other rows. The
work is O(n^2 d) spread over the workers, memory per task O(chunk * k);
only the (n, k) result comes back to the client. This is the graph that
HDBSCAN and DBSCAN on a dask array build on (:mod:`.density`), the rest of
their work running on the client.

Equal distances keep the lower index, as in ``kernels.knn_graph``: each
part is sorted so (the kernel's ties), parts are merged in chunk order and
the merge is a stable sort by distance.
"""

import numpy as np

from .. import backend, kernels
from . import _chunks

SPLIT_EVERY = 8


def _pair_candidates(queries, data, data_start, k, metric):
    """The k nearest rows of ``data`` (a chunk starting at global row ``data_start``) to each
    query row: (distances (m, k'), global indices (m, k')) with k' = min(k, rows of data)."""
    distances, indices = kernels.knn(data, min(k, data.shape[0]), queries=queries,
                                     metric=metric)
    return distances, indices + data_start


def _merge(parts, query_start, k):
    """The first k candidates by distance over ``parts`` (in chunk order), each query row's
    own global index dropped: (distances (m, k), indices (m, k)); fewer columns when the
    parts hold fewer candidates."""
    xp = backend.namespace(parts[0][0])
    distances = xp.concat([p[0] for p in parts], axis=1)
    indices = xp.concat([p[1] for p in parts], axis=1)
    rows = distances.shape[0]
    own = xp.arange(query_start, query_start + rows, dtype=indices.dtype,
                    device=backend.device(indices))
    distances = xp.where(indices == own[:, None], xp.asarray(xp.inf, dtype=distances.dtype),
                         distances)
    order = xp.argsort(distances, axis=1, stable=True)[:, :k]
    return xp.take_along_axis(distances, order, axis=1), xp.take_along_axis(indices, order, axis=1)


def _merge_tree(parts, query_start, k, split_every):
    """``parts`` (delayed candidate pairs, in chunk order) merged ``split_every`` at a time,
    at least once (a single part still holds the row itself)."""
    import dask

    merge = dask.delayed(_merge, pure=True)
    while True:
        parts = [merge(parts[i:i + split_every], query_start, k)
                 for i in range(0, len(parts), split_every)]
        if len(parts) == 1:
            return parts[0]


def knn_graph(X, k, metric="sqeuclidean", *, split_every=SPLIT_EVERY):
    """The k nearest other rows of every row of a dask array, exact, computed on the cluster.

    Parameters
    ----------
    X : dask.array.Array (n, d), float32 or float64, rows chunked (NumPy or CuPy chunks)
    k : int, 0 <= k <= n - 1
    metric : {"sqeuclidean", "euclidean", "cosine"}
    split_every : int >= 2
        Candidate sets merged per task.

    Returns
    -------
    distances : array (n, k), X's dtype, ascending per row
    indices : array (n, k), int64, never the row itself; ties go to the lower index
        Both of X's chunk type (NumPy or CuPy), on the client: the result of
        ``kernels.knn_graph(X, k, method="exact")`` up to the rounding of the
        products, which are taken per pair of chunks.

    Raises
    ------
    ValueError
        For k out of range, a bad ``split_every``, or X not a 2-D float array.
    """
    import dask

    X = _chunks.check_array(X, name="knn_graph")
    n = X.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n - 1:
        raise ValueError(f"k must be an integer in [0, {n - 1}], got {k!r}.")
    if isinstance(split_every, bool) or not isinstance(split_every, int) or split_every < 2:
        raise ValueError(f"split_every must be an integer >= 2, got {split_every!r}.")
    meta = _chunks.chunk_meta(X)
    xp = backend.namespace(meta)
    if k == 0:
        return (xp.empty((n, 0), dtype=X.dtype), xp.empty((n, 0), dtype=xp.int64))
    blocks = X.to_delayed(optimize_graph=False).ravel()
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
    filled = [i for i, rows in enumerate(X.chunks[0]) if rows > 0]
    pair = dask.delayed(_pair_candidates, pure=True)
    merged = []
    for i in filled:
        # One more candidate from the query's own chunk, which holds the row itself.
        parts = [pair(blocks[i], blocks[j], int(starts[j]), k + (i == j), metric)
                 for j in filled]
        merged.append(_merge_tree(parts, int(starts[i]), k, split_every))
    results = dask.compute(*merged)
    distances = xp.concat([r[0] for r in results], axis=0)
    indices = xp.concat([r[1] for r in results], axis=0)
    return distances, xp.astype(indices, xp.int64)

"""Mini-batch k-means on a dask array: ``partial_fit`` over the chunks as they arrive.

The model travels, the rows do not: a chain of tasks hands the estimator
from chunk to chunk, each task running the single-machine
``MiniBatchKMeans.partial_fit`` on its chunk in mini-batches of
``batch_size`` rows where the chunk lives. Chunks are computed in parallel
ahead of the chain and consumed in order, so a seed gives one result, the
one of the same ``partial_fit`` calls made in memory.
"""

import copy

import numpy as np

from . import _chunks
from .kmeans import predict, score

# Parameters the worker-side copy changes; everything else it learns is copied back.
_WORKER_PARAMS = ("compute_labels",)


def _fit_block(model, X, w):
    """``partial_fit`` on successive ``batch_size``-row slices of one chunk; returns the model."""
    n = X.shape[0]
    for start in range(0, n, int(model.batch_size)):
        stop = min(n, start + int(model.batch_size))
        model.partial_fit(X[start:stop, :], sample_weight=w[start:stop])
    return model


def partial_fit(est, X, sample_weight=None):
    """``MiniBatchKMeans.partial_fit`` for a dask array: one pass over its chunks, in order.

    Each chunk gives ``ceil(rows / batch_size)`` mini-batch steps (the first
    one initialises the centres when the estimator has none). With
    ``compute_labels``, ``labels_`` becomes the lazy labels of all of X and
    ``inertia_`` its inertia (one more pass).

    Returns
    -------
    est : the estimator, updated
    """
    import dask

    X = _chunks.check_array(X, name=type(est).__name__)
    if hasattr(est, "_centers"):
        from .kmeans import _checked

        _checked(est, X)
    weights = _chunks.row_weights(sample_weight, X)
    model = copy.copy(est)
    model.compute_labels = False
    model = dask.delayed(model)
    for xb, wb in zip(X.to_delayed()[:, 0], weights.to_delayed()):
        model = dask.delayed(_fit_block)(model, xb, wb)
    model = model.compute()
    if not hasattr(model, "_centers"):
        raise ValueError("partial_fit got a dask array without rows.")
    learned = {k: v for k, v in vars(model).items() if k not in _WORKER_PARAMS}
    vars(est).update(learned)
    est.cluster_centers_ = _chunks.like_chunk(np.asarray(model._centers),
                                              _chunks.chunk_meta(X))
    if est.compute_labels:
        est.labels_ = predict(est, X).persist()
        est.inertia_ = -score(est, X, sample_weight)
    return est


def fit(est, X, sample_weight=None):
    """``MiniBatchKMeans.fit`` for a dask array: a fresh model, then one ``partial_fit`` pass.

    ``n_iter_`` is 1 (one pass over the data); ``n_steps_`` counts the
    mini-batches. Call :func:`partial_fit` again for more passes.
    """
    for name in ("_centers", "_counts", "n_steps_", "_random_state",
                 "_n_since_last_reassign"):
        vars(est).pop(name, None)
    partial_fit(est, X, sample_weight)
    est.n_iter_ = 1
    return est

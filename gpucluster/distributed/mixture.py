"""Gaussian mixtures on a dask array: each EM step one map over chunks and one reduction.

Every chunk runs the single-machine pieces of
:mod:`gpucluster.cluster.mixture` where it lives: ``LogDensities`` and
``log_normalize`` for the E-step, ``Moments.add`` for the chunk's float64
sufficient statistics (component sizes, sums, second moments). Dask's tree
reduction adds them, and the client, which holds only the parameters,
finishes the M-step with ``Moments.parameters`` and ``precision_cholesky``.
``covariance_type="full"`` takes a second map per iteration, the scatter
about the new means (``Moments.add_scatter``), as on one machine, so no
covariance carries the cancellation of raw second moments.

The functions take the public estimator (``gpucluster.GaussianMixture``),
which hands a dask array over to them.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .. import backend
from .._validation import check_n_features
from ..cluster.mixture import (
    LogDensities,
    Moments,
    _squares,
    log_normalize,
    precision_cholesky,
)
from . import _chunks
from ._chunks import like_chunk

# --------------------------------------------------------------------------
# Per-chunk steps


def _on_chunk(params, X):
    return tuple(None if a is None else like_chunk(a, X) for a in params)


def _second_size(covariance_type, k, d):
    return {"full": 0, "tied": d * d, "diag": k * d, "spherical": k}[covariance_type]


def _pack(moments, log_prob_sum):
    parts = [moments.sizes, moments.sums]
    if moments.second is not None:
        parts.append(moments.second)
    return np.concatenate([_chunks.host64(p).reshape(-1) for p in parts] + [[log_prob_sum]])


def _e_step(X, params, covariance_type):
    """A chunk's centred rows, their ``_squares``, log-likelihoods and responsibilities."""
    weights, means, precisions_chol = _on_chunk(params, X)
    densities = LogDensities(weights, means, precisions_chol, covariance_type)
    Z = X - densities.center
    squares = _squares(Z, covariance_type)
    log_prob_norm, resp = log_normalize(densities(Z, squares))
    return densities.center, Z, squares, log_prob_norm, resp


def _em_block(X, params, covariance_type, width):
    """The chunk's E-step and its float64 M-step sums: sizes, sums, second moments, log-lik."""
    if X.shape[0] == 0:
        return np.zeros(width)
    center, Z, squares, log_prob_norm, resp = _e_step(X, params, covariance_type)
    xp = backend.namespace(X)
    moments = Moments(X, params[1].shape[0], covariance_type, center)
    moments.add(Z, squares, resp)
    return _pack(moments, float(xp.sum(xp.astype(log_prob_norm, xp.float64))))


def _resp_block(X, rows, labels, center, covariance_type, n_components, width, how):
    """Sums of initial responsibilities for one chunk (one-hot labels, or chosen rows)."""
    if X.shape[0] == 0:
        return np.zeros(width)
    xp = backend.namespace(X)
    c = like_chunk(center, X)
    Z = X - c
    components = xp.arange(n_components, dtype=xp.int64, device=backend.device(X))
    if how == "labels":
        resp = xp.astype(xp.astype(labels, xp.int64)[:, None] == components, X.dtype)
    else:  # "rows": labels holds the chosen global rows
        chosen = like_chunk(np.asarray(labels, dtype=np.int64), X)
        resp = xp.astype(xp.astype(rows, xp.int64)[:, None] == chosen[None, :], X.dtype)
    moments = Moments(X, n_components, covariance_type, c)
    moments.add(Z, _squares(Z, covariance_type), resp)
    return _pack(moments, 0.0)


def _scatter_block(X, params, covariance_type, center, sizes, sums):
    """"full": the chunk's scatter about the new means, (k * d * d,) float64.

    ``sizes`` and ``sums`` are the reduced ``Moments`` sums; the chunk's
    responsibilities are those of the E-step (recomputed from ``params``).
    """
    k, d = sums.shape
    if X.shape[0] == 0:
        return np.zeros(k * d * d)
    _, Z, _, _, resp = _e_step(X, params, covariance_type)
    moments = Moments(X, k, covariance_type, like_chunk(center, X))
    moments.sizes, moments.sums = like_chunk(sizes, X), like_chunk(sums, X)
    moments.add_scatter(Z, resp)
    return _chunks.host64(moments.scatter).reshape(-1)


# --------------------------------------------------------------------------
# Reductions and the M-step on the client


def _moments_from(total, X, n_components, covariance_type, center):
    """A host ``Moments`` holding the reduced sums (and the log-likelihood sum)."""
    k, d = n_components, X.shape[1]
    moments = Moments(np.empty((0, d), dtype=X.dtype), k, covariance_type,
                      np.asarray(center, dtype=X.dtype))
    moments.sizes = total[:k]
    moments.sums = total[k:k + k * d].reshape(k, d)
    n_second = _second_size(covariance_type, k, d)
    if n_second:
        moments.second = total[k + k * d:k + k * d + n_second].reshape(moments.second.shape)
    return moments, float(total[-1])


def _finish(X, moments, params, covariance_type, reg_covar):
    """The M-step: "full"'s scatter pass, then (sizes, means, covariances, precisions_chol)."""
    if covariance_type == "full":
        k, d = moments.sums.shape
        total = _chunks.reduce_rows(
            _scatter_block, X,
            args=(params, covariance_type, moments.center, moments.sizes, moments.sums),
            width=k * d * d).compute()
        moments.scatter = total.reshape(k, d, d)
    sizes, means, covariances = moments.parameters(reg_covar)
    return sizes, means, covariances, precision_cholesky(covariances, covariance_type)


def em_step(X, params, reg_covar, covariance_type):
    """One EM iteration on a dask array: ``em_iteration``'s result, params as NumPy.

    ``params`` is (weights, means, covariances, precisions_chol).
    Returns (new params, mean log-likelihood of X under ``params``).
    """
    weights, means, _, precisions_chol = params
    k, d = means.shape
    small = (weights, means, precisions_chol)
    width = k + k * d + _second_size(covariance_type, k, d) + 1
    total = _chunks.reduce_rows(_em_block, X, args=(small, covariance_type, width),
                                width=width).compute()
    center = np.sum(weights[:, None] * means, axis=0)
    moments, log_prob_sum = _moments_from(total, X, k, covariance_type, center)
    sizes, means, covariances, chol = _finish(X, moments, small, covariance_type, reg_covar)
    return (sizes / np.sum(sizes), means, covariances, chol), log_prob_sum / X.shape[0]


# --------------------------------------------------------------------------
# Initialisation


def _column_sums(X):
    xp = backend.namespace(X)
    return xp.sum(xp.astype(X, xp.float64), axis=0)


def _column_mean(X):
    """Column means of X (X's dtype), the centre of the initial M-step."""
    return (_chunks.reduce_rows(_column_sums, X, width=X.shape[1]).compute()
            / X.shape[0]).astype(X.dtype)


def _from_responsibilities(X, est, labels, how):
    """(sizes, means, covariances, precisions_chol) from one-hot labels or chosen rows."""
    da = _chunks.dask_array()
    k, d = est.n_components, X.shape[1]
    kind = est.covariance_type
    n = X.shape[0]
    center = _column_mean(X)
    rows = da.arange(n, chunks=(X.chunks[0],), dtype=np.int64)
    width = k + k * d + _second_size(kind, k, d) + 1
    # One-hot labels travel as a row array; chosen rows as one small argument.
    row_arrays, extra = ((rows, labels), ()) if how == "labels" else ((rows,), (labels,))
    total = _chunks.reduce_rows(_resp_block, X, *row_arrays,
                                args=(*extra, center, kind, k, width, how), width=width).compute()
    moments, _ = _moments_from(total, X, k, kind, center)
    return _finish_init(X, moments, kind, est.reg_covar, row_arrays, extra, how)


def _init_scatter_block(X, rows, labels, center, sizes, sums, how, covariance_type):
    """"full" at initialisation: the chunk's scatter of the initial responsibilities."""
    k, d = sums.shape
    if X.shape[0] == 0:
        return np.zeros(k * d * d)
    xp = backend.namespace(X)
    c = like_chunk(center, X)
    Z = X - c
    components = xp.arange(k, dtype=xp.int64, device=backend.device(X))
    if how == "labels":
        resp = xp.astype(xp.astype(labels, xp.int64)[:, None] == components, X.dtype)
    else:
        chosen = like_chunk(np.asarray(labels, dtype=np.int64), X)
        resp = xp.astype(xp.astype(rows, xp.int64)[:, None] == chosen[None, :], X.dtype)
    moments = Moments(X, k, covariance_type, c)
    moments.sizes, moments.sums = like_chunk(sizes, X), like_chunk(sums, X)
    moments.add_scatter(Z, resp)
    return _chunks.host64(moments.scatter).reshape(-1)


def _finish_init(X, moments, kind, reg_covar, row_arrays, extra, how):
    """``finish_m_step`` for the initial responsibilities (the scatter pass for "full")."""
    if kind == "full":
        k, d = moments.sums.shape
        args = (*extra, moments.center, moments.sizes, moments.sums, how, kind)
        total = _chunks.reduce_rows(_init_scatter_block, X, *row_arrays, args=args,
                                    width=k * d * d)
        moments.scatter = total.compute().reshape(k, d, d)
    sizes, means, covariances = moments.parameters(reg_covar)
    return sizes, means, covariances, precision_cholesky(covariances, kind)


def initial_parameters(est, X, initial, random_state):
    """(weights, means, covariances, precisions_chol) as NumPy, as ``_initial_parameters``.

    "random_from_data" draws the rows as scikit-learn does (same seed, same
    rows); "kmeans" fits the distributed KMeans (k-means|| seeding);
    "k-means++" takes the rows k-means|| picks; "random" draws
    responsibilities per chunk (seeded from ``random_state``, not
    scikit-learn's stream, which would need all n x k draws on the client).
    """
    initial = [None if a is None else np.asarray(a, dtype=X.dtype) for a in initial]
    return est._initial_parameters(
        X, initial, random_state, estimate=lambda X, random_state: _estimated(est, X, random_state))


def _estimated(est, X, random_state):
    from ..cluster.kmeans import KMeans
    from . import kmeans as dkmeans

    k = est.n_components
    if est.init_params == "random_from_data":
        chosen = random_state.choice(X.shape[0], size=k, replace=False)
        return _from_responsibilities(X, est, np.asarray(chosen, dtype=np.int64), "rows")
    if est.init_params == "k-means++":
        weights = _chunks.row_weights(None, X)
        norms = X.map_blocks(dkmeans._norms_block, "euclidean", drop_axis=1, dtype=np.float64,
                             meta=_chunks.empty_like_chunks(X, 1, np.float64))
        _, chosen = dkmeans.kmeans_parallel(X, weights, norms, k, random_state)
        return _from_responsibilities(X, est, chosen, "rows")
    if est.init_params == "kmeans":
        km = dkmeans.fit(KMeans(n_clusters=k, n_init=1, random_state=random_state), X)
        return _from_responsibilities(X, est, km.labels_, "labels")
    return _random_responsibilities(est, X, random_state)


def _random_resp(X, seed, k):
    """Uniform responsibilities of one chunk's rows, normalised per row, from ``seed``."""
    resp = np.random.RandomState(seed).uniform(size=(X.shape[0], k))
    return like_chunk((resp / resp.sum(axis=1)[:, None]).astype(X.dtype), X)


def _random_block(X, chunk_ids, seeds, covariance_type, k, width, center, sizes, sums):
    """Sums (or, with ``sizes`` and ``sums``, "full"'s scatter) of a chunk's random
    responsibilities; the chunk finds its seed by its first global row."""
    if X.shape[0] == 0:
        return np.zeros(width)
    seed = seeds[int(backend.to_numpy(chunk_ids)[0])]
    resp = _random_resp(X, seed, k)
    c = like_chunk(center, X)
    Z = X - c
    moments = Moments(X, k, covariance_type, c)
    if sizes is None:
        moments.add(Z, _squares(Z, covariance_type), resp)
        return _pack(moments, 0.0)
    moments.sizes, moments.sums = like_chunk(sizes, X), like_chunk(sums, X)
    moments.add_scatter(Z, resp)
    return _chunks.host64(moments.scatter).reshape(-1)


def _random_responsibilities(est, X, random_state):
    """"random": uniform responsibilities drawn per chunk from seeds of ``random_state``."""
    da = _chunks.dask_array()
    k, d, kind = est.n_components, X.shape[1], est.covariance_type
    center = _column_mean(X)
    width = k + k * d + _second_size(kind, k, d) + 1
    # One seed per chunk, found by the chunk's first row (its index among the chunks).
    seeds = random_state.randint(0, 2**31 - 1, size=X.numblocks[0])
    chunk_ids = da.concatenate([da.full(n, i, chunks=(n,), dtype=np.int64)
                                for i, n in enumerate(X.chunks[0])])
    total = _chunks.reduce_rows(_random_block, X, chunk_ids,
                                args=(seeds, kind, k, width, center, None, None),
                                width=width).compute()
    moments, _ = _moments_from(total, X, k, kind, center)
    if kind == "full":
        scatter = _chunks.reduce_rows(
            _random_block, X, chunk_ids,
            args=(seeds, kind, k, k * d * d, center, moments.sizes, moments.sums),
            width=k * d * d).compute()
        moments.scatter = scatter.reshape(k, d, d)
    sizes, means, covariances = moments.parameters(est.reg_covar)
    return sizes, means, covariances, precision_cholesky(covariances, kind)


# --------------------------------------------------------------------------
# The estimator's methods on dask arrays


def fit_predict(est, X, y=None):
    """``GaussianMixture.fit_predict`` for a dask array; returns the lazy int64 labels.

    Sets the fitted attributes as NumPy, or the chunks' array type
    (``means_``, ``covariances_``, ...), and ``lower_bound_`` etc.
    """
    X = _chunks.check_array(X, name=type(est).__name__)
    initial = est._check_params(X)
    do_init = not (est.warm_start and hasattr(est, "converged_"))
    if not do_init and est.means_.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features, but GaussianMixture is expecting "
            f"{est.means_.shape[1]} features as input."
        )
    _chunks.stats(X, _chunks.row_weights(None, X))  # NaN and infinity
    X = X.persist()
    best = est._best_run(
        X, do_init, lambda random_state: (initial_parameters(est, X, initial, random_state)
                                          if do_init else _fitted(est, X)),
        step=em_step, stacklevel=5)
    meta = _chunks.chunk_meta(X)
    params = tuple(like_chunk(p, meta) for p in best[0])
    est._set_run((params, *best[1:]), meta, X.shape[1])
    return predict(est, X)


def fit(est, X, y=None):
    """``GaussianMixture.fit`` for a dask array."""
    fit_predict(est, X, y)
    return est


def _fitted(est, X):
    return tuple(np.asarray(backend.to_numpy(getattr(est, name)), dtype=X.dtype)
                 for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"))


def _checked(est, X):
    check_is_fitted(est)
    X = _chunks.check_array(X, name=type(est).__name__)
    check_n_features(est, X)
    return X


def _method_block(X, est, method, empty_shape, dtype):
    """``est.<method>(X_chunk)``: the single-machine method on one chunk (empty chunks too)."""
    if X.shape[0] == 0:
        xp = backend.namespace(X)
        return xp.zeros((0, *empty_shape), dtype=dtype, device=backend.device(X))
    out = getattr(est, method)(X)
    return backend.asarray_like(out, X)


def _per_chunk(est, X, method, width, dtype):
    X = _checked(est, X)
    dtype = X.dtype if dtype is None else dtype
    shape = () if width is None else (width,)
    return _chunks.map_rows(_method_block, X, args=(est, method, shape, dtype), dtype=dtype,
                            width=width,
                            meta=_chunks.empty_like_chunks(X, 1 + len(shape), dtype))


def predict(est, X):
    """Lazy int64 labels of a dask array, per chunk."""
    return _per_chunk(est, X, "predict", None, np.int64)


def predict_proba(est, X):
    """Lazy posterior probabilities (n_samples, n_components), X's dtype, per chunk."""
    return _per_chunk(est, X, "predict_proba", int(est.weights_.shape[0]), None)


def score_samples(est, X):
    """Lazy per-row log-likelihoods, X's dtype, per chunk."""
    return _per_chunk(est, X, "score_samples", None, None)


def score_and_count(est, X):
    """(mean log-likelihood as a Python float, n_samples), for ``score``, ``bic`` and ``aic``."""
    log_prob = score_samples(est, X)
    return float(log_prob.astype(np.float64).mean().compute()), int(X.shape[0])


def score(est, X, y=None):
    """Mean log-likelihood of the rows of a dask array (float64 sums), a Python float."""
    return score_and_count(est, X)[0]

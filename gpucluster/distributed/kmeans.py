"""K-means on a dask array: k-means|| seeding, then Lloyd iterations as one map and one reduction.

Every chunk runs the single-machine code of :mod:`gpucluster.cluster.kmeans`
(``lloyd_pass``: the ``lloyd_step`` kernel, float64 sums and weights per
centre) on its own device. The prepared rows, weights and norms are persisted
once; each iteration is then one small graph (``_chunks.Blocks``): one task
per worker thread over the chunks that worker holds, the centres entering the
graph once, the per-task sums added by a tree and on the client, which holds
only the centres and takes the step. The
loop is ``kmeans_single_lloyd``'s: the same centring, tolerance, empty-cluster
relocation (``relocate_empty_clusters`` on the farthest rows of each chunk)
and final E-step, so from the same initial centres the result is the
single-machine one up to the order of the float64 sums.

The functions take the public estimator (``gpucluster.KMeans``), which hands
a dask array over to them: ``fit`` sets its attributes (``labels_`` a dask
array, ``cluster_centers_`` the chunks' array type), ``predict`` and
``transform`` return lazy dask arrays.
"""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import backend
from .._distances import row_norms_sq
from .._validation import check_input, check_n_features, check_option
from ..cluster.kmeans import (
    DENSE,
    KMEANS_PARALLEL_OVERSAMPLING,
    KMEANS_PARALLEL_ROUNDS,
    center_distances,
    centers_from_sums,
    check_kmeans_params,
    finish_centers,
    inertia_from_differences,
    kmeans_plusplus,
    labels_and_distances,
    labels_and_inertia,
    lloyd_pass,
    nearest_centers,
    prepare_for_metric,
    relocate_empty_clusters,
    validate_center_shape,
    weighted_sum,
)
from . import _chunks
from ._chunks import like_chunk

# --------------------------------------------------------------------------
# Per-chunk steps (run on the workers; small arguments arrive as NumPy)


def _prepare_block(X, metric, offset):
    """A chunk made ready for the metric: unit rows for cosine, minus ``offset`` when centred."""
    X = prepare_for_metric(X, metric)
    return X if offset is None else X - like_chunk(offset, X)


def _norms_block(X, metric):
    xp = backend.namespace(X)
    if metric != "euclidean" or X.shape[0] == 0:
        return xp.zeros(X.shape[0], dtype=xp.float64, device=backend.device(X))
    return row_norms_sq(X)


def _lloyd_block(X, w, norms, centers, metric):
    """One chunk's Lloyd pass: the float64 sums and weights per centre, and its inertia."""
    k, d = centers.shape
    if X.shape[0] == 0:
        return np.zeros(k * d + k + 1)
    _, distances, sums, weights = lloyd_pass(
        X, like_chunk(centers, X), w, metric, norms if metric == "euclidean" else None)
    return np.concatenate([_chunks.host64(sums).reshape(-1), _chunks.host64(weights),
                           [weighted_sum(distances, w)]])


def _labels_block(X, w, norms, centers, metric):
    """A chunk's labels (int32, X's kind) and one float64 vector: its weighted inertia,
    then its cluster sizes."""
    k = centers.shape[0]
    xp = backend.namespace(X)
    if X.shape[0] == 0:
        return xp.zeros(0, dtype=xp.int32, device=backend.device(X)), np.zeros(k + 1)
    centers = like_chunk(centers, X)
    if metric == "euclidean":
        # As the single-machine fit: the inertia from the differences, not the GEMM's
        # rounding, so the kernel's distances are not asked for (the CPU kernel then
        # neither writes them nor reads the norms; the CUDA one computes them anyway).
        labels, _ = labels_and_distances(X, centers, metric, norms, with_distances=False)
        inertia = inertia_from_differences(X, centers, labels, w)
    else:
        labels, distances = labels_and_distances(X, centers, metric)
        inertia = weighted_sum(distances, w)
    if labels.dtype != xp.int32:
        labels = xp.astype(labels, xp.int32)
    sizes = backend.bincount(xp.astype(labels, xp.int64), minlength=k)
    return labels, np.concatenate([[inertia], _chunks.host64(sizes)])


def _same_rows(X, values):
    """``values`` (a chunk of per-row values) as a task of X's chunk, so it lives beside it."""
    return values


def _farthest_block(X, w, norms, centers, metric, n_far):
    """The ``n_far`` rows of a chunk farthest from their centres, with their labels and weights.

    The rows relocated to empty clusters are the farthest of all, so they
    are among the farthest of their chunk; ``relocate_empty_clusters`` then
    picks them from these candidates.
    """
    n = X.shape[0]
    d = centers.shape[1]
    if n == 0:
        return np.zeros((0, d), dtype=X.dtype), np.zeros(0, np.int32), np.zeros(0, X.dtype)
    labels, _ = labels_and_distances(X, like_chunk(centers, X), metric,
                                     norms if metric == "euclidean" else None)
    rows = backend.to_numpy(X).astype(X.dtype, copy=False)
    labels = backend.to_numpy(labels)
    diff = rows - np.asarray(centers)[labels]
    distances = np.einsum("ij,ij->i", diff, diff)
    if n_far < n:
        keep = np.sort(np.argpartition(distances, n - n_far)[n - n_far:])
    else:
        keep = np.arange(n)
    return rows[keep], labels[keep], backend.to_numpy(w)[keep]


# --------------------------------------------------------------------------
# k-means|| on chunks


def _update_block(X, norms, state, candidates, first_id):
    """Lower each row's distance to its nearest candidate with new ``candidates``.

    ``state`` is (rows, 2) float64: the squared distance to the nearest
    candidate so far and that candidate's id; new candidates are numbered
    from ``first_id``.
    """
    xp = backend.namespace(X)
    if X.shape[0] == 0:
        return xp.zeros((0, 2), dtype=xp.float64, device=backend.device(X))
    labels, sq = DENSE.assign(X, like_chunk(candidates, X), x_sq_norms=norms)
    sq = xp.astype(sq, xp.float64)
    if state is None:
        return xp.stack([sq, xp.astype(labels, xp.float64) + first_id], axis=1)
    closer = sq < state[:, 0]
    return xp.stack([xp.where(closer, sq, state[:, 0]),
                     xp.where(closer, xp.astype(labels, xp.float64) + first_id, state[:, 1])],
                    axis=1)


def _potential_block(X, w, state):
    """sum(w * D^2) of a chunk (sum(w) before the first candidate, when ``state`` is None)."""
    xp = backend.namespace(X)
    w = xp.astype(w, xp.float64)
    return [float(xp.sum(w if state is None else w * state[:, 0]))]


def _draw_block(X, w, state, values):
    """Local row indices where the chunk's cumulative potential reaches ``values``, and
    those rows (NumPy)."""
    xp = backend.namespace(w)
    potential = xp.astype(w, xp.float64)
    if state is not None:
        potential = potential * state[:, 0]
    cumulative = backend.to_numpy(xp.cumulative_sum(potential))
    ids = np.minimum(np.searchsorted(cumulative, values), cumulative.shape[0] - 1)
    rows = backend.namespace(X).take(X, backend.asarray_like(ids, X), axis=0)
    return ids, backend.to_numpy(rows)


def _candidate_weights_block(X, w, state, n_candidates):
    """Weight of the rows nearest to each candidate, for one chunk."""
    if X.shape[0] == 0:
        return np.zeros(n_candidates)
    xp = backend.namespace(X)
    nearest = xp.astype(state[:, 1], xp.int64)
    return _chunks.host64(backend.bincount(nearest, weights=xp.astype(w, xp.float64),
                                           minlength=n_candidates))


def draw_rows(X, weights, state, n_draws, random_state):
    """``n_draws`` rows drawn with replacement in proportion to w (or w * D^2).

    The host draws uniform numbers against the per-chunk potentials; each
    chunk with draws turns its share into row ids by a search of its own
    cumulative potential and returns those rows, so no per-row array reaches
    the client. Returns (global ids, rows), both in draw order sorted by id.
    """
    import dask

    rows = [weights] if state is None else [weights, state]
    fn = (lambda X, w: _potential_block(X, w, None)) if state is None else _potential_block
    potentials = _chunks.per_chunk(fn, X, *rows, width=1).compute()[:, 0]
    bounds = np.cumsum(potentials)
    if bounds[-1] <= 0.0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, X.shape[1]), dtype=X.dtype)
    values = np.sort(random_state.uniform(size=n_draws) * bounds[-1])
    which = np.minimum(np.searchsorted(bounds, values, side="right"), len(bounds) - 1)
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
    tasks, offsets = [], []
    x_blocks = X.to_delayed()[:, 0]
    w_blocks = weights.to_delayed()
    s_blocks = None if state is None else state.to_delayed()[:, 0]
    for c in np.unique(which).tolist():
        local = values[which == c] - (bounds[c] - potentials[c])
        tasks.append(dask.delayed(_draw_block)(
            x_blocks[c], w_blocks[c], None if s_blocks is None else s_blocks[c], local))
        offsets.append(starts[c])
    found = dask.compute(*tasks)
    ids = np.concatenate([f[0] + off for f, off in zip(found, offsets)]).astype(np.int64)
    return ids, np.concatenate([f[1] for f in found])


def kmeans_parallel(X, weights, norms, n_clusters, random_state, *,
                    n_rounds=KMEANS_PARALLEL_ROUNDS,
                    oversampling_factor=KMEANS_PARALLEL_OVERSAMPLING):
    """k-means|| on a dask array: initial centres (NumPy, X's dtype) and the rows they are.

    As :func:`gpucluster.cluster.kmeans.kmeans_parallel`: one candidate
    drawn by weight, then ``n_rounds`` rounds each drawing
    ``oversampling_factor * n_clusters`` rows by w D^2 and lowering D with one
    map over the chunks (the ``assign`` kernel against the new candidates);
    the candidates, weighted by the rows nearest to them, are reduced to
    ``n_clusters`` centres by greedy k-means++ on the client. Per round:
    two passes over the chunks (potentials, update) plus a small draw.

    Returns
    -------
    centers : ndarray (n_clusters, n_features)
    indices : ndarray (n_clusters,), int64, global rows of X chosen
    """
    n_samples = X.shape[0]
    ids, candidates = draw_rows(X, weights, None, 1, random_state)
    chosen = ids.tolist()
    state = _update(X, norms, None, candidates, 0)
    n_draws = max(1, int(math.ceil(oversampling_factor * n_clusters)))
    for _ in range(n_rounds):
        ids, rows = draw_rows(X, weights, state, n_draws, random_state)
        new, first = np.unique(ids, return_index=True)
        fresh = ~np.isin(new, chosen)
        new, rows = new[fresh], rows[first[fresh]]
        if new.shape[0] == 0:
            continue
        state = _update(X, norms, state, rows, len(chosen))
        chosen.extend(new.tolist())
        candidates = np.concatenate([candidates, rows])
    if len(chosen) < n_clusters:
        # Fewer distinct rows drawn than clusters (data with few distinct rows): top up
        # with rows drawn by weight, as "random" would.
        extra = np.setdiff1d(random_state.choice(n_samples, size=2 * n_clusters), chosen)
        rows = np.concatenate([candidates, _chunks.gather_rows(X, extra)])[:n_clusters]
        return rows, np.concatenate([chosen, extra]).astype(np.int64)[:n_clusters]
    candidate_weights = _chunks.reduce_rows(
        _candidate_weights_block, X, weights, state, args=(len(chosen),),
        width=len(chosen)).compute()
    centers, picked = kmeans_plusplus(candidates, n_clusters, sample_weight=candidate_weights,
                                      random_state=random_state)
    return centers, np.asarray(chosen, dtype=np.int64)[picked]


def _update(X, norms, state, candidates, first_id):
    """The new (rows, 2) state after ``_update_block``, persisted on the workers."""
    if state is None:
        return _chunks.map_rows(
            lambda X, n, c, f: _update_block(X, n, None, c, f), X, norms,
            args=(candidates, first_id), dtype=np.float64, width=2,
            meta=_chunks.empty_like_chunks(X, 2, np.float64)).persist()
    return _chunks.map_rows(_update_block, X, norms, state, args=(candidates, first_id),
                            dtype=np.float64, width=2,
                            meta=_chunks.empty_like_chunks(X, 2, np.float64)).persist()


# --------------------------------------------------------------------------
# The Lloyd loop


def _relocate(blocks, centers, sums, sizes, metric):
    """``relocate_empty_clusters`` on the farthest rows of each chunk (only when one is empty)."""
    n_empty = int(np.sum(sizes == 0))
    parts = blocks.collect(_farthest_block, centers, metric, n_empty)
    rows = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]).astype(np.int32)
    w = np.concatenate([p[2] for p in parts])
    return relocate_empty_clusters(rows, w, labels, centers, sums, sizes)


def lloyd(blocks, centers, *, max_iter, tol, metric, verbose=0):
    """Lloyd iterations from ``centers`` (NumPy) over ``blocks`` (:class:`_chunks.Blocks`
    of the prepared rows, their weights and their norms); returns (centers, n_iter).

    Each iteration is one pass: a task per group of chunks runs ``lloyd_pass``
    on each of its chunks, the float64 sums are added by a small tree, and the
    centres enter the graph once. The convergence tests are
    ``kmeans_single_lloyd``'s (an iteration that keeps every label moves no
    centre, so the shift test stops at the same iteration as the strict one).
    """
    k, d = centers.shape
    dtype = blocks.arrays[0].dtype
    i = 0
    for i in range(max_iter):
        total = blocks.reduce(_lloyd_block, centers, metric)
        sums, sizes = total[:k * d].reshape(k, d), total[k * d:k * d + k]
        if verbose:
            print(f"Iteration {i}, inertia {total[-1]}.")
        if np.any(sizes == 0):
            sums, sizes = _relocate(blocks, centers, sums, sizes, metric)
        centers_new = finish_centers(centers_from_sums(sums, sizes, dtype), metric)
        diff = (centers_new - centers).astype(np.float64)
        shift = float(np.sum(diff * diff))
        centers = centers_new
        if shift <= tol:
            if verbose:
                print(f"Converged at iteration {i}: center shift {shift} within tolerance {tol}.")
            break
    return centers, i + 1


def final_labels(blocks, centers, metric):
    """The E-step with the final centres, in one pass: labels (a persisted int32 dask
    array), inertia and the number of non-empty clusters."""
    meta = _chunks.empty_like_chunks(blocks.arrays[0], 1, np.int32)
    labels, total = blocks.map_reduce(_labels_block, centers, metric, meta=meta)
    return labels, float(total[0]), int(np.count_nonzero(total[1:]))


# --------------------------------------------------------------------------
# The estimator's methods on dask arrays


def _prepared(X, metric, offset=None):
    meta = _chunks.chunk_meta(X)
    return X.map_blocks(_prepare_block, metric, offset, dtype=X.dtype, meta=meta)


def _initial_centers(est, init, Xw, weights, norms, offset, random_state):
    """Initial centres (NumPy, Xw's coordinates) from the estimator's ``init``."""
    k = est.n_clusters
    if isinstance(init, str) and init in ("k-means++", "k-means||"):
        # Greedy k-means++ needs a pass per centre; on chunks k-means|| replaces it.
        centers, _ = kmeans_parallel(Xw, weights, norms, k, random_state)
    elif isinstance(init, str):  # "random": rows drawn by weight without replacement
        w = backend.to_numpy(weights.compute()).astype(np.float64)
        seeds = random_state.choice(Xw.shape[0], size=k, replace=False, p=w / w.sum())
        centers = _chunks.gather_rows(Xw, seeds)
    else:
        if callable(init):
            init = init(Xw, k, random_state=random_state)
            offset = None  # computed on Xw's coordinates already
        centers = backend.to_numpy(check_input(backend.to_numpy(backend.coerce_array(init)),
                                               name="init")).astype(Xw.dtype)
        validate_center_shape(centers, k, Xw.shape[1])
        if offset is not None:
            centers = centers - offset
        centers = prepare_for_metric(centers, est.metric)
    return finish_centers(np.asarray(centers, dtype=Xw.dtype), est.metric)


def fit(est, X, sample_weight=None):
    """``KMeans.fit`` for a dask array X (rows chunked; NumPy or CuPy chunks).

    Sets ``cluster_centers_`` (the chunks' array type), ``labels_`` (a
    persisted int32 dask array), ``inertia_``, ``n_iter_`` and
    ``n_features_in_``. ``init="k-means++"`` runs k-means|| (greedy
    k-means++ would need a pass over the data per centre); an array ``init``
    is used exactly. The prepared rows (centred, or unit rows for cosine)
    and their norms are persisted on the workers for the iterations.
    """
    X = _chunks.check_array(X, min_samples=1, name=type(est).__name__)
    n_init = check_kmeans_params(est, X)
    check_option(est.algorithm, "algorithm", ("lloyd", "elkan"))
    random_state = check_random_state(est.random_state)
    weights = _chunks.row_weights(sample_weight, X)
    Xm = X if est.metric == "euclidean" else _prepared(X, est.metric)
    mean, mean_sq_norm = _chunks.stats(Xm, weights)
    mean = mean.astype(X.dtype)
    mean_sq = float(np.dot(mean.astype(np.float64), mean))
    total_variance = max(mean_sq_norm - mean_sq, 0.0)
    offset = mean if est.metric == "euclidean" and mean_sq > total_variance else None
    Xw = Xm if offset is None else _prepared(X, est.metric, offset)
    tol = est.tol * total_variance / X.shape[1]
    norms = Xw.map_blocks(_norms_block, est.metric, drop_axis=1, dtype=np.float64,
                          meta=_chunks.empty_like_chunks(X, 1, np.float64))
    # The weights become tasks of Xw's chunks, so that each worker holds its rows' weights.
    weights = _chunks.map_rows(_same_rows, Xw, weights, dtype=weights.dtype,
                               meta=_chunks.chunk_meta(weights))
    Xw, norms, weights = _persist(Xw, norms, weights)
    blocks = _chunks.Blocks(Xw, weights, norms)
    init = est.init
    best = None
    for _ in range(n_init):
        centers = _initial_centers(est, init, Xw, weights, norms, offset, random_state)
        if est.verbose:
            print("Initialization complete")
        centers, n_iter = lloyd(blocks, centers, max_iter=est.max_iter, tol=tol,
                                metric=est.metric, verbose=est.verbose)
        labels, inertia, distinct = final_labels(blocks, centers, est.metric)
        if best is None or inertia < best[1]:
            best = (labels, inertia, centers, n_iter, distinct)
    labels, inertia, centers, n_iter, distinct = best
    if distinct < est.n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
            f"({est.n_clusters}). Possibly due to duplicate points in X.",
            ConvergenceWarning, stacklevel=3,
        )
    if offset is not None:
        centers = centers + offset
    est._centers = centers
    est.cluster_centers_ = like_chunk(centers, _chunks.chunk_meta(X))
    est.labels_ = labels
    est.inertia_ = float(inertia)
    est.n_iter_ = int(n_iter)
    est.n_features_in_ = int(X.shape[1])
    est._n_init = n_init
    return est


def _persist(*arrays):
    import dask

    return dask.persist(*arrays)


def _checked(est, X):
    check_is_fitted(est)
    X = _chunks.check_array(X, name=type(est).__name__)
    check_n_features(est, X)
    return X


def _predict_block(X, centers, metric):
    if X.shape[0] == 0:
        xp = backend.namespace(X)
        return xp.zeros(0, dtype=xp.int32, device=backend.device(X))
    return nearest_centers(X, prepare_for_metric(like_chunk(centers, X), metric), metric)[0]


def predict(est, X, sample_weight=None):
    """``KMeans.predict`` for a dask array: a lazy int32 dask array of labels, per chunk."""
    X = _checked(est, X)
    centers = np.asarray(est._centers, dtype=X.dtype)
    return _chunks.map_rows(_predict_block, X, args=(centers, est.metric), dtype=np.int32,
                            meta=_chunks.empty_like_chunks(X, 1, np.int32))


def _transform_block(X, centers, metric):
    if X.shape[0] == 0:
        xp = backend.namespace(X)
        return xp.zeros((0, centers.shape[0]), dtype=X.dtype, device=backend.device(X))
    Xm = prepare_for_metric(X, metric)
    return center_distances(Xm, prepare_for_metric(like_chunk(centers, X), metric), metric)


def transform(est, X):
    """``KMeans.transform`` for a dask array: lazy distances (n_samples, n_clusters), X's dtype."""
    X = _checked(est, X)
    centers = np.asarray(est._centers, dtype=X.dtype)
    return _chunks.map_rows(_transform_block, X, args=(centers, est.metric), dtype=X.dtype,
                            width=centers.shape[0],
                            meta=_chunks.empty_like_chunks(X, 2, X.dtype))


def _score_block(X, w, centers, metric):
    if X.shape[0] == 0:
        return [0.0]
    return [labels_and_inertia(X, prepare_for_metric(like_chunk(centers, X), metric), metric,
                               w)[1]]


def score(est, X, sample_weight=None):
    """``KMeans.score`` for a dask array: minus the weighted inertia, a Python float."""
    X = _checked(est, X)
    weights = _chunks.row_weights(sample_weight, X)
    centers = np.asarray(est._centers, dtype=X.dtype)
    return -float(_chunks.reduce_rows(_score_block, X, weights, args=(centers, est.metric),
                                      width=1).compute()[0])


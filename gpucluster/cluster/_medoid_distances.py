"""Distances between the samples of one k-medoids fit, and the initial medoids drawn from them.

k-medoids needs distances between samples, never between samples and free
centres. ``SampleDistances`` hands them out as rows, blocks of rows, sums
over a cluster's members, or columns for the current medoids, either from a
stored (n, n) matrix (a precomputed X, or one computed once when it fits the
memory budget: :func:`matrix_fits`) or computed on the fly in blocks whose
size comes from ``backend.row_chunk_size``, so that no n x n array is ever
made otherwise. The Euclidean and cosine distances come from
``gpucluster._distances.pairwise_distances`` (GEMM in float64) and, for sums
over a cluster, from the ``pairwise_sums`` kernel; the Manhattan distance is
array-API code on row chunks. A sample's distance to itself is exactly 0.

The initialisations of scikit-learn-extra's ``KMedoids`` are here too:
"random", "heuristic", "k-medoids++" and PAM's "build".
"""

import math

import numpy as np

from .. import backend, kernels
from .._config import get_config
from .._distances import centred_unit_rows, normalize_rows, pairwise_distances

# Fraction of the free memory (when no memory_budget is configured) that a
# stored (n, n) distance matrix may take.
MATRIX_MEMORY_SHARE = 0.5
# Columns per transposed copy when the matrix is mirrored below its diagonal. At
# n=10,000 float64 (blocks of 279 rows) the mirror took 0.19 s in 128-column tiles
# against 1.32 s in 279-column ones (one CPU run, shared machine).
MIRROR_TILE = 128
# Metrics whose distance sums the ``pairwise_sums`` kernel gives: its metric and a scale.
KERNEL_METRICS = {"euclidean": ("euclidean", 1.0), "cosine": ("cosine", 1.0),
                  "cosine_rows": ("sqeuclidean", 0.5)}


# --------------------------------------------------------------------------
# Distances between rows


def prepare_rows(X, metric, shift=None):
    """The rows distances are computed from: X minus ``shift`` for "euclidean" (centred rows
    keep the cancellation in :math:`|x|^2 - 2 x \\cdot y + |y|^2` small), unit rows for
    "cosine", unit rows (made in float64) minus ``shift`` for "cosine_rows", the same with
    zero rows flagged for "cosine_zero_rows" (:func:`flagged_unit_rows`), X itself for
    "manhattan" and "precomputed"."""
    if metric == "euclidean" and shift is not None:
        return X - backend.asarray_like(shift, X)
    if metric == "cosine_rows":
        return centred_unit_rows(X, shift)
    if metric == "cosine_zero_rows":
        return flagged_unit_rows(X, shift)
    if metric == "cosine":
        return normalize_rows(X)
    return X


def flagged_unit_rows(X, mean):
    """X's rows as ``centred_unit_rows`` (less ``mean``), a zero row as minus ``mean``, and a
    last column that is 1 for a zero row and 0 otherwise.

    Half the squared distance of two nonzero rows is their cosine distance, kept to its
    digits at small angles as for "cosine_rows"; the distance from a zero row is 1
    (scikit-learn's, its cosine similarity being 0), set by :func:`distance_block` and
    :func:`nearest_medoids`. :math:`1 - u \\cdot v` cancelled for rows far from the origin
    (float32 blobs at 1e6 with two zero rows: nearest-medoid distances of -8e-9 on average
    for exact ones below 1.5e-11, "alternate" at other medoids).
    """
    xp = backend.namespace(X)
    zero = xp.all(X == 0, axis=1)
    rows = centred_unit_rows(xp.where(zero[:, None], xp.ones_like(X), X), mean)
    centre = xp.astype(-backend.asarray_like(mean, X), X.dtype)
    rows = xp.where(zero[:, None], centre[None, :], rows)
    return xp.concat([rows, xp.astype(zero, X.dtype)[:, None]], axis=1)


def _from_zero_rows(A, B, D):
    """D (len(A), len(B)) with 1 wherever a row of A or of B is a flagged zero row."""
    xp = backend.namespace(D)
    apart = (A[:, -1] != 0)[:, None] | (B[:, -1] != 0)[None, :]
    return xp.where(apart, xp.asarray(1.0, dtype=D.dtype, device=backend.device(D)), D)


def _manhattan(A, B):
    """L1 distances (len(A), len(B)) in A's dtype, accumulated in float64; the
    (rows, len(B), d) temporaries are sized by the budget."""
    xp = backend.namespace(A, B)
    n_a, n_b = A.shape[0], B.shape[0]
    out = xp.empty((n_a, n_b), dtype=A.dtype, device=backend.device(A))
    chunk = backend.row_chunk_size(n_a, 2 * 8 * n_b * B.shape[1], device=backend.device_of(A))
    for start in range(0, n_a, chunk):
        stop = min(n_a, start + chunk)
        diff = xp.abs(A[start:stop, None, :] - B[None, :, :])
        out[start:stop, :] = xp.astype(xp.sum(diff, axis=2, dtype=xp.float64), A.dtype)
    return out


def distance_block(A, B, metric, a_ids=None, b_ids=None):
    """Distances (len(A), len(B)) between prepared rows, in A's dtype and namespace.

    ``a_ids`` and ``b_ids`` (integer arrays), when given, are the samples the
    rows are: where they name the same sample the distance is set to exactly 0.
    """
    xp = backend.namespace(A, B)
    if metric == "manhattan":
        D = _manhattan(A, B)
    elif metric in ("cosine_rows", "cosine_zero_rows"):
        D = 0.5 * pairwise_distances(A, B, "sqeuclidean")
        if metric == "cosine_zero_rows":
            D = _from_zero_rows(A, B, D)
    else:
        D = pairwise_distances(A, B, metric)
    if a_ids is not None:
        same = a_ids[:, None] == b_ids[None, :]
        D = xp.where(same, xp.asarray(0.0, dtype=D.dtype, device=backend.device(D)), D)
    return D


def nearest_medoids(W, medoid_rows, metric, *, distances=True):
    """Nearest medoid of each prepared row and the distance to it.

    Returns labels (int32, ties to the lowest medoid) and distances (W's
    dtype; None when ``distances`` is False), in W's namespace. Euclidean and
    cosine go through the ``assign`` kernel; Manhattan through row-chunked distances.
    """
    xp = backend.namespace(W)
    if metric in ("euclidean", "cosine_rows", "cosine_zero_rows"):
        labels, _ = kernels.assign(W, medoid_rows, "sqeuclidean")
        zero = W[:, -1] != 0 if metric == "cosine_zero_rows" else None
        if zero is not None:  # a zero row is 1 from every medoid: the first
            labels = xp.where(zero, xp.zeros_like(labels), labels)
        if not distances:
            return labels, None
        if metric == "euclidean":
            return labels, _assigned_distances(W, medoid_rows, labels)
        found = 0.5 * _assigned_distances(W, medoid_rows, labels, squared=True)
        if zero is not None:
            apart = zero | xp.take(medoid_rows[:, -1] != 0, labels)
            found = xp.where(apart, xp.asarray(1.0, dtype=found.dtype,
                                               device=backend.device(found)), found)
        return labels, found
    if metric == "cosine":
        return kernels.assign(W, medoid_rows, "cosine")
    D = _manhattan(W, medoid_rows)
    return xp.astype(xp.argmin(D, axis=1), xp.int32), xp.min(D, axis=1)


def zero_medoids_own(W, medoids, labels, distances=None):
    """``labels`` and ``distances`` (changed in place) of the fit's rows W ("cosine_zero_rows")
    with each medoid that is a zero row labelled its own cluster at distance 0: a sample is
    0 from itself, 1 from any other zero row, as in scikit-learn-extra's ``D[:, medoids]``."""
    zero = backend.to_numpy(W[:, -1])[np.asarray(medoids)] != 0
    for j in np.flatnonzero(zero).tolist():
        labels[int(medoids[j])] = j
        if distances is not None:
            distances[int(medoids[j])] = 0.0
    return labels, distances


def _assigned_distances(W, medoid_rows, labels, squared=False):
    """Euclidean distance (or its square) of each row to its medoid from the coordinate
    differences, in row chunks: exact 0 for a medoid itself, where
    :math:`|x|^2 - 2 x \\cdot m + |m|^2` leaves the square root of a rounding error."""
    xp = backend.namespace(W)
    out = xp.empty(W.shape[0], dtype=W.dtype, device=backend.device(W))
    chunk = backend.row_chunk_size(W.shape[0], 2 * 8 * W.shape[1], device=backend.device_of(W))

    def step(start, stop):
        diff = W[start:stop, :] - xp.take(medoid_rows, labels[start:stop], axis=0)
        squares = xp.vecdot(diff, diff)
        out[start:stop] = squares if squared else xp.sqrt(squares)

    backend.for_each_chunk(W.shape[0], chunk, step)
    return out


def matrix_fits(n_samples, itemsize, device):
    """Whether an (n, n) matrix of ``itemsize``-byte values fits the memory budget on
    ``device``: ``memory_budget`` (``gpucluster.set_config``) or half the memory free now."""
    budget = get_config()["memory_budget"]
    if not budget:
        budget = int(backend.free_memory(device) * MATRIX_MEMORY_SHARE)
    return n_samples * n_samples * itemsize <= budget


# --------------------------------------------------------------------------
# The distances of one fit


class SampleDistances:
    """Distances between the n samples of one fit, from a stored matrix or computed in blocks.

    Parameters
    ----------
    rows : array (n, d) or None
        The prepared rows (:func:`prepare_rows`); None with a stored matrix only.
    metric : {"euclidean", "cosine", "cosine_rows", "cosine_zero_rows", "manhattan", "precomputed"}
    matrix : array (n, n) or None
        Stored distances, ``matrix[i, j]`` from sample i to sample j (symmetric).

    Every array it returns is in the namespace and on the device of the
    matrix when one is stored, else of the rows.
    """

    def __init__(self, rows, metric, matrix=None):
        self.rows = rows
        self.metric = metric
        self.matrix = matrix
        base = matrix if matrix is not None else rows
        self.xp = backend.namespace(base)
        self.n = int(base.shape[0])
        self.device = backend.device(base)
        self._like = base

    @classmethod
    def for_fit(cls, W, metric, store, host=False):
        """Distances over the prepared rows W; stored as a matrix when ``store`` and it fits.

        ``host`` keeps the stored matrix in host memory (NumPy), for the host
        FasterPAM loop. With ``metric="precomputed"`` W is the matrix itself.
        """
        if metric == "precomputed":
            return cls(None, metric, backend.to_numpy(W) if host else W)
        source = cls(W, metric)
        device = "cpu" if host else backend.device_of(W)
        itemsize = source.xp.finfo(W.dtype).bits // 8
        if store and matrix_fits(source.n, itemsize, device):
            return cls(W, metric, source._full_matrix(host))
        return source

    def _ids(self, ids):
        return backend.asarray_like(np.asarray(ids, dtype=np.int64), self._like)

    def _rows_per_block(self, n_rows, width):
        """Rows per block of ``width`` distances: room for them and the GEMM's float64
        temporaries within the budget."""
        return backend.row_chunk_size(n_rows, 3 * 8 * max(1, width),
                                      device=backend.device_of(self._like))

    def _computed(self, ids, cols=None):
        """Distances from the samples ``ids`` (an xp integer array) to ``cols`` (all when None)."""
        xp = self.xp
        if cols is None:
            B = self.rows
            cols = xp.arange(self.n, dtype=xp.int64, device=self.device)
        else:
            B = xp.take(self.rows, cols, axis=0)
        return distance_block(xp.take(self.rows, ids, axis=0), B, self.metric, ids, cols)

    def _full_matrix(self, host):
        """The (n, n) matrix, in host memory or on the rows' device.

        Each block of rows is computed against the rows from its first on
        only, and mirrored below the diagonal: half the GEMM work, and a
        matrix that is exactly symmetric (which FasterPAM's rows assume).
        """
        n = self.n
        xp = self.xp
        device = backend.device(self.rows)
        if host:
            out = np.empty((n, n), dtype=np.float32 if xp.finfo(self.rows.dtype).bits == 32
                           else np.float64)
        else:
            out = xp.empty((n, n), dtype=self.rows.dtype, device=device)
        out_xp = backend.namespace(out)
        step = self.block_rows()
        for start in range(0, n, step):
            stop = min(n, start + step)
            block = distance_block(self.rows[start:stop, :], self.rows[start:, :], self.metric)
            if host:
                block = backend.to_numpy(block)
            out[start:stop, start:] = block
            # The diagonal tile takes its upper triangle for both halves and zeros on the
            # diagonal; the rest is mirrored in narrow tiles (transposed copies that stay
            # in cache).
            tile = out[start:stop, start:stop]
            index = out_xp.arange(stop - start, device=backend.device(out))
            upper = out_xp.where(index[:, None] < index[None, :], tile, tile.T)
            zero = out_xp.asarray(0.0, dtype=out.dtype, device=backend.device(out))
            out[start:stop, start:stop] = out_xp.where(index[:, None] == index[None, :], zero,
                                                       upper)
            for col in range(stop, n, MIRROR_TILE):
                end = min(n, col + MIRROR_TILE)
                out[col:end, start:stop] = block[:, col - start:end - start].T
        return out

    def block(self, start, stop):
        """Distances (stop - start, n) of samples start..stop-1 to every sample."""
        if self.matrix is not None:
            return self.matrix[start:stop, :]
        xp = self.xp
        ids = xp.arange(start, stop, dtype=xp.int64, device=self.device)
        return self._computed(ids)

    def block_rows(self):
        """How many rows one block of distances to every sample takes, from the budget."""
        return self._rows_per_block(self.n, self.n)

    def blocks(self):
        """``(start, stop, block)`` over all samples, blocks sized by the budget."""
        step = self.block_rows()
        for start in range(0, self.n, step):
            stop = min(self.n, start + step)
            yield start, stop, self.block(start, stop)

    def rows_of(self, ids):
        """Distances (len(ids), n) of the samples ``ids`` (host integers) to every sample."""
        ids = self._ids(ids)
        if self.matrix is not None:
            return self.xp.take(self.matrix, ids, axis=0)
        return self._computed(ids)

    def to_medoids(self, medoids):
        """Distances (n, k) of every sample to the samples ``medoids`` (host integers)."""
        ids = self._ids(medoids)
        if self.matrix is not None:
            return self.xp.take(self.matrix, ids, axis=1)
        # The rows of the medoids, transposed: the same numbers as their rows in
        # ``block`` and ``rows_of``, which the swaps read.
        return self._computed(ids).T

    def labels(self, medoids):
        """Nearest medoid (int32 position in ``medoids``, ties to the first) of every sample."""
        if self.matrix is not None:
            nearest = self.xp.argmin(self.to_medoids(medoids), axis=1)
            return self.xp.astype(nearest, self.xp.int32)
        medoid_rows = self.xp.take(self.rows, self._ids(medoids), axis=0)
        labels = nearest_medoids(self.rows, medoid_rows, self.metric, distances=False)[0]
        if self.metric == "cosine_zero_rows":
            labels = zero_medoids_own(self.rows, medoids, labels)[0]
        return labels

    def row_sums(self):
        """Sum of the distances from each sample to every sample, (n,) float64."""
        if self.matrix is None and self.metric in KERNEL_METRICS:
            zeros = self.xp.zeros(self.n, dtype=self.xp.int32, device=self.device)
            return self._kernel_sums(self.rows, zeros)
        return self.xp.concat([self.xp.sum(block, axis=1, dtype=self.xp.float64)
                               for _, _, block in self.blocks()])

    def _kernel_sums(self, rows, zeros):
        """Distance sums of ``rows`` to each other by the ``pairwise_sums`` kernel, (m,)."""
        metric, scale = KERNEL_METRICS[self.metric]
        return scale * kernels.pairwise_sums(rows, zeros, 1, metric)[:, 0]

    def within_sums(self, members):
        """Sum of the distances from each of ``members`` (xp integer array, m samples) to all
        of them, (m,) float64: the medoid of a cluster is its member of smallest sum.

        Memory is bounded: the ``pairwise_sums`` kernel for Euclidean and cosine rows
        (O(m) on the CPU), blocks of member rows otherwise.
        """
        xp = self.xp
        m = int(members.shape[0])
        if self.matrix is None and self.metric in KERNEL_METRICS:
            member_rows = xp.take(self.rows, members, axis=0)
            zeros = xp.zeros(m, dtype=xp.int32, device=self.device)
            return self._kernel_sums(member_rows, zeros)
        step = self._rows_per_block(m, self.n if self.matrix is not None else m)
        sums = []
        for start in range(0, m, step):
            ids = members[start:min(m, start + step)]
            if self.matrix is not None:
                block = xp.take(xp.take(self.matrix, ids, axis=0), members, axis=1)
            else:
                block = self._computed(ids, members)
            sums.append(xp.sum(block, axis=1, dtype=xp.float64))
        return xp.concat(sums)


# --------------------------------------------------------------------------
# Initial medoids


def build_medoids(source, n_clusters):
    """PAM's BUILD: the sample of smallest total distance, then greedily the sample that
    lowers the loss most (``kernels.build_gains``), ties to the lowest index.

    O(k n^2) distance reads (k passes over all pairs); returns host int64 (k,).
    """
    xp = source.xp
    first = int(xp.argmin(source.row_sums()))
    medoids = [first]
    is_medoid = xp.zeros(source.n, dtype=xp.bool, device=source.device)
    is_medoid[first] = True
    nearest = xp.astype(source.rows_of([first])[0, :], xp.float64)
    for _ in range(1, n_clusters):
        gains = xp.concat([kernels.build_gains(block, nearest)
                           for _, _, block in source.blocks()])
        gains = xp.where(is_medoid, xp.asarray(-xp.inf, dtype=xp.float64, device=source.device),
                         gains)
        best = int(xp.argmax(gains))
        medoids.append(best)
        is_medoid[best] = True
        nearest = xp.minimum(nearest, xp.astype(source.rows_of([best])[0, :], xp.float64))
    return np.asarray(medoids, dtype=np.int64)


def heuristic_medoids(source, n_clusters):
    """The k samples of smallest total distance to all others (scikit-learn-extra's
    "heuristic"), ties to the lowest index; host int64 (k,)."""
    sums = backend.to_numpy(source.row_sums())
    return np.argsort(sums, kind="stable")[:n_clusters].astype(np.int64)


def kmedoids_plusplus(source, n_clusters, random_state):
    """k-medoids++ as scikit-learn-extra's: k-means++ seeding on squared distances.

    The first medoid is drawn uniformly, each next one is the best of
    ``2 + int(log(k))`` candidates drawn in proportion to the squared
    distance to the nearest medoid so far. Draws come from ``random_state``
    on the host. Returns host int64 (k,).
    """
    xp = source.xp
    n = source.n
    n_local_trials = 2 + int(math.log(n_clusters))
    medoids = [int(random_state.randint(n))]
    closest = xp.astype(source.rows_of(medoids)[0, :], xp.float64) ** 2
    potential = float(xp.sum(closest))
    for _ in range(1, n_clusters):
        if potential <= 0.0:
            # Every sample sits on a medoid: take the first that is not one.
            taken = set(medoids)
            medoids.append(next(i for i in range(n) if i not in taken))
            continue
        draws = random_state.random_sample(n_local_trials) * potential
        cumulative = xp.cumulative_sum(closest)
        found = xp.searchsorted(cumulative, backend.asarray_like(draws, cumulative))
        candidates = np.minimum(backend.to_numpy(found), n - 1).astype(np.int64)
        trial = xp.minimum(closest[None, :],
                           xp.astype(source.rows_of(candidates), xp.float64) ** 2)
        potentials = xp.sum(trial, axis=1)
        best = int(xp.argmin(potentials))
        medoids.append(int(candidates[best]))
        potential = float(potentials[best])
        closest = trial[best, :]
    return np.asarray(medoids, dtype=np.int64)

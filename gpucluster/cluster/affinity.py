"""Affinity propagation: ``AffinityPropagation`` and ``affinity_propagation``, scikit-learn's.

Frey and Dueck's message passing over the (n, n) similarity matrix S, with
scikit-learn's order of operations, so that on NumPy the messages are its
own bit for bit and the exemplars, labels and ``n_iter_`` are the same:

1. S is the negated squared Euclidean distances (or the precomputed
   matrix); the preferences (default: the median of S) go on its diagonal,
   then scikit-learn's tiny noise, ``(eps S + 100 tiny) N(0, 1)``, drawn on
   the host from ``random_state`` (n^2 normals, in scikit-learn's order) and
   moved to S's device;
2. responsibilities and availabilities are updated in place by the
   ``affinity_step`` kernel (fused Numba passes on the host, whole-array
   operations on the GPU; scikit-learn's arithmetic either way), until the
   exemplar set has not changed for ``convergence_iter`` iterations;
3. clusters: each sample goes to its most similar exemplar, each cluster's
   exemplar becomes its member of largest summed similarity to the others
   (the per-cluster sums from the ``centroid_update`` kernel; for a float32 S,
   added in float32 in row order as scikit-learn adds them), and samples are
   assigned again.

Every step holds a few (n, n) float64 arrays, so a fit is refused with an
``AffinityMemoryError`` (a ``MemoryError`` and a ``ValueError``) above the
memory budget.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import backend, kernels
from .._config import get_config
from .._sparse import is_sparse
from .._validation import check_input, check_option, check_scalar
from ._base import DeviceEstimatorMixin
from ._medoid_distances import matrix_fits

AFFINITIES = ("euclidean", "precomputed")
# (n, n) float64 arrays alive at the peak of an iteration: S, A, R and up to
# four temporaries (A + S, the responsibility update, the availability update
# and a mask's worth of where()).
MESSAGE_ARRAYS = 7
EQUAL_SIMILARITIES = ("All samples have mutually equal similarities. Returning arbitrary "
                      "cluster center(s).")
NOT_CONVERGED = ("Affinity propagation did not converge, this model may return degenerate "
                 "cluster centers and labels.")
NO_CENTERS = ("Affinity propagation did not converge and this model will not have any "
              "cluster centers.")
SPARSE_PRECOMPUTED = ("Sparse data was passed for X, but dense data is required. Use "
                      "'.toarray()' to convert to a dense numpy array.")
PREDICT_NO_CENTERS = ("This model does not have any cluster centers because affinity "
                      "propagation did not converge. Labeling every sample as '-1'.")


class AffinityMemoryError(MemoryError, ValueError):
    """The (n, n) messages do not fit the memory budget: a ``MemoryError`` and a ``ValueError``."""


# --------------------------------------------------------------------------
# Checks


def check_budget(n_samples, device):
    """Raise ``AffinityMemoryError`` when MESSAGE_ARRAYS (n, n) float64 arrays exceed the
    memory budget on ``device`` (``set_config(memory_budget=...)``, else half the free memory)."""
    if matrix_fits(n_samples, 8 * MESSAGE_ARRAYS, device):
        return
    need = n_samples * n_samples * 8 * MESSAGE_ARRAYS
    budget = get_config()["memory_budget"]
    where = (f"the memory budget of {budget / 2**30:.2f} GiB" if budget else
             f"half the free {'GPU' if device == 'cuda' else 'host'} memory")
    raise AffinityMemoryError(
        f"Affinity propagation on {n_samples} samples needs about {need / 2**30:.2f} GiB "
        f"({MESSAGE_ARRAYS} arrays of n_samples^2 float64 values), more than {where}. Use "
        "fewer samples (or a subsample), or raise the budget with "
        "gpucluster.set_config(memory_budget=...)."
    )


def check_damping(damping):
    """damping must be a real in [0.5, 1) (scikit-learn's range)."""
    check_scalar(damping, "damping", kind=numbers.Real, min_value=0.5)
    if damping >= 1.0:
        raise ValueError(f"damping must be < 1, got {damping!r}.")
    return float(damping)


def check_preference(preference, S):
    """The preferences as an array in S's namespace, dtype and device: () or (n,)."""
    xp = backend.namespace(S)
    if isinstance(preference, numbers.Real) and not isinstance(preference, bool):
        values = np.asarray(preference, dtype=np.float64)
    else:
        try:
            values = np.asarray(backend.to_numpy(backend.coerce_array(preference)),
                                dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"preference must be a real number or an array-like of "
                            f"numbers, got {preference!r}.") from None
    n = S.shape[0]
    if values.ndim > 1 or (values.ndim == 1 and values.shape[0] not in (1, n)):
        raise ValueError(f"preference must be a number or have shape ({n},), got shape "
                         f"{values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"preference must be finite, got {preference!r}.")
    return xp.astype(backend.asarray_like(values, S), S.dtype)


# --------------------------------------------------------------------------
# Similarities


def diagonal(M):
    """The diagonal (n,) of square M, as a strided slice (array API: no linalg needed)."""
    xp = backend.namespace(M)
    return xp.reshape(M, (-1,))[:: M.shape[0] + 1]


def diagonal_mask(n, like):
    """(n, n) bool, True on the diagonal, on ``like``'s device."""
    xp = backend.namespace(like)
    ids = xp.arange(n, device=backend.device(like))
    return ids[:, None] == ids[None, :]


def negative_squared_distances(X):
    """-|x_i - x_j|^2 as scikit-learn's ``-euclidean_distances(X, squared=True)``: (n, n)
    in X's dtype (computed in float64), 0 on the diagonal, in X's namespace and device."""
    xp = backend.namespace(X)
    X64 = xp.astype(X, xp.float64)
    norms = xp.sum(X64 * X64, axis=1)
    D = X64 @ X64.T
    D *= -2.0
    D += norms[:, None]
    D += norms[None, :]
    D = xp.where(diagonal_mask(X.shape[0], X), 0.0, xp.maximum(D, 0.0))
    return -xp.astype(D, X.dtype)


def add_preferences_and_noise(S, preference, random_state):
    """S with the preferences on its diagonal plus scikit-learn's degeneracy-removing noise,
    :math:`S + (\\epsilon S + 100\\,\\mathrm{tiny})\\, N(0, 1)`, in S's dtype.

    The n^2 normals come from ``random_state.standard_normal`` on the host, in
    scikit-learn's order, so a seed gives scikit-learn's S.
    """
    xp = backend.namespace(S)
    n = S.shape[0]
    info = np.finfo(np.dtype(str(S.dtype).split(".")[-1]))
    S = xp.where(diagonal_mask(n, S), preference, S)
    noise = backend.asarray_like(random_state.standard_normal(size=(n, n)), S)
    scale = S * float(info.eps) + float(info.tiny * 100)
    return xp.astype(S + scale * noise, S.dtype)


def equal_similarities_and_preferences(S, preference):
    """Whether every preference is equal and every off-diagonal similarity is equal."""
    xp = backend.namespace(S)
    if bool(xp.any(preference != xp.reshape(preference, (-1,))[0])):
        return False
    first = S[0, 1]
    return bool(xp.all(xp.where(diagonal_mask(S.shape[0], S), first, S) == first))


# --------------------------------------------------------------------------
# Message passing


def pass_messages(S, damping, max_iter, convergence_iter, verbose):
    """Message passing over S (n, n) from A = R = 0 until the exemplars settle.

    scikit-learn stops at iteration ``it >= convergence_iter`` when every
    sample was an exemplar in all of the last ``convergence_iter`` iterations
    or in none (the same as the last ``convergence_iter`` masks being equal),
    and there is an exemplar now. Returns ``(exemplars, n_iter, converged)``.
    """
    xp = backend.namespace(S)
    n = S.shape[0]
    S = xp.astype(S, xp.float64)
    A = xp.zeros((n, n), dtype=xp.float64, device=backend.device(S))
    R = xp.zeros((n, n), dtype=xp.float64, device=backend.device(S))
    previous, unchanged = None, 0
    for it in range(max_iter):
        exemplars = kernels.affinity_step(S, A, R, damping)
        same = previous is not None and bool(xp.all(exemplars == previous))
        unchanged = unchanged + 1 if same else 1
        previous = exemplars
        if it >= convergence_iter and unchanged >= convergence_iter and bool(xp.any(exemplars)):
            if verbose:
                print(f"Converged after {it} iterations.")
            return exemplars, it + 1, True
    if verbose:
        print("Did not converge")
    return previous, max_iter, False


# --------------------------------------------------------------------------
# Clusters from the exemplars


def ranks_in(indices, n):
    """For every sample 0..n-1: whether it is in ``indices`` (distinct, (k,)) and its position
    there (0 where absent)."""
    xp = backend.namespace(indices)
    order = xp.argsort(indices)
    ordered = xp.take(indices, order)
    samples = xp.arange(n, dtype=indices.dtype, device=backend.device(indices))
    at = xp.clip(xp.searchsorted(ordered, samples), 0, ordered.shape[0] - 1)
    return xp.take(ordered, at) == samples, xp.take(order, at)


def nearest_exemplars(S, exemplars):
    """Cluster of each sample: its most similar exemplar, an exemplar its own."""
    xp = backend.namespace(S)
    is_exemplar, rank = ranks_in(exemplars, S.shape[0])
    nearest = xp.argmax(xp.take(S, exemplars, axis=1), axis=1)
    return xp.where(is_exemplar, rank, nearest)


def member_sums_float32(S, clusters, counts):
    """Each column's sum over the rows of its own cluster, added in float32 row by row, as
    scikit-learn's ``np.sum(S[ii][:, ii], axis=0)`` adds a float32 S: near ties (rows
    on a lattice) are broken by that rounding, which float64 sums do not reproduce.

    Step t adds, to every column whose cluster has more than t members, its cluster's
    t-th member (in row order): as many steps as the largest cluster has members,
    each an elementwise addition over the columns still adding (those of the larger
    clusters come first), so the sums are the same on every backend, whose own
    reductions (torch's, CuPy's) add in other orders.
    S (n, n) float32, clusters (n,) in [0, k), counts (k,) their sizes; returns (n,) float32.
    """
    xp = backend.namespace(S)
    n = S.shape[0]
    flat = xp.reshape(S, (-1,))
    member_rows = xp.argsort(clusters, stable=True) * n  # each cluster's rows, in row order
    size = xp.take(counts, clusters)
    columns = xp.argsort(-size, stable=True)  # the columns of larger clusters first
    first = xp.take(xp.take(xp.cumulative_sum(counts) - counts, clusters), columns)
    sizes = backend.to_numpy(counts)
    total = xp.zeros(n, dtype=S.dtype, device=backend.device(S))
    for t in range(int(sizes.max())):
        active = int(sizes[sizes > t].sum())  # the columns of clusters larger than t
        at = xp.take(member_rows, first[:active] + t) + columns[:active]
        total[:active] = total[:active] + xp.take(flat, at)
    return xp.take(total, xp.argsort(columns))


def refine_exemplars(S, clusters, n_clusters):
    """Each cluster's member of largest summed similarity to its members (scikit-learn's
    ``argmax(sum(S[ii][:, ii], axis=0))``, the first such member on ties)."""
    xp = backend.namespace(S)
    n = S.shape[0]
    counts = xp.astype(backend.bincount(clusters, minlength=n_clusters), xp.int64)
    if S.dtype == xp.float32:
        score = member_sums_float32(S, clusters, counts)
    else:
        # Explicit unit weights: the CUDA kernel's launch cannot take weights=None under
        # numba-cuda 0.2x (a NotImplementedError on the device machine).
        weights = xp.ones(n, dtype=xp.float64, device=backend.device(S))
        sums, _ = kernels.centroid_update(S, clusters, n_clusters, weights)
        positions = clusters * n + xp.arange(n, dtype=clusters.dtype, device=backend.device(S))
        score = xp.take(xp.reshape(sums, (-1,)), positions)
    by_score = xp.argsort(score, descending=True, stable=True)
    by_cluster = xp.take(by_score, xp.argsort(xp.take(clusters, by_score), stable=True))
    starts = xp.cumulative_sum(counts) - counts
    return xp.take(by_cluster, starts)


def exemplar_clusters(S, exemplars):
    """``(cluster_centers_indices, labels)`` from the exemplar mask (n,), or None without any."""
    xp = backend.namespace(S)
    indices = xp.nonzero(exemplars)[0]
    if indices.shape[0] == 0:
        return None
    indices = xp.astype(indices, xp.int64)
    clusters = xp.astype(nearest_exemplars(S, indices), xp.int64)
    indices = refine_exemplars(S, clusters, indices.shape[0])
    labels = xp.take(indices, xp.astype(nearest_exemplars(S, indices), xp.int64))
    centers = xp.sort(xp.unique_values(labels))
    return centers, xp.searchsorted(centers, labels)


def run_affinity_propagation(S, preference, *, convergence_iter, max_iter, damping, verbose,
                             random_state):
    """scikit-learn's ``_affinity_propagation`` on S (n, n), any namespace and device.

    Returns ``(cluster_centers_indices (k,) int64, labels (n,) int64, n_iter, S)``, S
    with the preferences and the noise (scikit-learn leaves them in its S).
    """
    xp = backend.namespace(S)
    n = S.shape[0]
    device = backend.device(S)
    if n == 1 or equal_similarities_and_preferences(S, preference):
        # It makes no sense to run the algorithm: 1 or n clusters depending on the preference.
        warnings.warn(EQUAL_SIMILARITIES, UserWarning, stacklevel=3)
        if bool(xp.reshape(preference, (-1,))[0] > xp.reshape(S, (-1,))[n - 1]):
            ids = xp.arange(n, dtype=xp.int64, device=device)
            return ids, ids, 0, S
        return (xp.zeros(1, dtype=xp.int64, device=device),
                xp.zeros(n, dtype=xp.int64, device=device), 0, S)
    S = add_preferences_and_noise(S, preference, random_state)
    exemplars, n_iter, converged = pass_messages(S, damping, max_iter, convergence_iter, verbose)
    found = exemplar_clusters(S, exemplars)
    if found is None:
        warnings.warn(NO_CENTERS, ConvergenceWarning, stacklevel=3)
        return (xp.zeros(0, dtype=xp.int64, device=device),
                xp.full(n, -1, dtype=xp.int64, device=device), n_iter, S)
    if not converged:
        warnings.warn(NOT_CONVERGED, ConvergenceWarning, stacklevel=3)
    return found[0], found[1], n_iter, S


def _check_common(damping, max_iter, convergence_iter):
    check_scalar(max_iter, "max_iter", min_value=1)
    check_scalar(convergence_iter, "convergence_iter", min_value=1)
    return check_damping(damping)


def affinity_propagation(S, *, preference=None, convergence_iter=15, max_iter=200, damping=0.5,
                         copy=True, verbose=False, return_n_iter=False, random_state=None):
    """Affinity propagation clustering of a similarity matrix (scikit-learn's function).

    Parameters
    ----------
    S : array (n_samples, n_samples), similarities; NumPy, CuPy, torch, array-API or a list
    preference : float or array (n_samples,), default=None (the median of S)
    convergence_iter, max_iter, damping, copy, verbose, random_state
        As :class:`AffinityPropagation`.
    return_n_iter : bool, default=False

    Returns
    -------
    cluster_centers_indices : array (n_clusters,), int64
    labels : array (n_samples,), int64 (-1 everywhere when no exemplar emerged)
    n_iter : int, only with ``return_n_iter``
        Arrays in S's array type and on its device.
    """
    model = AffinityPropagation(damping=damping, max_iter=max_iter,
                                convergence_iter=convergence_iter, copy=copy,
                                preference=preference, affinity="precomputed", verbose=verbose,
                                random_state=random_state).fit(S)
    if return_n_iter:
        return model.cluster_centers_indices_, model.labels_, model.n_iter_
    return model.cluster_centers_indices_, model.labels_


# --------------------------------------------------------------------------
# The estimator


class AffinityPropagation(DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """Affinity propagation clustering on the GPU or the CPU, as scikit-learn's.

    Samples exchange responsibility and availability messages until a set of
    exemplars emerges; every sample joins its most similar exemplar. The
    number of clusters follows from the preferences.

    Parameters
    ----------
    damping : float in [0.5, 1), default=0.5
    max_iter : int, default=200
    convergence_iter : int, default=15
        Iterations with no change in the exemplars that stop the passing.
    copy : bool, default=True
        With ``affinity="precomputed"`` and ``copy=False``, X (when it is
        the array the computation uses) is overwritten with the noisy
        similarities, as in scikit-learn.
    preference : float or array-like (n_samples,), default=None
        Larger preferences give more exemplars; None is the median similarity.
    affinity : {"euclidean", "precomputed"}, default="euclidean"
        "euclidean": negated squared Euclidean distances of the rows of X;
        "precomputed": X is the (n_samples, n_samples) similarity matrix.
    verbose : bool, default=False
    random_state : int, RandomState instance or None, default=None
        Seeds the tiny noise added to the similarities (drawn on the host,
        as scikit-learn draws it, so a seed gives scikit-learn's result).
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    cluster_centers_indices_ : array (n_clusters,), int64
    cluster_centers_ : array (n_clusters, n_features), X's dtype (not with "precomputed")
    labels_ : array (n_samples,), int64; -1 everywhere when no exemplar emerged
    affinity_matrix_ : array (n_samples, n_samples), X's dtype
        The similarities used, with the preferences and the noise (as scikit-learn's).
    n_iter_ : int
    n_features_in_ : int
        Array attributes have X's array type and device (see ``output_type``).

    Notes
    -----
    O(n^2) memory (about seven (n, n) float64 arrays at the peak; a fit
    above the memory budget, ``gpucluster.set_config(memory_budget=...)``
    or half the free memory, raises ``AffinityMemoryError``) and O(n^2)
    work per iteration, on X's device (the ``affinity_step`` kernel).

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import AffinityPropagation
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]])
    >>> ap = AffinityPropagation(random_state=5).fit(X)
    >>> ap.labels_.tolist()
    [0, 0, 0, 1, 1, 1]
    >>> ap.predict(np.array([[0, 0], [4, 4]])).tolist()
    [0, 1]
    """

    # Integer and bool X are measured in float64, as scikit-learn's validate_data leaves
    # them for its float64 distances.
    _integers_as_float64 = True

    def __init__(self, *, damping=0.5, max_iter=200, convergence_iter=15, copy=True,
                 preference=None, affinity="euclidean", verbose=False, random_state=None,
                 device="auto", output_type="input"):
        self.damping = damping
        self.max_iter = max_iter
        self.convergence_iter = convergence_iter
        self.copy = copy
        self.preference = preference
        self.affinity = affinity
        self.verbose = verbose
        self.random_state = random_state
        self.device = device
        self.output_type = output_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.affinity == "precomputed"
        tags.input_tags.sparse = self.affinity != "precomputed"
        return tags

    def _work(self, n_samples, n_features):
        """Estimated flops, for device="auto": ~20 passes over (n, n) per iteration."""
        return n_samples * n_samples * (2.0 * n_features + 20.0 * min(self.max_iter, 100))

    def _check_params(self):
        damping = _check_common(self.damping, self.max_iter, self.convergence_iter)
        check_option(self.affinity, "affinity", AFFINITIES)
        if not isinstance(self.copy, (bool, np.bool_)):
            raise TypeError(f"copy must be a bool, got {self.copy!r}.")
        self._check_device_params()
        return damping

    def _dense(self, X):
        """Sparse feature rows as a dense array (the (n, n) similarities dwarf them);
        a sparse precomputed matrix is refused, as scikit-learn refuses it."""
        if not is_sparse(X):
            return X
        if self.affinity == "precomputed":
            raise TypeError(SPARSE_PRECOMPUTED)
        return X.toarray()

    def _similarities(self, X):
        """The similarity matrix S of X, checked square."""
        S = X if self.affinity == "precomputed" else None
        if S is not None and self.copy:
            S = backend.namespace(X).asarray(X, copy=True)
        if S is not None and S.shape[0] != S.shape[1]:
            raise ValueError("The matrix of similarities must be a square array. "
                             f"Got {tuple(S.shape)} instead.")
        check_budget(X.shape[0], backend.device_of(X))
        return S if S is not None else negative_squared_distances(X)

    def fit(self, X, y=None):
        """Find the exemplars of X.

        Parameters
        ----------
        X : array (n_samples, n_features), or (n_samples, n_samples) similarities with
            ``affinity="precomputed"``; NumPy, CuPy, torch, any array-API array or a list
        y : ignored

        Returns
        -------
        self : AffinityPropagation
        """
        damping = self._check_params()
        X, _, like = self._prepare_input(self._dense(X), reset=True, work=self._work)
        S = self._similarities(X)
        preference = backend.median(S) if self.preference is None else self.preference
        preference = check_preference(preference, S)
        random_state = check_random_state(self.random_state)
        centers, labels, n_iter, S = run_affinity_propagation(
            S, preference, convergence_iter=self.convergence_iter, max_iter=self.max_iter,
            damping=damping, verbose=self.verbose, random_state=random_state)
        xp = backend.namespace(X)
        if self.affinity == "precomputed" and not self.copy:
            X[...] = S
            S = X
        self.affinity_matrix_ = self._to_output(S, like)
        self.cluster_centers_indices_ = self._to_output(centers, like)
        self.labels_ = self._to_output(xp.astype(labels, xp.int64), like)
        if self.affinity != "precomputed":
            self.cluster_centers_ = self._to_output(xp.take(X, centers, axis=0), like)
        elif hasattr(self, "cluster_centers_"):
            del self.cluster_centers_
        self.n_iter_ = int(n_iter)
        self.n_features_in_ = int(X.shape[1])
        return self

    def predict(self, X):
        """The cluster of each row of X: its nearest exemplar (the ``assign`` kernel).

        Parameters
        ----------
        X : array (n_queries, n_features)

        Returns
        -------
        labels : array (n_queries,), int64, X's array type and device (-1 everywhere,
            with a ConvergenceWarning, when the fit found no exemplar)
        """
        check_is_fitted(self)
        X, _, like = self._prepare_input(self._dense(X), reset=False)
        if not hasattr(self, "cluster_centers_"):
            raise ValueError("Predict method is not supported when affinity='precomputed'.")
        xp = backend.namespace(X)
        centers = self.cluster_centers_
        centers = backend.asarray_like(centers.toarray() if is_sparse(centers) else centers, X)
        if centers.shape[0] == 0:
            warnings.warn(PREDICT_NO_CENTERS, ConvergenceWarning, stacklevel=2)
            return self._to_output(xp.full(X.shape[0], -1, dtype=xp.int64,
                                           device=backend.device(X)), like)
        labels, _ = kernels.assign(X, xp.astype(centers, X.dtype))
        return self._to_output(xp.astype(labels, xp.int64), like)

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``: (n_samples,) int64, X's array type and device."""
        return self.fit(X).labels_

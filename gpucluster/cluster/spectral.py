"""Spectral clustering: ``SpectralClustering`` and ``spectral_clustering``, scikit-learn's.

Three steps, each in its own module:

1. the affinity matrix (``_spectral_affinity``): the dense RBF kernel on
   X's device, a sparse k-nearest-neighbour connectivity graph from
   ``kernels.knn_graph``, or a precomputed matrix;
2. its spectral embedding (``_spectral_embedding``): the eigenvectors of
   the smallest eigenvalues of the normalised Laplacian, by Lanczos or
   LOBPCG (SciPy on the host, cupyx on the GPU, chosen in ``_eigen``);
3. labels from the embedding, here: gpucluster's ``KMeans``, the
   discretisation of Yu and Shi (2003), or the column-pivoted QR of Damle,
   Minden and Ying (2019), as scikit-learn's ``assign_labels``.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state

from .. import backend
from .._sparse import check_sparse, is_sparse, sparse_to_device
from .._validation import check_option, check_scalar
from .. import _eigen
from ._base import DeviceEstimatorMixin
from ._graph import NeighbourGraphMixin
from ._spectral_affinity import (
    check_affinity,
    connectivity_affinity,
    kernel_affinity,
    precomputed_neighbors,
    rbf_affinity,
)
from ._spectral_embedding import EIGEN_SOLVERS, spectral_embedding
from .kmeans import KMeans

ASSIGN_LABELS = ("kmeans", "discretize", "cluster_qr")
PRECOMPUTED = ("precomputed", "precomputed_nearest_neighbors")
# The kernels of sklearn.metrics.pairwise_kernels that scikit-learn's SpectralClustering
# takes by name; "rbf" runs on X's device, the others in scikit-learn on the host.
KERNELS = ("rbf", "additive_chi2", "chi2", "linear", "poly", "polynomial", "laplacian",
           "sigmoid", "cosine")
AFFINITIES = KERNELS + ("nearest_neighbors",) + PRECOMPUTED
# Products with the affinity a typical embedding takes (about 100 on 400 to 10,000 rows).
LANCZOS_STEPS = 100
SQUARE_X = ("The spectral clustering API has changed. ``fit``now constructs an affinity matrix "
            "from data. To use a custom affinity matrix, set ``affinity=precomputed``.")


# --------------------------------------------------------------------------
# Labels from an embedding


def discretize(vectors, *, random_state=None, max_svd_restarts=30, n_iter_max=20):
    """The partition closest to a spectral embedding (Yu and Shi 2003), scikit-learn's
    ``discretize``: alternate the nearest discrete partition and the best rotation.

    Parameters
    ----------
    vectors : array (n_samples, n_clusters), float; NumPy, CuPy or any array-API array
    random_state : int, RandomState instance or None
        Picks the first row of the initial rotation (the same draw as scikit-learn's).
    max_svd_restarts, n_iter_max : int

    Returns
    -------
    labels : array (n_samples,), int64, in the namespace and on the device of ``vectors``

    Raises
    ------
    numpy.linalg.LinAlgError
        When the SVD fails ``max_svd_restarts`` times.
    """
    random_state = check_random_state(random_state)
    xp = backend.namespace(vectors)
    device = backend.device(vectors)
    V = xp.astype(vectors, xp.float64)
    n, k = V.shape
    # Columns scaled to length sqrt(n) and turned to point away from the first row; rows
    # then scaled to unit length (the space of partition matrices). Zero rows stay zero.
    V = V / xp.sqrt(xp.sum(V * V, axis=0))[None, :] * float(np.sqrt(n))
    first = V[0, :]
    V = V * xp.where(first != 0, -xp.sign(first), xp.ones_like(first))[None, :]
    norms = xp.sqrt(xp.sum(V * V, axis=1))
    V = V / xp.where(norms > 0, norms, xp.ones_like(norms))[:, None]
    eps = float(np.finfo(np.float64).eps)
    clusters = xp.arange(k, device=device)
    for _ in range(max_svd_restarts):
        rotation = _initial_rotation(V, random_state)
        last_objective, n_iter = 0.0, 0
        while True:
            n_iter += 1
            labels = xp.argmax(V @ rotation, axis=1)
            indicator = xp.astype(labels[:, None] == clusters[None, :], xp.float64)
            try:
                U, S, Vh = xp.linalg.svd(indicator.T @ V)
            except np.linalg.LinAlgError:
                break
            objective = 2.0 * (n - float(xp.sum(S)))
            if abs(objective - last_objective) < eps or n_iter > n_iter_max:
                return xp.astype(labels, xp.int64)
            last_objective = objective
            rotation = Vh.T @ U.T
    raise np.linalg.LinAlgError("SVD did not converge")


def _initial_rotation(V, random_state):
    """k rows of V as columns: one drawn at random, then each the row least aligned with
    those picked so far (scikit-learn's accumulation of |V r_j|)."""
    xp = backend.namespace(V)
    n, k = V.shape
    columns = [V[int(random_state.randint(n)), :]]
    spread = xp.zeros(n, dtype=V.dtype, device=backend.device(V))
    for _ in range(1, k):
        spread = spread + xp.abs(V @ columns[-1])
        columns.append(V[int(xp.argmin(spread)), :])
    return xp.stack(columns, axis=1)


def cluster_qr(vectors):
    """Labels straight from a spectral embedding by QR with column pivoting (Damle, Minden
    and Ying 2019), scikit-learn's ``cluster_qr``.

    Parameters
    ----------
    vectors : array (n_samples, n_clusters), float; NumPy, CuPy or any array-API array

    Returns
    -------
    labels : array (n_samples,), int64, in the namespace and on the device of ``vectors``

    Notes
    -----
    The pivoted QR of the k x n matrix V^T runs on the host (LAPACK); the rest on
    the array's device.
    """
    xp = backend.namespace(vectors)
    V = xp.astype(vectors, xp.float64)
    pivots = backend.asarray_like(_eigen.pivoted_qr_rows(V), V)
    u, _, vh = xp.linalg.svd(xp.take(V, pivots, axis=0).T)
    return xp.astype(xp.argmax(xp.abs(V @ (u @ vh)), axis=1), xp.int64)


# --------------------------------------------------------------------------
# The estimator


class SpectralClustering(NeighbourGraphMixin, DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """Spectral clustering on the GPU or the CPU: scikit-learn's ``SpectralClustering``.

    Clusters the rows of X through the eigenvectors of the normalised Laplacian of an
    affinity graph (a relaxation of the normalised cut): good for clusters of any
    shape (rings, moons) that a centre does not describe.

    Parameters
    ----------
    n_clusters : int, default=8
    eigen_solver : {None, "arpack", "lobpcg", "amg"}, default=None
        How the eigenvectors are found (``_spectral_embedding`` explains the deflation of
        the known null space that all of them share):

        - None or "arpack": Lanczos for the largest eigenvalues of D^-1/2 A D^-1/2,
          ARPACK (``scipy.sparse.linalg.eigsh``) on the host, thick-restart Lanczos
          (``cupyx.scipy.sparse.linalg.eigsh``) on the GPU. scikit-learn's ARPACK runs
          in shift-invert mode instead, factorising the Laplacian; the eigenvectors
          are the same.
        - "lobpcg": LOBPCG on the Laplacian (``scipy.sparse.linalg.lobpcg`` or
          ``cupyx.scipy.sparse.linalg.lobpcg``).
        - "amg": LOBPCG preconditioned by pyamg's smoothed aggregation, on the host;
          requires pyamg (ValueError otherwise, as scikit-learn). Small graphs and
          dense affinities fall back to "arpack" with scikit-learn's warnings; on the
          GPU it runs as "lobpcg", with a warning.

        Graphs of at most 256 rows are solved densely (``eigh``) whatever the choice.
    n_components : int or None, default=None
        Eigenvectors in the embedding; None is n_clusters.
    random_state : int, RandomState instance or None, default=None
        Seeds the eigensolver's start (drawn as scikit-learn draws it) and then the
        label assignment.
    n_init : int, default=10
        k-means runs from different seeds (``assign_labels="kmeans"``).
    gamma : float, default=1.0
        Kernel coefficient of "rbf", "poly", "sigmoid", "laplacian" and "chi2".
    affinity : str or callable, default="rbf"
        - "rbf": exp(-gamma |x - y|^2), a dense (n, n) float64 matrix computed on X's
          device; above the memory budget a ``MemoryError`` says so.
        - "nearest_neighbors": the sparse connectivity of each row to itself and its
          n_neighbors - 1 nearest rows (``kernels.knn_graph``: exact below 5,000 rows,
          an inverted-file search of about 99 % recall above), as 0.5 (C + C^T).
        - "precomputed": X is the affinity matrix (n, n), dense or sparse, non-negative;
          an asymmetric one is averaged with its transpose, with a warning.
        - "precomputed_nearest_neighbors": X holds distances (n, n), dense or sparse
          (then from its stored entries); the connectivity of each row's n_neighbors
          nearest, as for "nearest_neighbors".
        - another kernel name of ``sklearn.metrics.pairwise_kernels`` ("poly",
          "sigmoid", "laplacian", "linear", "cosine", "chi2", "additive_chi2"), or a
          callable: computed by scikit-learn on a host copy of X. Affinities must be
          non-negative.
    n_neighbors : int, default=10
    eigen_tol : float or "auto", default="auto"
        Eigensolver tolerance: "auto" is 0 (machine precision) for Lanczos and LOBPCG's
        own default for "lobpcg" and "amg".
    assign_labels : {"kmeans", "discretize", "cluster_qr"}, default="kmeans"
        "kmeans" runs gpucluster's ``KMeans`` (k-means++, ``n_init`` runs) on the
        embedding; "discretize" and "cluster_qr" are scikit-learn's.
    degree : float, default=3
        Degree of the "poly" kernel.
    coef0 : float, default=1
        Zero coefficient of the "poly" and "sigmoid" kernels.
    kernel_params : dict or None, default=None
        Keyword arguments of a callable affinity.
    n_jobs : int or None, default=None
        Accepted for scikit-learn compatibility; the kernels' threads follow Numba's
        settings.
    verbose : bool, default=False
    device : {"auto", "cpu", "cuda"}, default="auto"
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    affinity_matrix_ : array (n_samples, n_samples)
        Dense affinities (float64) in X's array type and device; sparse ones as a
        SciPy CSR matrix (a cupyx one for data on the GPU); a precomputed X as given.
    labels_ : array (n_samples,), int32, X's array type and device (see ``output_type``)
    n_features_in_ : int

    Notes
    -----
    "rbf" costs O(n^2 d) for the kernel and O(n^2) memory and per Lanczos step;
    "nearest_neighbors" costs one kNN graph and O(n k) per step. The affinity, the
    eigensolver and the label assignment run on X's device; a pivoted QR of k x n
    ("cluster_qr") and the random draws run on the host. The eigenproblem is solved
    in float64 whatever X's dtype, as scikit-learn's.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import SpectralClustering
    >>> X = np.array([[1, 1], [2, 1], [1, 0], [4, 7], [3, 5], [3, 6]])
    >>> labels = SpectralClustering(n_clusters=2, random_state=0).fit(X).labels_
    >>> bool(labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5])
    True
    """

    # Integer and bool X are computed in float64, as scikit-learn's validate_data does.
    _integers_as_float64 = True

    def __init__(self, n_clusters=8, *, eigen_solver=None, n_components=None,
                 random_state=None, n_init=10, gamma=1.0, affinity="rbf", n_neighbors=10,
                 eigen_tol="auto", assign_labels="kmeans", degree=3, coef0=1,
                 kernel_params=None, n_jobs=None, verbose=False, device="auto",
                 output_type="input"):
        self.n_clusters = n_clusters
        self.eigen_solver = eigen_solver
        self.n_components = n_components
        self.random_state = random_state
        self.n_init = n_init
        self.gamma = gamma
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.eigen_tol = eigen_tol
        self.assign_labels = assign_labels
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.device = device
        self.output_type = output_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.affinity in PRECOMPUTED
        tags.input_tags.sparse = self.affinity in PRECOMPUTED
        return tags

    def _work(self, n_samples, n_features):
        """Estimated flops, for device="auto": the kernel or neighbour search over all pairs,
        or for a precomputed matrix about LANCZOS_STEPS products with it."""
        if self.affinity in PRECOMPUTED:
            return float(LANCZOS_STEPS) * n_samples * n_samples
        return 2.0 * n_samples * n_samples * n_features

    def _check_params(self):
        """Check the parameters (before X is read); returns n_components or None."""
        check_scalar(self.n_clusters, "n_clusters", min_value=1)
        if self.eigen_solver not in EIGEN_SOLVERS:
            raise ValueError(f"eigen_solver must be one of {EIGEN_SOLVERS}, got "
                             f"{self.eigen_solver!r}.")
        if self.eigen_solver == "amg" and not _eigen.amg_available():
            raise ValueError("The eigen_solver was set to 'amg', but pyamg is not available.")
        if self.n_components is not None:
            check_scalar(self.n_components, "n_components", min_value=1)
        check_scalar(self.n_init, "n_init", min_value=1)
        check_scalar(self.gamma, "gamma", kind=numbers.Real, min_value=0)
        if not callable(self.affinity):
            check_option(self.affinity, "affinity", AFFINITIES)
        check_scalar(self.n_neighbors, "n_neighbors", min_value=1)
        if not (isinstance(self.eigen_tol, str) and self.eigen_tol == "auto"):
            check_scalar(self.eigen_tol, "eigen_tol", kind=numbers.Real, min_value=0)
        check_option(self.assign_labels, "assign_labels", ASSIGN_LABELS)
        check_scalar(self.degree, "degree", kind=numbers.Real, min_value=0)
        check_scalar(self.coef0, "coef0", kind=numbers.Real)
        if self.kernel_params is not None and not isinstance(self.kernel_params, dict):
            raise TypeError(f"kernel_params must be a dict or None, got {self.kernel_params!r}.")
        if self.n_jobs is not None:
            check_scalar(self.n_jobs, "n_jobs")
        self._check_device_params()

    def _check_sizes(self, n_samples):
        """n_clusters, n_components and n_neighbors against the number of samples."""
        n_components = self.n_clusters if self.n_components is None else self.n_components
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}.")
        if n_components > n_samples:
            raise ValueError(f"n_components={n_components} must be <= n_samples={n_samples}.")
        if self.affinity in ("nearest_neighbors", "precomputed_nearest_neighbors") and (
                self.n_neighbors > n_samples):
            raise ValueError(f"Expected n_neighbors <= n_samples_fit, but n_neighbors = "
                             f"{self.n_neighbors}, n_samples_fit = {n_samples}, n_samples = "
                             f"{n_samples}")
        return n_components

    def _prepare(self, X):
        """Validate X and place it: ``(X, like, device)``, X a dense array or sparse matrix."""
        if not is_sparse(X) or self.affinity not in PRECOMPUTED:
            X, _, like = self._prepare_input(X, reset=True, work=self._work)
            if X.shape[0] < 2:
                raise ValueError(
                    f"Found array with {X.shape[0]} sample(s) (shape={tuple(X.shape)}) while "
                    f"a minimum of 2 is required by {type(self).__name__}."
                )
            return X, like, backend.device_of(X)
        X = check_sparse(X, min_samples=2, estimator_name=type(self).__name__)
        device = backend.resolve_device(self.device, X.data, work=float(X.nnz))
        like = backend.InputLike("cupy" if device == "cuda" else "numpy")
        return sparse_to_device(X, device).astype(np.float64), like, device

    def _affinity(self, X):
        """The affinity matrix built from X (any affinity but "precomputed"), as
        scikit-learn's fit builds it."""
        affinity = self.affinity
        if affinity == "nearest_neighbors":
            k = self.n_neighbors - 1
            _, indices = self._neighbour_graph(X, k, "sqeuclidean")
            return connectivity_affinity(indices, X.shape[0], add_self=True)
        if affinity == "precomputed_nearest_neighbors":
            neighbors = precomputed_neighbors(X, self.n_neighbors)
            return connectivity_affinity(neighbors, X.shape[0], add_self=False)
        if affinity == "rbf":
            return rbf_affinity(X, self.gamma)
        params = dict(self.kernel_params or {})
        if not callable(affinity):
            params.update(gamma=self.gamma, degree=self.degree, coef0=self.coef0)
        return kernel_affinity(X, affinity, params)

    def _assign(self, maps, random_state, device):
        """Labels (int32) from the embedding, in its library."""
        xp = backend.namespace(maps)
        if self.verbose:
            print(f"Computing label assignment using {self.assign_labels}")
        if self.assign_labels == "kmeans":
            labels = KMeans(self.n_clusters, n_init=self.n_init, random_state=random_state,
                            verbose=self.verbose, device=device).fit(maps).labels_
            labels = backend.asarray_like(labels, maps)
        elif self.assign_labels == "cluster_qr":
            labels = cluster_qr(maps)
        else:
            labels = discretize(maps, random_state=random_state)
        return xp.astype(labels, xp.int32)

    def fit(self, X, y=None):
        """Cluster X.

        Parameters
        ----------
        X : array (n_samples, n_features); with ``affinity="precomputed"`` the affinities
            (n_samples, n_samples), with "precomputed_nearest_neighbors" the distances,
            dense or a SciPy / cupyx sparse matrix. NumPy, CuPy, torch, any array-API
            array or a list.
        y : ignored

        Returns
        -------
        self : SpectralClustering
        """
        self._check_params()
        X, like, device = self._prepare(X)
        n_components = self._check_sizes(X.shape[0])
        if self.affinity not in PRECOMPUTED and X.shape[0] == X.shape[1]:
            warnings.warn(SQUARE_X, UserWarning, stacklevel=2)
        # affinity_matrix_ keeps a precomputed X as given (scikit-learn's); the embedding
        # takes it symmetrised.
        affinity = check_affinity(X) if self.affinity == "precomputed" else self._affinity(X)
        stored = X if self.affinity == "precomputed" else affinity
        if not is_sparse(affinity) and self.affinity not in ("rbf", "precomputed"):
            check_affinity_values(affinity, self.affinity)
        random_state = check_random_state(self.random_state)
        native = _eigen.native(affinity)
        if not is_sparse(native):
            xp = backend.namespace(native)
            native = xp.astype(native, xp.float64, copy=False)
        maps, _ = spectral_embedding(native, n_components, eigen_solver=self.eigen_solver,
                                     random_state=random_state, eigen_tol=self.eigen_tol)
        labels = self._assign(maps, random_state, device)

        self.affinity_matrix_ = stored if is_sparse(stored) else self._to_output(stored, like)
        self.labels_ = self._to_output(labels, like)
        self.n_features_in_ = int(X.shape[1])
        return self

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``: (n_samples,) int32, X's array type and device."""
        return self.fit(X).labels_


def check_affinity_values(A, affinity):
    """A kernel's affinities must be non-negative similarities (the Laplacian takes square
    roots of the degrees)."""
    xp = backend.namespace(A)
    if bool(xp.any(A < 0)):
        raise ValueError(f"affinity={affinity!r} gave negative affinities for this X; spectral "
                         "clustering needs non-negative similarities.")


def spectral_clustering(affinity, *, n_clusters=8, n_components=None, eigen_solver=None,
                        random_state=None, n_init=10, eigen_tol="auto", assign_labels="kmeans",
                        verbose=False):
    """Cluster a precomputed affinity matrix: scikit-learn's ``spectral_clustering``.

    Parameters
    ----------
    affinity : array (n_samples, n_samples), dense or sparse, symmetric and non-negative;
        NumPy, CuPy, torch, any array-API array, or a SciPy / cupyx sparse matrix
    n_clusters, n_components, eigen_solver, random_state, n_init, eigen_tol,
    assign_labels, verbose : as for ``SpectralClustering``

    Returns
    -------
    labels : array (n_samples,), int32, the affinity's array type and device
    """
    return SpectralClustering(
        n_clusters=n_clusters, n_components=n_components, eigen_solver=eigen_solver,
        random_state=random_state, n_init=n_init, affinity="precomputed",
        eigen_tol=eigen_tol, assign_labels=assign_labels, verbose=verbose,
    ).fit(affinity).labels_

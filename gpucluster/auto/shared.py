"""The pieces every candidate of a search shares, each computed once.

- the working data: float32 rows; for the cosine geometry they are scaled to
  unit L2 norm (and centred, which keeps every distance), so Euclidean
  distance on them is a monotone function of cosine distance
  (``|a - b|^2 = 2 - 2 cos(a, b)``) and every estimator runs with its
  Euclidean metric;
- a PCA reduction (to ``PCA_DIMS[mode]`` dimensions, only when the data has
  more) that the density methods (HDBSCAN, DBSCAN, OPTICS) and FINCH fit on:
  their neighbour searches cost O(n^2 d), so fewer dimensions make them
  affordable, and density estimates are steadier in few dimensions;
- one fixed silhouette sample (``SILHOUETTE_SAMPLE`` rows drawn with the
  search's seed, or every row when there are fewer) and the Euclidean
  distances between its rows on the working data, so every candidate's
  silhouette is computed on the same points in the same geometry;
- one neighbour graph of the reduced data (``kernels.knn_graph``: exact
  below its size limit, an inverted-file search above), which every
  HDBSCAN, DBSCAN and FINCH candidate builds on instead of searching again,
  and whose distances at the sample rows give DBSCAN's ``eps``.

The PCA and the graph are computed on first use; ``timings`` records
the seconds each piece took (0.0 for a piece never needed). Structures that
several candidates of one algorithm share (the Ward tree cut at every k,
HDBSCAN's spanning tree per min_samples, FINCH's partitions) are built once
through :meth:`SharedData.shared_piece`, which keeps them in ``cache`` and
adds their build time to ``timings`` under their own name, so that no
candidate's seconds carry the work done for all of them.
"""

import math
import time

import numpy as np
from sklearn.utils import check_random_state

from .. import backend, kernels
from .._distances import normalize_rows
from ..decomposition import PCA

METRICS = ("auto", "euclidean", "cosine")
MODES = ("fast", "balanced", "thorough")
# Rows of the silhouette sample. A (m, m) float32 distance matrix of 10,000
# rows takes 400 MB and one GEMM; every candidate then costs one (m, m) x
# (m, k) product instead of a fresh O(m^2 d) pass.
SILHOUETTE_SAMPLE = 10_000
# Dimensions of the reduction the density methods and FINCH see.
PCA_DIMS = {"fast": 32, "balanced": 32, "thorough": 50}
# Rows used to estimate the covariance for the PCA (a seeded subsample above it).
PCA_FIT_ROWS = 100_000
# Neighbours per row of the shared graph (self excluded): at least every
# density candidate's min_samples - 1 (DBSCAN's up to 16, HDBSCAN's up to 25
# in thorough mode) and the graph size HDBSCAN takes by itself (15).
GRAPH_NEIGHBOURS = {"fast": 16, "balanced": 16, "thorough": 24}
# metric="auto" picks cosine when every row norm is within this of 1.
UNIT_NORM_TOLERANCE = 1e-3
# ... or when the data has at least this many features (embeddings).
COSINE_MIN_FEATURES = 64


def resolve_metric(metric, X):
    """The geometry of a search: "cosine" or "euclidean".

    "auto" gives "cosine" when every row has unit L2 norm (within
    ``UNIT_NORM_TOLERANCE``) or X has at least ``COSINE_MIN_FEATURES``
    columns (embeddings are compared by angle), else "euclidean".
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}.")
    if metric != "auto":
        return metric
    if X.shape[1] >= COSINE_MIN_FEATURES:
        return "cosine"
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    return "cosine" if bool(np.all(np.abs(norms - 1.0) <= UNIT_NORM_TOLERANCE)) else "euclidean"


def unit_rows(X):
    """Rows of X (n, d) scaled to unit L2 norm (zero rows at 0) less their mean, made in
    float64 and rounded once: float32 NumPy with the distances of the unit rows.

    Rounded before the centring, unit rows at small angles (far from the origin) lose
    their differences: float32 blobs at 1e4 had distances 6 % off, at 1e6 100 %, and
    HDBSCAN's probabilities 0.38 apart at 1e5. Centred first, as the estimators' cosine
    rows (``gpucluster._distances.distance_rows``), they keep float32's digits.
    """
    unit = normalize_rows(np.asarray(X, dtype=np.float64))
    return (unit - unit.mean(axis=0)).astype(np.float32)


def euclidean_matrix(A):
    """Euclidean distances (m, m) between the rows of A, zero diagonal.

    float64 for up to 2,000 rows (exact enough for hand-checked values), else
    float32 (half the memory of the largest shared piece); from one GEMM.
    """
    dtype = np.float64 if A.shape[0] <= 2000 else np.float32
    A = A.astype(dtype, copy=False)
    sq = np.einsum("ij,ij->i", A, A)
    D = A @ A.T
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :]
    np.maximum(D, 0.0, out=D)
    np.sqrt(D, out=D)
    np.fill_diagonal(D, 0.0)
    return D


def pca_reduce(X, n_components, random_state, device="auto"):
    """Project X (n, d) on its top ``n_components`` principal axes; float32 NumPy (n, n_components).

    ``decomposition.PCA`` with the covariance solver (one pass of float32
    chunk products summed in float64, then a float64 ``eigh`` of the (d, d)
    matrix), fitted on at most ``PCA_FIT_ROWS`` rows (a seeded subsample)
    and applied to every row, on ``device`` ("auto", "cpu" or "cuda").
    """
    rows = X
    if X.shape[0] > PCA_FIT_ROWS:
        index = random_state.choice(X.shape[0], PCA_FIT_ROWS, replace=False)
        rows = X[np.sort(index)]
    # Fewer rows than axes (a dozen images): the rows span at most that many.
    n_components = min(n_components, rows.shape[0])
    pca = PCA(n_components, svd_solver="covariance_eigh", device=device, output_type="numpy")
    return np.asarray(pca.fit(rows).transform(X), dtype=np.float32)


class SharedData:
    """Data and precomputed pieces shared by every candidate of one search.

    Parameters
    ----------
    X : ndarray (n_samples, n_features), float32, NumPy
    metric : {"auto", "euclidean", "cosine"}
    mode : {"fast", "balanced", "thorough"}
    random_state : int or None
    device : {"auto", "cpu", "cuda"}
        Where the estimators compute; with "cuda" (or "auto" choosing it) the
        working and reduced data are copied to the GPU once and reused.
    target_cluster_size, min_clusters, max_clusters : int or None
        The wanted balance, read by the candidate generators.

    Attributes
    ----------
    n_samples, n_features : int
    metric : str, the resolved geometry ("cosine" or "euclidean")
    working : ndarray (n_samples, n_features) float32: unit rows less their mean for
        cosine
    sample_index : ndarray (m,), int64, sorted
    sample_distances : ndarray (m, m), Euclidean on ``working``
    seed : int, drawn once from ``random_state``; estimators get it
    cache : dict, for estimators that share one fit between candidates (see
        :meth:`shared_piece`)
    timings : dict of seconds: "normalize", "pca", "knn" (the neighbour graph),
        "silhouette_sample", and one entry per kind of structure built by
        :meth:`shared_piece` ("agglomerative_tree", "hdbscan_trees",
        "finch_partitions"), present once one was built
    """

    def __init__(self, X, *, metric="auto", mode="fast", random_state=None, device="auto",
                 target_cluster_size=None, min_clusters=None, max_clusters=None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        self.mode = mode
        self.n_samples, self.n_features = X.shape
        self.target_cluster_size = target_cluster_size
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.device = device
        self._random = check_random_state(random_state)
        self.seed = int(self._random.randint(0, 2**31 - 1))
        self.timings = {"normalize": 0.0, "pca": 0.0, "knn": 0.0, "silhouette_sample": 0.0}
        self.cache = {}
        self._reduced = None
        self._graph = None
        self._sample_knn = None
        self._on_device = {}

        start = time.perf_counter()
        self.metric = resolve_metric(metric, X)
        self.working = unit_rows(X) if self.metric == "cosine" else np.ascontiguousarray(
            X, dtype=np.float32)
        self.timings["normalize"] = time.perf_counter() - start

        start = time.perf_counter()
        m = min(self.n_samples, SILHOUETTE_SAMPLE)
        sampler = np.random.RandomState(self.seed)
        self.sample_index = np.sort(sampler.choice(self.n_samples, m, replace=False)).astype(
            np.int64)
        self.sample_distances = euclidean_matrix(self.working[self.sample_index])
        self.timings["silhouette_sample"] = time.perf_counter() - start

        work = float(self.n_samples) ** 2 * self.n_features
        self.compute_device = backend.resolve_device(device, X, work=work)

    def shared_seconds(self):
        """Seconds spent so far on the shared pieces, all of them together: a candidate's
        own time is its elapsed time less the growth of this during its fit."""
        return sum(self.timings.values())

    def shared_piece(self, key, timing, build):
        """``cache[key]``, made by ``build()`` on first use.

        The build's seconds are added to ``timings[timing]``, less those of
        other shared pieces built inside it (the neighbour graph inside an
        HDBSCAN tree), so each second is counted once.
        """
        if key not in self.cache:
            before = self.shared_seconds()
            start = time.perf_counter()
            piece = build()
            elapsed = time.perf_counter() - start
            nested = self.shared_seconds() - before
            self.timings[timing] = self.timings.get(timing, 0.0) + max(0.0, elapsed - nested)
            self.cache[key] = piece
        return self.cache[key]

    @property
    def reduced_dims(self):
        """Dimensions of the reduced data (the full count when no reduction applies)."""
        return min(self.n_features, PCA_DIMS[self.mode])

    @property
    def reduced(self):
        """The PCA-reduced working data (n_samples, reduced_dims), float32; the working data
        itself when it has no more than ``reduced_dims`` features."""
        if self._reduced is None:
            start = time.perf_counter()
            if self.n_features > self.reduced_dims:
                self._reduced = np.ascontiguousarray(
                    pca_reduce(self.working, self.reduced_dims, np.random.RandomState(self.seed),
                               device=self.compute_device))
            else:
                self._reduced = self.working
            self.timings["pca"] = time.perf_counter() - start
        return self._reduced

    @property
    def graph_neighbours(self):
        """Neighbours per row of the shared graph."""
        return min(GRAPH_NEIGHBOURS[self.mode], self.n_samples - 1)

    def neighbour_graph(self, X, k, metric):
        """The shared graph's k nearest other rows of each row, ``(distances, indices)``
        (n, k) ascending, Euclidean, on the compute device; built on first use.

        Only for X the reduced data as ``data_for("reduced")`` hands it out,
        the Euclidean metric and k up to ``graph_neighbours``; None otherwise
        (the caller then builds its own).
        """
        if (metric != "euclidean" or k > self.graph_neighbours
                or X is not self.data_for("reduced")):
            return None
        if self._graph is None:
            start = time.perf_counter()
            self._graph = kernels.knn_graph(X, self.graph_neighbours, metric="euclidean",
                                            method="auto", random_state=self.seed)
            self.timings["knn"] += time.perf_counter() - start
        distances, indices = self._graph
        return distances[:, :k], indices[:, :k]

    @property
    def knn_distances(self):
        """Euclidean distances (m, k) from each sample row to its k nearest other rows of
        the reduced data, ascending, from the shared graph; float64 NumPy,
        k = ``graph_neighbours``; taken once."""
        if self._sample_knn is None:
            reduced = self.data_for("reduced")
            distances, _ = self.neighbour_graph(reduced, self.graph_neighbours, "euclidean")
            rows = backend.asarray_like(self.sample_index, distances)
            self._sample_knn = np.asarray(
                backend.to_numpy(backend.namespace(distances).take(distances, rows, axis=0)),
                dtype=np.float64)
        return self._sample_knn

    def k_center(self):
        """The central guess for the number of clusters: n / target_cluster_size when a
        target is given, else sqrt(n / 2); within [min_clusters, max_clusters]."""
        if self.target_cluster_size:
            k = self.n_samples / self.target_cluster_size
        else:
            k = math.sqrt(self.n_samples / 2.0)
        low, high = self.k_bounds()
        return int(min(high, max(low, round(k))))

    def k_bounds(self):
        """(lowest, highest) cluster count a candidate may aim for: [min_clusters or 2,
        max_clusters or n_samples - 1]."""
        low = self.min_clusters or 2
        high = self.max_clusters or max(2, self.n_samples - 1)
        return int(low), int(max(low, min(high, self.n_samples - 1)))

    def data_for(self, kind):
        """The array an estimator fits: "full" (working data) or "reduced", on the compute
        device (copied there once)."""
        if kind not in ("full", "reduced"):
            raise ValueError(f"data kind must be 'full' or 'reduced', got {kind!r}.")
        data = self.working if kind == "full" else self.reduced
        if self.compute_device != "cuda":
            return data
        if kind not in self._on_device:
            self._on_device[kind] = backend.to_device(data, "cuda")
        return self._on_device[kind]

    def describe(self):
        """A JSON-able summary of the shared pieces."""
        return {
            "metric": self.metric,
            "normalized": self.metric == "cosine",
            "silhouette_sample": int(self.sample_index.shape[0]),
            "reduced_dims": int(self.reduced_dims) if self._reduced is not None else None,
            "compute_device": self.compute_device,
            "seed": self.seed,
        }

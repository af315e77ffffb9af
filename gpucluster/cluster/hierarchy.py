"""Agglomerative (hierarchical) clustering: ``AgglomerativeClustering``.

The dendrogram is built on the host, because merging is inherently
sequential: ``kernels.nn_chain`` is a host-only kernel that copies device
data to the host once.

- "ward": nearest-neighbour chain over cluster centroids and sizes, O(n d)
  memory;
- "complete" and "average": nearest-neighbour chain over a condensed
  distance matrix of n (n - 1) / 2 float64, checked against the memory budget
  before it is allocated;
- "single": the minimum spanning tree kernel (``kernels.mst``, which runs on
  the GPU for CUDA data), its edges merged in ascending order; for large
  host data in many dimensions (``_graph.graph_is_cheaper``) the tree of a
  neighbour graph whose components are joined by their closest pairs
  (``kernels.graph_mst``), as HDBSCAN's graph path.

Those are the metrics the kernels serve (Euclidean, Manhattan, cosine, by
all of scikit-learn's names for them). The others (``metric="precomputed"``,
the other metrics of ``sklearn.metrics.pairwise``, callables) give a
condensed distance matrix on the host, linked by one code path,
``host_tree``: SciPy's ``scipy.cluster.hierarchy.linkage``.

With a ``connectivity`` graph the merges are restricted to connected
clusters, with scikit-learn's heap over connected pairs (``ward_tree`` and
``linkage_tree``), ported to plain Python on the host in ``_connectivity``.

``children_``, ``distances_`` and ``labels_`` follow scikit-learn's (and
SciPy's) numbering exactly: merge ``s`` creates node ``n_samples + s``, each
row of ``children_`` holds (smaller, larger) node, and ``labels_`` come from
the same cut as scikit-learn's ``_hc_cut``.
"""

import numbers
from heapq import heappush, heappushpop

import numpy as np
from scipy.cluster import hierarchy as scipy_hierarchy
from scipy.spatial.distance import squareform
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_memory

from .. import backend, kernels
from .._config import get_config
from .._distances import cosine_mean, distance_rows, search_rows
from .._host_distances import check_metric, condensed_distances
from .._validation import check_option, check_scalar
from ._base import DeviceEstimatorMixin
from ._connectivity import structured_tree
from ._graph import graph_is_cheaper, graph_neighbors

LINKAGES = ("ward", "complete", "average", "single")
# The metrics the kernels serve (nn_chain, mst), by every name scikit-learn
# gives them; every other metric is computed on the host (``host_tree``).
KERNEL_METRICS = {"euclidean": "euclidean", "l2": "euclidean", "manhattan": "manhattan",
                  "l1": "manhattan", "cityblock": "manhattan", "cosine": "cosine"}


# --------------------------------------------------------------------------
# Unstructured trees


def condensed_bytes(n_samples):
    """Bytes of the condensed float64 distance matrix of ``n_samples`` points."""
    return n_samples * (n_samples - 1) // 2 * 8


def check_condensed_fits(n_samples, linkage, metric="euclidean"):
    """Raise MemoryError when the condensed distance matrix exceeds the host memory budget.

    The budget is ``memory_budget`` from :func:`gpucluster.set_config`, or
    the memory available now.
    """
    needed = condensed_bytes(n_samples)
    budget = get_config()["memory_budget"] or backend.free_memory("cpu")
    if needed > budget:
        if metric in KERNEL_METRICS.values():
            needs = f"linkage={linkage!r}"
            advice = "linkage='ward' or 'single' (O(n) memory)"
        else:
            needs = f"metric={getattr(metric, '__name__', metric)!r}"
            advice = "a metric the kernels compute ('euclidean', 'manhattan', 'cosine')"
        raise MemoryError(
            f"{needs} needs the condensed distance matrix of "
            f"n_samples={n_samples}: {needed} bytes ({needed / 2**30:.2f} GiB), more than "
            f"the {budget} bytes available ({budget / 2**30:.2f} GiB). Use {advice}, a "
            "connectivity graph, fewer samples, or raise "
            "gpucluster.set_config(memory_budget=...)."
        )


def sorted_children(merges, distances, n_samples):
    """Merges found out of order, sorted by distance (stable) and numbered as SciPy's."""
    order = np.argsort(distances, kind="stable")
    merges = np.ascontiguousarray(merges[order])
    return kernels.label_merges(merges, n_samples), distances[order]


def check_precomputed_shape(X):
    """Raise scikit-learn's ValueError unless the precomputed distance matrix X is square."""
    if X.shape[0] != X.shape[1]:
        raise ValueError(
            f"Distance matrix should be square, got matrix of shape {tuple(X.shape)}"
        )


def host_tree(X, linkage, metric):
    """Full dendrogram from a condensed distance matrix on the host (complete, average, single).

    ``metric`` is "precomputed" (X is the square distance matrix; its upper
    triangle is read, as scikit-learn does), a callable (called once with X as
    a float64 NumPy array; it returns the (n_samples, n_samples) distance
    matrix) or a metric name the kernels do not serve
    (``gpucluster._host_distances.condensed_distances``).
    """
    # SciPy's linkage, not a Numba chain over the matrix: scikit-learn links
    # these very inputs with scipy.cluster.hierarchy.linkage on the same
    # condensed matrix, so tied distances (common in integer precomputed
    # matrices and boolean metrics) resolve to the same children_; SciPy's
    # nn-chain and MST are compiled O(n^2) loops, and the matrix lives on the
    # host anyway.
    n = X.shape[0]
    Xh = np.ascontiguousarray(backend.to_numpy(X), dtype=np.float64)
    if metric == "precomputed":
        check_precomputed_shape(Xh)
        condensed = squareform(Xh, checks=False)
    elif callable(metric):
        D = np.asarray(metric(Xh))
        if D.shape != (n, n):
            raise ValueError(
                f"The callable metric must return the distance matrix of shape ({n}, {n}) "
                f"of X's rows, got shape {D.shape}."
            )
        condensed = squareform(np.ascontiguousarray(D, dtype=np.float64), checks=False)
    else:
        # scikit-learn's single linkage measures with its own DistanceMetric
        # definitions, its complete and average linkages with SciPy's.
        definitions = "sklearn" if linkage == "single" else "scipy"
        condensed = condensed_distances(Xh, metric, definitions=definitions)
    linkage_matrix = scipy_hierarchy.linkage(condensed, method=linkage)
    return (np.ascontiguousarray(linkage_matrix[:, :2], dtype=np.int64),
            np.ascontiguousarray(linkage_matrix[:, 2]))


def unstructured_tree(X, linkage, metric):
    """Full dendrogram of X's rows without connectivity constraints.

    Parameters
    ----------
    X : array (n_samples, n_features), or (n_samples, n_samples) with "precomputed";
        NumPy or any array-API array
        Only "single" linkage with a euclidean or cosine metric keeps X in its
        namespace (the ``mst`` kernel, or ``graph_mst`` on a neighbour graph
        for large host data); the other kernel metrics go through the
        host-only ``kernels.nn_chain``, in float64, the rest through
        ``host_tree``.
    linkage : {"ward", "complete", "average", "single"}
    metric : "euclidean", "manhattan", "cosine" (the kernels), "precomputed",
        another name of :data:`gpucluster._host_distances.PAIRWISE_METRICS` or a callable

    Returns
    -------
    children : ndarray (n_samples - 1, 2) int64
    distances : ndarray (n_samples - 1,) float64
    """
    n = X.shape[0]
    if metric not in KERNEL_METRICS.values():
        check_condensed_fits(n, linkage, metric)
        return host_tree(X, linkage, metric)
    # The cosine distance is measured on X's cosine rows (``distance_rows``): float64 for
    # the chain, rounded to X's dtype for the spanning tree's search.
    rows, measured = distance_rows(X, metric, cosine_mean(X, metric))
    if linkage == "single" and metric in ("euclidean", "cosine"):
        rows = search_rows(rows, X)
        if graph_is_cheaper(X):
            _, indices = kernels.knn_graph(rows, graph_neighbors(0, n), metric=measured)
            edges, weights = kernels.graph_mst(rows, None, indices, metric=measured)
        else:
            edges, weights = kernels.mst(rows, metric=measured)
        edges = np.ascontiguousarray(backend.to_numpy(edges), dtype=np.int64)
        weights = np.asarray(backend.to_numpy(weights), dtype=np.float64)
        # The kernel's edges already ascend by weight; the stable sort only
        # guards the contract.
        return sorted_children(edges, weights, n)
    if linkage != "ward":
        check_condensed_fits(n, linkage)
    merges, distances = kernels.nn_chain(rows, linkage, measured)
    return sorted_children(backend.to_numpy(merges), backend.to_numpy(distances), n)


# --------------------------------------------------------------------------
# The estimator's tree and its cut


def hc_cut(n_clusters, children, n_leaves):
    """Labels of the leaves after cutting the tree into ``n_clusters``, numbered as scikit-learn's ``_hc_cut``."""
    if n_clusters > n_leaves:
        raise ValueError(
            "Cannot extract more clusters than samples: "
            f"{n_clusters} clusters were given for a tree with {n_leaves} leaves."
        )
    # scikit-learn splits the largest node first through a heap of negated
    # ids; the heap's final order numbers the clusters, so it is kept as is.
    nodes = [-(int(max(children[-1])) + 1)]
    for _ in range(n_clusters - 1):
        these_children = children[-nodes[0] - n_leaves]
        heappush(nodes, -int(these_children[0]))
        heappushpop(nodes, -int(these_children[1]))
    cut = np.array([-node for node in nodes], dtype=np.int64)
    return kernels.leaf_labels(np.ascontiguousarray(children, dtype=np.int64), n_leaves, cut)


def build_tree(X, linkage, metric, connectivity, n_clusters):
    """The tree for ``AgglomerativeClustering``; a module-level function so ``memory`` can cache it.

    Returns ``(children, n_connected_components, parents or None, distances)``.
    """
    if connectivity is None:
        children, distances = unstructured_tree(X, linkage, metric)
        return children, 1, None, distances
    Xh = np.ascontiguousarray(backend.to_numpy(X), dtype=np.float64)
    return structured_tree(Xh, connectivity, linkage, metric, n_clusters)


# --------------------------------------------------------------------------
# The estimator


class AgglomerativeClustering(DeviceEstimatorMixin, ClusterMixin, BaseEstimator):
    """Agglomerative clustering, a drop-in replacement for scikit-learn's.

    Recursively merges the pair of clusters that least increases the linkage
    distance, and cuts the tree at ``n_clusters`` or ``distance_threshold``.

    Parameters
    ----------
    n_clusters : int or None, default=2
        The number of clusters to find; None when ``distance_threshold`` is set.
    metric : str or callable, default="euclidean"
        Distance between samples: "euclidean" ("l2"), "manhattan" ("l1",
        "cityblock") and "cosine" run on gpucluster's kernels; any other
        metric of ``sklearn.metrics.pairwise`` ("chebyshev", "minkowski",
        "jaccard", ...) is computed on the host; "precomputed" takes X as a
        square distance matrix (its upper triangle is read); a callable is
        called with X (a float64 NumPy array) and returns the distance matrix,
        or, with ``connectivity``, with two rows and returns their distance.
        "ward" accepts only "euclidean" ("l2"). "cosine" needs non-zero rows.
    memory : str, joblib.Memory or None, default=None
        Caches the tree, as scikit-learn's.
    connectivity : array-like, sparse matrix or callable, default=None
        Neighbours of each sample (n_samples, n_samples), for example from
        ``sklearn.neighbors.kneighbors_graph``; a callable is called with X
        (as a NumPy array) and returns it. Merges then join only connected
        clusters; a graph with several components is completed with a warning.
    compute_full_tree : "auto" or bool, default="auto"
        Stop building the tree at ``n_clusters`` (only with ``connectivity``).
        "auto" stops early when ``n_clusters`` is at least
        ``max(100, 0.02 * n_samples)``; it must be True with ``distance_threshold``.
    linkage : {"ward", "complete", "average", "single"}, default="ward"
    distance_threshold : float or None, default=None
        Clusters are not merged above this linkage distance; ``n_clusters``
        must then be None.
    compute_distances : bool, default=False
        Store ``distances_`` even without ``distance_threshold``.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where "single" linkage computes its spanning tree; the other linkages
        build the tree on the host.
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"
        The array type of fitted attributes; "input" mirrors X.

    Attributes
    ----------
    n_clusters_ : int
    labels_ : array of shape (n_samples,), int64
        Same array type and device as the X given to ``fit`` (see ``output_type``).
    n_leaves_ : int
    n_connected_components_ : int
    n_features_in_ : int
    children_ : array of shape (n_samples - 1, 2), int64
        Merge ``i`` joins nodes ``children_[i]`` into node ``n_samples + i``;
        nodes below ``n_samples`` are samples. Fewer rows when the tree stops
        early.
    distances_ : array of shape (n_samples - 1,), float64
        Linkage distance of each merge (the ward distance for "ward");
        only with ``distance_threshold`` or ``compute_distances``.

    Warns
    -----
    UserWarning
        When the ``connectivity`` graph has several connected components
        (they are joined by their closest pairs, as in scikit-learn).

    Notes
    -----
    "ward" runs the nearest-neighbour chain over centroids: O(n^2 d) time,
    O(n d) memory. "complete" and "average" run it over a condensed distance
    matrix: O(n^2 d) time, 4 n^2 bytes; a ``MemoryError`` names the bytes
    needed when that exceeds the memory available (or ``memory_budget``).
    "single" is a minimum spanning tree, O(n^2 d) time and O(n d) memory;
    from ``GRAPH_MIN_ROWS`` rows and ``GRAPH_MIN_FEATURES`` features on the
    host, the tree of a neighbour graph with its components joined exactly
    (near-linear in n; the labels of a cut agree with the exact tree's on
    clustered data, while merge heights inside a cluster may be a little
    higher where the graph misses the closest pair).
    The cosine distance is the squared distance of X's unit rows, made and
    centred in float64 and scaled by sqrt(1/2)
    (``gpucluster._distances.distance_rows``): 1 - u.v cancels for rows far
    from the origin. Single linkage searches them in X's dtype.
    With ``connectivity``, the cost follows the number of edges, in pure
    Python as scikit-learn's.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster import AgglomerativeClustering
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [4, 4], [4, 0]])
    >>> clustering = AgglomerativeClustering().fit(X)
    >>> clustering.labels_.tolist()
    [1, 1, 1, 0, 0, 0]
    >>> clustering.children_.tolist()
    [[0, 1], [3, 5], [2, 6], [4, 7], [8, 9]]
    """

    def __init__(self, n_clusters=2, *, metric="euclidean", memory=None, connectivity=None,
                 compute_full_tree="auto", linkage="ward", distance_threshold=None,
                 compute_distances=False, device="auto", output_type="input"):
        self.n_clusters = n_clusters
        self.metric = metric
        self.memory = memory
        self.connectivity = connectivity
        self.compute_full_tree = compute_full_tree
        self.linkage = linkage
        self.distance_threshold = distance_threshold
        self.compute_distances = compute_distances
        self.device = device
        self.output_type = output_type

    def _check_params(self):
        if self.n_clusters is not None:
            check_scalar(self.n_clusters, "n_clusters", min_value=1)
        if self.distance_threshold is not None:
            check_scalar(self.distance_threshold, "distance_threshold", kind=numbers.Real,
                         min_value=0)
        check_option(self.linkage, "linkage", LINKAGES)
        check_metric(self.metric, "metric", extra=("precomputed",))
        if not (isinstance(self.compute_full_tree, bool) or self.compute_full_tree == "auto"):
            raise ValueError(
                f"compute_full_tree must be 'auto', True or False, got {self.compute_full_tree!r}."
            )
        if not isinstance(self.compute_distances, (bool, np.bool_)):
            raise TypeError(f"compute_distances must be a bool, got {self.compute_distances!r}.")
        self._check_device_params()
        if not ((self.n_clusters is None) ^ (self.distance_threshold is None)):
            raise ValueError(
                "Exactly one of n_clusters and distance_threshold has to be set, and the "
                f"other needs to be None; got n_clusters={self.n_clusters!r} and "
                f"distance_threshold={self.distance_threshold!r}."
            )
        if self.distance_threshold is not None and not self.compute_full_tree:
            raise ValueError("compute_full_tree must be True if distance_threshold is set.")
        metric = KERNEL_METRICS.get(self.metric, self.metric) if isinstance(
            self.metric, str) else self.metric
        if self.linkage == "ward" and metric != "euclidean":
            raise ValueError(
                f"{self.metric} was provided as metric. Ward can only work with euclidean "
                "distances (i.e. 'euclidean' and 'l2')."
            )
        return metric

    def _work(self, n_samples, n_features):
        # Only the single-linkage spanning tree can use a GPU.
        gpu = self.linkage == "single" and self.metric in ("euclidean", "l2", "cosine")
        return float(n_samples) ** 2 * n_features if gpu else 0.0

    def fit(self, X, y=None):
        """Build the tree and cut it.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
            NumPy, CuPy, torch (CPU or CUDA), any array-API array or a list;
            at least 2 samples.
        y : ignored

        Returns
        -------
        self : AgglomerativeClustering
        """
        metric = self._check_params()
        memory = check_memory(self.memory)
        X, _, like = self._prepare_input(X, reset=True, work=self._work)
        n_samples = X.shape[0]
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={tuple(X.shape)}) while a "
                "minimum of 2 is required by AgglomerativeClustering."
            )
        if metric == "precomputed":
            check_precomputed_shape(X)
        xp = backend.namespace(X)
        if metric == "cosine" and self.linkage != "ward" and bool(
            xp.any(xp.all(X == 0, axis=1))
        ):
            raise ValueError("Cosine affinity cannot be used when X contains zero vectors")

        connectivity = self.connectivity
        if connectivity is not None:
            if callable(connectivity):
                connectivity = connectivity(backend.to_numpy(X))
            connectivity = check_array(connectivity, accept_sparse=["csr", "coo", "lil"])

        compute_full_tree = self.compute_full_tree
        if connectivity is None:
            compute_full_tree = True
        if compute_full_tree == "auto":
            if self.distance_threshold is not None:
                compute_full_tree = True
            else:
                # scikit-learn's heuristic: stopping early pays only for many clusters.
                compute_full_tree = self.n_clusters < max(100, 0.02 * n_samples)
        n_clusters = None if compute_full_tree else self.n_clusters
        if not compute_full_tree and self.n_clusters > n_samples:
            raise ValueError(
                f"Cannot provide more clusters than samples. {self.n_clusters} n_clusters "
                f"was asked, and there are {n_samples} samples."
            )
        if compute_full_tree and self.n_clusters is not None and self.n_clusters > n_samples:
            raise ValueError(
                "Cannot extract more clusters than samples: "
                f"{self.n_clusters} clusters were given for a tree with {n_samples} leaves."
            )

        builder = build_tree
        X_tree = X
        if self.memory is not None:
            builder = memory.cache(build_tree)
            X_tree = backend.to_numpy(X)
        children, n_components, parents, distances = builder(
            X_tree, self.linkage, metric, connectivity, n_clusters
        )

        if self.distance_threshold is not None:
            n_clusters_ = int(np.count_nonzero(distances >= self.distance_threshold)) + 1
        else:
            n_clusters_ = int(self.n_clusters)
        if compute_full_tree:
            labels = hc_cut(n_clusters_, children, n_samples)
        else:
            heads = kernels.forest_roots(parents, n_samples)
            labels = np.searchsorted(np.unique(heads), heads).astype(np.int64)

        self.children_ = self._to_output(np.ascontiguousarray(children, dtype=np.int64), like)
        if self.distance_threshold is not None or self.compute_distances:
            self.distances_ = self._to_output(np.asarray(distances, dtype=np.float64), like)
        elif hasattr(self, "distances_"):
            del self.distances_
        self.n_connected_components_ = int(n_components)
        self.n_leaves_ = int(n_samples)
        self.n_clusters_ = n_clusters_
        self.labels_ = self._to_output(np.asarray(labels, dtype=np.int64), like)
        self.n_features_in_ = int(X.shape[1])
        return self

    def fit_predict(self, X, y=None):
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

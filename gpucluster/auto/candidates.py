"""The algorithm registry of the search, and the built-in candidate generators.

An algorithm joins the search with :func:`register_algorithm`:

- ``factory(params, *, device, context)`` returns an unfitted estimator with
  ``fit(X)`` and ``labels_`` (scikit-learn style; -1 marks noise).
  ``context`` is the search's :class:`~gpucluster.auto.shared.SharedData`, or
  None when the estimator is fitted alone (``gpucluster cluster``);
- ``candidate_fn(context)`` returns the parameter dicts (JSON-able values)
  that the grid search tries, most promising first; their number follows
  ``context.mode``;
- ``data`` says what the estimator fits: "full" (the working data) or
  "reduced" (the PCA reduction, for neighbour-based methods);
- ``space(trial, context)``, optional, draws one parameter dict from an Optuna
  trial; without it the Optuna search picks among ``candidate_fn``'s dicts;
- ``follow_up(context, ks)``, optional, returns parameter dicts for the
  cluster counts ``ks`` that the methods choosing their own number of
  clusters (HDBSCAN, DBSCAN, FINCH...) found in the first pass, best first;
  the search runs them after that pass (KMeans and Ward at the k a density
  method suggests: the same groups with every row assigned).

Built-ins: "kmeans" (n <= ``MINIBATCH_MIN_ROWS``), "minibatch_kmeans" (above,
and in thorough mode), "agglomerative" (Ward, n <= ``AGGLOMERATIVE_MAX_ROWS``),
"finch", "hdbscan", "dbscan" (the three on the search's one shared neighbour
graph, ``SharedData.neighbour_graph``, where they build on a graph),
"optics" (thorough mode only, up to ``OPTICS_MAX_ROWS`` rows), "kmedoids"
(FasterPAM; thorough mode only, up to ``KMEDOIDS_MAX_ROWS`` rows),
"gaussian_mixture" (on the reduction; balanced and thorough modes), and in
thorough mode only, on the reduction: "spectral" (nearest-neighbour affinity,
up to ``SPECTRAL_MAX_ROWS`` rows), "birch" (up to ``BIRCH_MAX_ROWS``),
"meanshift" (up to ``MEANSHIFT_MAX_ROWS``) and "affinity_propagation" (up to
``AFFINITY_MAX_ROWS``).
"""

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .. import _format as fmt
from .. import backend
from .._arguments import name_key
from ..cluster import DBSCAN, FINCH, HDBSCAN, OPTICS
from ..cluster import _graph
from ..cluster.hierarchy import hc_cut

from .schema import is_algorithm_name

# Above this many rows MiniBatchKMeans replaces KMeans (thorough mode runs both).
MINIBATCH_MIN_ROWS = 100_000
# From this many rows KMeans candidates seed with k-means|| instead of greedy
# k-means++, whose k passes over X dominate the fit there: at 100,000 x 512
# (benchmarks/auto_search.py data, 2 cores) seeding k=224 takes 2.8 s against
# 10.2 s, with the same inertia after Lloyd (47,204 against 47,199).
KMEANS_PARALLEL_MIN_ROWS = 50_000
# Ward needs O(n^2) work per tree; beyond this it is left out.
AGGLOMERATIVE_MAX_ROWS = 20_000
# OPTICS is tried in thorough mode up to this many rows (on the shared graph
# above GRAPH_MIN_ROWS on the host; its ordering loop stays sequential).
OPTICS_MAX_ROWS = 200_000
# KMedoids (FasterPAM) reads all n^2 distances per pass: tried in thorough mode up to
# this many rows, at the first KMEDOIDS_KS cluster counts of k_grid (and the follow-up's).
KMEDOIDS_MAX_ROWS = 10_000
KMEDOIDS_KS = 5
# GaussianMixture fits the PCA reduction: diagonal covariances in balanced mode, and
# full ones too in thorough mode, at the first GMM_KS cluster counts of k_grid, up to
# GMM_MAX_ROWS rows (each EM iteration is a few GEMMs over the rows per component).
GMM_MAX_ROWS = 1_000_000
# SpectralClustering (a kNN affinity graph, then Lanczos on it) fits the reduction in
# thorough mode, up to this many rows, at the first SPECTRAL_KS cluster counts of k_grid.
SPECTRAL_MAX_ROWS = 20_000
SPECTRAL_KS = 6
SPECTRAL_NEIGHBOURS = 10
# Birch (a CF-tree, then Ward on its subclusters) fits the reduction in thorough mode, up
# to BIRCH_MAX_ROWS rows, with the subcluster radius at the median distance of a row to
# its 10th nearest neighbour, at the first BIRCH_KS cluster counts of k_grid.
BIRCH_MAX_ROWS = 1_000_000
BIRCH_KS = 4
# MeanShift (a bandwidth from the same distances) and AffinityPropagation (n x n messages,
# a few hundred passes) are tried in thorough mode on small data only.
MEANSHIFT_MAX_ROWS = 5_000
AFFINITY_MAX_ROWS = 2_000
# Birch's threshold and MeanShift's bandwidth are at least this fraction of the data's
# scale (``radius_floor``).
RADIUS_FLOOR = 1e-6
GMM_KS = 6
# Without max_clusters, partitions with more than this many times the central
# guess of k are too fragmented to be useful: they are skipped.
FRAGMENTED_FACTOR = 4
# Fast mode tries more cluster counts below this many rows, where fits are cheap.
SMALL_ROWS = 5_000
# How many FINCH partitions (finest first) each mode looks at.
FINCH_LEVELS = {"fast": 4, "balanced": 6, "thorough": 8}


class SharedGraphMixin:
    """For estimators with ``_neighbour_graph`` (``cluster._graph``): take the search's
    shared graph (``context.neighbour_graph``) where it serves, else build one."""

    def _neighbour_graph(self, X, k, metric):
        graph = None if self.context is None else self.context.neighbour_graph(X, k, metric)
        return super()._neighbour_graph(X, k, metric) if graph is None else graph


class SkipCandidate(Exception):
    """Raised by an estimator wrapper when a candidate does not apply (status "skipped")."""


@dataclass(frozen=True)
class Algorithm:
    """One registered algorithm: see the module docstring for the fields."""

    name: str
    factory: Callable
    candidate_fn: Callable
    data: str = "full"
    space: Optional[Callable] = None
    follow_up: Optional[Callable] = None


_REGISTRY = {}


def register_algorithm(name, factory, candidate_fn, *, data="full", space=None, follow_up=None,
                       replace=False):
    """Add an algorithm to the search.

    Parameters
    ----------
    name : str
        Short lowercase name, used in results folders ("rank_01_<name>").
    factory : callable ``(params: dict, *, device: str, context) -> estimator``
    candidate_fn : callable ``(context) -> list[dict]``
    data : {"full", "reduced"}
    space : callable ``(trial, context) -> dict`` or None
    follow_up : callable ``(context, ks: list[int]) -> list[dict]`` or None
    replace : bool
        Allow replacing an algorithm of the same name.

    Raises
    ------
    ValueError
        For a bad name or ``data``, or a name taken when ``replace`` is False.
    """
    if not is_algorithm_name(name):
        raise ValueError(f"Algorithm name must be letters, digits and '_', got {name!r}.")
    if data not in ("full", "reduced"):
        raise ValueError(f"data must be 'full' or 'reduced', got {data!r}.")
    if not callable(factory) or not callable(candidate_fn):
        raise TypeError("factory and candidate_fn must be callable.")
    if follow_up is not None and not callable(follow_up):
        raise TypeError("follow_up must be callable or None.")
    if name in _REGISTRY and not replace:
        raise ValueError(f"An algorithm named {name!r} is registered; pass replace=True.")
    _REGISTRY[name] = Algorithm(name, factory, candidate_fn, data, space, follow_up)


def _unknown_algorithm(name, known=None, listed="registered"):
    """The ValueError for an unknown name, listing the known ones (default: registered)."""
    known = _REGISTRY if known is None else known
    return ValueError(f"Unknown algorithm {name!r}; {listed}: {', '.join(sorted(known))}.")


def get_algorithm(name):
    """The registered :class:`Algorithm` called ``name`` (ValueError naming the known ones)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise _unknown_algorithm(name) from None


# Other spellings of the built-ins: scikit-learn's class names where they are more
# than the registered name with its case and '_' changed.
ALGORITHM_ALIASES = {"agglomerative_clustering": "agglomerative",
                     "spectral_clustering": "spectral"}


def canonical_algorithm_name(name, choices=None):
    """The algorithm name that ``name`` means, ignoring case and '-'/'_' differences
    ("KMeans" and "k-means" -> "kmeans"; scikit-learn's "AgglomerativeClustering" ->
    "agglomerative", see ``ALGORITHM_ALIASES``).

    Parameters
    ----------
    name : str
    choices : iterable of str or None
        The names to match against; None: the registered algorithms.

    Raises
    ------
    ValueError
        ``name`` means none of them; the message lists them.
    """
    known = list(_REGISTRY) if choices is None else list(choices)
    if name in known:
        return name
    by_key = {name_key(alias): target for alias, target in ALGORITHM_ALIASES.items()
              if target in known}
    by_key.update({name_key(choice): choice for choice in reversed(known)})  # first wins
    try:
        return by_key[name_key(name)]
    except KeyError:
        raise _unknown_algorithm(name, known, "registered" if choices is None else "known") \
            from None


def algorithm_names():
    """Names of the registered algorithms, in registration order."""
    return list(_REGISTRY)


# --------------------------------------------------------------------------
# Grids derived from the data


def upper_k(context):
    """The most clusters a useful candidate has: max_clusters, else FRAGMENTED_FACTOR
    times the central guess (never above n - 1)."""
    low, high = context.k_bounds()
    if context.max_clusters:
        return high
    return int(max(low, min(high, FRAGMENTED_FACTOR * context.k_center())))


def _geometric(low, high, count):
    if count <= 0 or high < low:
        return []
    if count == 1 or high == low:
        return [int(round(math.sqrt(low * high)))]
    ratio = (high / low) ** (1.0 / (count - 1))
    return [int(round(low * ratio**i)) for i in range(count)]


def _unique_in(values, low, high):
    out = []
    for v in values:
        v = int(min(high, max(low, v)))
        if v not in out:
            out.append(v)
    return out


def k_grid(context):
    """Cluster counts for the partitional methods, the central guess first.

    fast: the guess k0, k0 / 2 and k0 / 4, plus 2, 3, 4, 6, 8, 10 when n <=
    ``SMALL_ROWS`` (fits are cheap there); balanced: 2..10 and a geometric
    grid of 8 up to 2 k0; thorough: 2..20
    and a geometric grid of 16 up to the fragmentation bound. All clipped to
    [min_clusters, max_clusters].
    """
    low, _ = context.k_bounds()
    high = upper_k(context)
    k0 = context.k_center()
    if context.mode == "fast":
        values = [k0, k0 // 2, k0 // 4]
        if context.n_samples <= SMALL_ROWS:
            values += [2, 3, 4, 6, 8, 10]
    elif context.mode == "balanced":
        values = [k0] + list(range(2, 11)) + _geometric(max(11, k0 // 4), max(11, 2 * k0), 8)
    else:
        values = [k0] + list(range(2, 21)) + _geometric(max(21, k0 // 4), max(21, high), 16)
    return _unique_in([v for v in values if v >= 2], max(2, low), high)


def min_cluster_sizes(context):
    """HDBSCAN's min_cluster_size from the wanted balance: a geometric grid from
    n / upper_k (many small clusters) to n / k0 (clusters of the target size),
    at least 5; 3, 4 and 8 values by mode (the candidates share one minimum
    spanning tree per min_samples, so extra sizes cost little)."""
    n = context.n_samples
    floor = min(5, max(2, n // 2))  # tiny inputs: at least 2, at most half the rows
    small = max(floor, n // max(2, upper_k(context)))
    large = max(small, n // max(2, context.k_center()))
    count = {"fast": 3, "balanced": 4, "thorough": 8}[context.mode]
    return _unique_in(_geometric(small, large, count), floor, max(floor, n // 2))


def _seeded(params, context):
    out = dict(params)
    out.setdefault("random_state", context.seed)
    return out


# --------------------------------------------------------------------------
# KMeans and MiniBatchKMeans


def _kmeans_factory(params, *, device, context):
    from ..cluster import KMeans

    return KMeans(**params, device=device)


def _kmeans_candidates(context):
    if context.n_samples > MINIBATCH_MIN_ROWS and context.mode != "thorough":
        return []
    n_init = 3 if context.mode == "thorough" else 1
    extra = {"init": "k-means||"} if context.n_samples >= KMEANS_PARALLEL_MIN_ROWS else {}
    return [_seeded({"n_clusters": k, "n_init": n_init, **extra}, context)
            for k in k_grid(context)]


def _kmeans_follow_up(context, ks):
    return [dict(p, n_clusters=k) for k in ks for p in _kmeans_candidates(context)[:1]]


def _k_space(prefix):
    def space(trial, context):
        low, _ = context.k_bounds()
        high = upper_k(context)
        k = trial.suggest_int(f"{prefix}.n_clusters", max(2, low), max(2, low, high), log=True)
        return _seeded({"n_clusters": k, "n_init": 1}, context)

    return space


def _minibatch_factory(params, *, device, context):
    from ..cluster import MiniBatchKMeans

    return MiniBatchKMeans(**params, device=device)


def _minibatch_candidates(context):
    if context.n_samples <= MINIBATCH_MIN_ROWS and context.mode != "thorough":
        return []
    return [_seeded({"n_clusters": k, "n_init": 1, "batch_size": 4096}, context)
            for k in k_grid(context)]


def _minibatch_follow_up(context, ks):
    return [dict(p, n_clusters=k) for k in ks for p in _minibatch_candidates(context)[:1]]


# --------------------------------------------------------------------------
# Agglomerative (Ward): one tree, cut at every k


class AgglomerativeCut:
    """Ward agglomerative clustering cut at ``n_clusters``; with a search's ``context`` the
    tree is built once per search (``context.shared_piece``, timed as
    "agglomerative_tree") and cut for every candidate k."""

    def __init__(self, n_clusters=2, *, linkage="ward", device="auto", context=None, **params):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.device = device
        self.context = context
        self.params = params

    def fit(self, X):
        from ..cluster import AgglomerativeClustering

        if self.context is None or self.params:
            # Alone (gpucluster cluster) or with other parameters: the estimator itself.
            model = AgglomerativeClustering(n_clusters=self.n_clusters, linkage=self.linkage,
                                            device=self.device, **self.params).fit(X)
            self.labels_ = np.asarray(backend.to_numpy(model.labels_), dtype=np.int64)
            return self

        def build_tree():
            model = AgglomerativeClustering(n_clusters=self.n_clusters, linkage=self.linkage,
                                            compute_full_tree=True, device=self.device).fit(X)
            return np.asarray(backend.to_numpy(model.children_), dtype=np.int64)

        children = self.context.shared_piece(("agglomerative", self.linkage, X.shape),
                                             "agglomerative_tree", build_tree)
        self.labels_ = hc_cut(self.n_clusters, children, X.shape[0])
        return self


def _agglomerative_factory(params, *, device, context):
    return AgglomerativeCut(**params, device=device, context=context)


def _agglomerative_candidates(context):
    if context.n_samples > AGGLOMERATIVE_MAX_ROWS:
        return []
    grid = k_grid(context)
    if context.mode == "fast":
        grid = grid[:1]
    return [{"n_clusters": k, "linkage": "ward"} for k in grid]


def _agglomerative_follow_up(context, ks):
    if not _agglomerative_candidates(context):
        return []
    return [{"n_clusters": k, "linkage": "ward"} for k in ks]


# --------------------------------------------------------------------------
# FINCH: one fit gives every partition


class FINCHShared(SharedGraphMixin, FINCH):
    """FINCH whose first neighbours on the search's data come from the shared graph."""

    def __init__(self, n_clusters=None, *, metric="euclidean", ensure_early_exit=True,
                 algorithm="auto", device="auto", context=None):
        super().__init__(n_clusters, metric=metric, ensure_early_exit=ensure_early_exit,
                         algorithm=algorithm, device=device)
        self.context = context


class FINCHLevel:
    """FINCH's partition number ``level`` (0 = finest); the fit is shared through the
    context (``context.shared_piece``, timed as "finch_partitions"). With
    ``level=None`` it is plain FINCH (``n_clusters`` as FINCH's)."""

    def __init__(self, level=None, *, n_clusters=None, metric="euclidean", device="auto",
                 context=None, **params):
        self.level = level
        self.n_clusters = n_clusters
        self.metric = metric
        self.device = device
        self.context = context
        self.params = params

    def fit(self, X):
        if self.level is None:
            model = FINCHShared(n_clusters=self.n_clusters, metric=self.metric,
                                device=self.device, context=self.context, **self.params)
            self.labels_ = np.asarray(backend.to_numpy(model.fit(X).labels_), dtype=np.int64)
            return self

        def build_partitions():
            model = FINCHShared(metric=self.metric, device=self.device, context=self.context,
                                **self.params).fit(X)
            return [np.asarray(backend.to_numpy(p), dtype=np.int64) for p in model.partitions_]

        if self.context is None:
            partitions = build_partitions()
        else:
            key = ("finch", self.metric, repr(sorted(self.params.items())), X.shape)
            partitions = self.context.shared_piece(key, "finch_partitions", build_partitions)
        if not 0 <= self.level < len(partitions):
            raise SkipCandidate(f"FINCH made {fmt.counted(len(partitions), 'partition')}; "
                                f"level {self.level} does not exist.")
        self.labels_ = partitions[self.level]
        return self


def _finch_factory(params, *, device, context):
    return FINCHLevel(**params, device=device, context=context)


def _finch_candidates(context):
    return [{"level": level} for level in range(FINCH_LEVELS[context.mode])]


def _finch_space(trial, context):
    return {"level": trial.suggest_int("finch.level", 0, FINCH_LEVELS["thorough"] - 1)}


# --------------------------------------------------------------------------
# HDBSCAN, DBSCAN, OPTICS (on the reduced data)


class HDBSCANShared(SharedGraphMixin, HDBSCAN):
    """HDBSCAN whose minimum spanning tree is shared through the context
    (``context.shared_piece``, timed as "hdbscan_trees").

    The mutual-reachability MST depends on X and ``min_samples`` only, so the
    candidates that differ in ``min_cluster_size`` share one and each runs
    only the tree steps; on the graph path the trees of every
    ``min_samples`` are built on the search's one graph. The labels are the
    estimator's own. Without a context it is the plain estimator.
    """

    def __init__(self, min_cluster_size=5, *, min_samples=None, cluster_selection_method="eom",
                 device="auto", context=None):
        super().__init__(min_cluster_size, min_samples=min_samples,
                         cluster_selection_method=cluster_selection_method, device=device)
        self.context = context

    def _spanning_tree(self, X, min_samples):
        if self.context is None:
            return super()._spanning_tree(X, min_samples)
        key = ("hdbscan_mst", int(min_samples), tuple(X.shape))
        build_tree = super()._spanning_tree
        return self.context.shared_piece(key, "hdbscan_trees",
                                         lambda: build_tree(X, min_samples))


def _hdbscan_factory(params, *, device, context):
    return HDBSCANShared(**params, device=device, context=context)


def _hdbscan_candidates(context):
    """Every min_cluster_size with both selections: "eom" (the most persistent clusters)
    and "leaf" (the finest clusters of the condensed tree, which splits a group that
    "eom" keeps whole because its parts are small). Both read one tree per min_samples."""
    out = []
    samples = (10,) if context.mode != "thorough" else (5, 10, 25)
    for method in ("eom", "leaf"):
        for size in min_cluster_sizes(context):
            for min_samples in samples:
                params = {"min_cluster_size": size,
                          "min_samples": min(size, min_samples, context.n_samples)}
                if method == "leaf":
                    params["cluster_selection_method"] = "leaf"
                if params not in out:
                    out.append(params)
    return out


def _hdbscan_space(trial, context):
    sizes = min_cluster_sizes(context)
    size = trial.suggest_int("hdbscan.min_cluster_size", min(sizes), max(sizes) + 1, log=True)
    min_samples = trial.suggest_int("hdbscan.min_samples", 2, 25, log=True)
    method = trial.suggest_categorical("hdbscan.cluster_selection_method", ["eom", "leaf"])
    params = {"min_cluster_size": size, "min_samples": min(size, min_samples, context.n_samples)}
    if method == "leaf":
        params["cluster_selection_method"] = "leaf"
    return params


def significant(value, digits=6):
    """``value`` rounded to ``digits`` significant digits (a readable parameter that keeps
    its scale: cosine eps far from the origin are below 1e-6)."""
    return float(f"{value:.{digits}g}")


def dbscan_eps(context, min_samples, quantile):
    """DBSCAN's eps: the ``quantile`` of the sample rows' distances to their
    (min_samples - 1)-th nearest other row (min_samples counts the point itself),
    on the reduced data; roughly that fraction of rows become core points."""
    distances = context.knn_distances
    column = min(distances.shape[1], max(1, min_samples - 1)) - 1
    return float(np.quantile(distances[:, column], quantile))


class DBSCANShared(SharedGraphMixin, DBSCAN):
    """DBSCAN whose neighbour graph (``algorithm="knn_graph"``) is the search's shared one."""

    def __init__(self, eps=0.5, *, min_samples=5, algorithm="auto", device="auto",
                 context=None):
        super().__init__(eps, min_samples=min_samples, algorithm=algorithm, device=device)
        self.context = context


def _dbscan_factory(params, *, device, context):
    return DBSCANShared(**params, device=device, context=context)


def dbscan_algorithm(context):
    """"knn_graph" (eps-neighbourhoods cut from the shared graph) from
    ``GRAPH_MIN_ROWS`` rows on the host, where the exact radius search in the
    reduced dimensions costs O(n^2 d); "auto" (exact) otherwise."""
    large = context.n_samples >= _graph.GRAPH_MIN_ROWS and context.reduced_dims > 16
    return "knn_graph" if large and context.compute_device != "cuda" else "auto"


DBSCAN_GRIDS = {
    "fast": ((10, (0.5,)),),
    "balanced": ((5, (0.5, 0.8)), (10, (0.3, 0.5, 0.8))),
    "thorough": ((5, (0.3, 0.5, 0.7, 0.9)), (10, (0.2, 0.35, 0.5, 0.65, 0.8, 0.9)),
                 (16, (0.5, 0.8))),
}


def _dbscan_candidates(context):
    out = []
    algorithm = dbscan_algorithm(context)
    for min_samples, quantiles in DBSCAN_GRIDS[context.mode]:
        min_samples = min(min_samples, context.n_samples - 1)
        for q in quantiles:
            eps = dbscan_eps(context, min_samples, q)
            if eps > 0:
                params = {"eps": significant(eps), "min_samples": int(min_samples)}
                if algorithm != "auto":
                    params["algorithm"] = algorithm
                out.append(params)
    return out


def _dbscan_space(trial, context):
    min_samples = trial.suggest_int("dbscan.min_samples", 3, 16)
    q = trial.suggest_float("dbscan.quantile", 0.1, 0.95)
    params = {"eps": significant(max(dbscan_eps(context, min_samples, q), 1e-12)),
              "min_samples": min_samples}
    if dbscan_algorithm(context) != "auto":
        params["algorithm"] = dbscan_algorithm(context)
    return params


class OPTICSShared(SharedGraphMixin, OPTICS):
    """OPTICS whose neighbour graph (its graph path) is the search's shared one."""

    def __init__(self, *, min_samples=5, min_cluster_size=None, metric="euclidean",
                 device="auto", context=None):
        super().__init__(min_samples=min_samples, min_cluster_size=min_cluster_size,
                         metric=metric, device=device)
        self.context = context


def _optics_factory(params, *, device, context):
    return OPTICSShared(**params, device=device, context=context)


def _optics_candidates(context):
    if context.mode != "thorough" or context.n_samples > OPTICS_MAX_ROWS:
        return []
    size = min_cluster_sizes(context)[0]
    out = []
    for m in (10, 25):
        params = {"min_samples": max(2, min(m, context.n_samples)), "min_cluster_size": size,
                  "metric": "euclidean"}
        if params not in out:
            out.append(params)
    return out


def _kmedoids_factory(params, *, device, context):
    from ..cluster import KMedoids

    return KMedoids(**params, device=device)


def _kmedoids_candidates(context):
    if context.mode != "thorough" or context.n_samples > KMEDOIDS_MAX_ROWS:
        return []
    return [_seeded({"n_clusters": k, "method": "pam", "init": "k-medoids++"}, context)
            for k in k_grid(context)[:KMEDOIDS_KS]]


def _kmedoids_follow_up(context, ks):
    return [dict(p, n_clusters=k) for k in ks for p in _kmedoids_candidates(context)[:1]]


# --------------------------------------------------------------------------
# GaussianMixture


class MixtureLabels:
    """A GaussianMixture whose ``fit`` also keeps the hard assignments as ``labels_``
    (each row's most probable component), as the search reads them."""

    def __init__(self, **params):
        from ..cluster import GaussianMixture

        self.mixture = GaussianMixture(**params)

    def get_params(self, deep=True):
        """The GaussianMixture's parameters."""
        return self.mixture.get_params(deep=deep)

    def set_params(self, **params):
        """Set the GaussianMixture's parameters; returns self."""
        self.mixture.set_params(**params)
        return self

    def fit(self, X):
        self.labels_ = self.mixture.fit_predict(X)
        return self


def _gmm_factory(params, *, device, context):
    return MixtureLabels(**params, device=device)


def _gmm_covariances(context):
    return {"fast": (), "balanced": ("diag",), "thorough": ("diag", "full")}[context.mode]


def _gmm_candidates(context):
    if context.n_samples > GMM_MAX_ROWS:
        return []
    return [_seeded({"n_components": k, "covariance_type": cov, "init_params": "kmeans",
                     "max_iter": 100}, context)
            for cov in _gmm_covariances(context) for k in k_grid(context)[:GMM_KS]]


def _gmm_follow_up(context, ks):
    first = _gmm_candidates(context)[:1]
    return [dict(p, n_components=k) for k in ks for p in first]


# --------------------------------------------------------------------------
# SpectralClustering


def _spectral_factory(params, *, device, context):
    from ..cluster import SpectralClustering

    return SpectralClustering(**params, device=device)


def _spectral_candidates(context):
    if context.mode != "thorough" or context.n_samples > SPECTRAL_MAX_ROWS:
        return []
    neighbours = min(SPECTRAL_NEIGHBOURS, context.n_samples - 1)
    return [_seeded({"n_clusters": k, "affinity": "nearest_neighbors", "n_neighbors": neighbours,
                     "assign_labels": "cluster_qr"}, context)
            for k in k_grid(context)[:SPECTRAL_KS] if k < context.n_samples]


def _spectral_follow_up(context, ks):
    return [dict(p, n_clusters=k) for k in ks for p in _spectral_candidates(context)[:1]]


# --------------------------------------------------------------------------
# Birch, MeanShift and AffinityPropagation


def neighbour_radius(context, quantile=0.5):
    """The ``quantile`` of the sample rows' distances to their 10th nearest other row
    (fewer when the shared graph has fewer), on the reduced data."""
    distances = context.knn_distances
    return float(np.quantile(distances[:, min(distances.shape[1], 10) - 1], quantile))


def radius_floor(context):
    """The least threshold or bandwidth a candidate takes: ``RADIUS_FLOOR`` times the
    data's scale, the sample rows' largest distance to a neighbour of the shared graph
    (else between the sample rows, else 1).

    A radius of 0 (rows repeated past the 10th neighbour) still gives a positive one, and
    the floor stays below the neighbour distances at every scale: an absolute 1e-6 was
    above those of cosine working rows far from the origin (float32 blobs at 1e6: 2e-7),
    which put every row of Birch and MeanShift in one cluster.
    """
    for distances in (context.knn_distances, context.sample_distances):
        largest = float(np.max(distances))
        if largest > 0:
            return RADIUS_FLOOR * largest
    return RADIUS_FLOOR


def _birch_factory(params, *, device, context):
    from ..cluster import Birch

    return Birch(**params, device=device)


def _birch_candidates(context):
    if context.mode != "thorough" or context.n_samples > BIRCH_MAX_ROWS:
        return []
    threshold = max(neighbour_radius(context), radius_floor(context))
    return [{"n_clusters": k, "threshold": threshold}
            for k in k_grid(context)[:BIRCH_KS] if k < context.n_samples]


def _birch_follow_up(context, ks):
    return [dict(p, n_clusters=k) for k in ks for p in _birch_candidates(context)[:1]]


def _meanshift_factory(params, *, device, context):
    from ..cluster import MeanShift

    return MeanShift(**params, device=device)


def _meanshift_candidates(context):
    if context.mode != "thorough" or context.n_samples > MEANSHIFT_MAX_ROWS:
        return []
    # Every row a seed: binned seeds miss every row in tens of dimensions (a bin's
    # corner lies sqrt(d) / 2 bandwidths from its centre).
    floor = radius_floor(context)
    return [{"bandwidth": max(neighbour_radius(context, q) * 2.0, floor)} for q in (0.5, 0.9)]


def _affinity_factory(params, *, device, context):
    from ..cluster import AffinityPropagation

    return AffinityPropagation(**params, device=device)


def _affinity_candidates(context):
    if context.mode != "thorough" or not 3 <= context.n_samples <= AFFINITY_MAX_ROWS:
        return []
    return [_seeded({"damping": 0.7}, context)]


def _register_builtins():
    register_algorithm("kmeans", _kmeans_factory, _kmeans_candidates, space=_k_space("kmeans"),
                       follow_up=_kmeans_follow_up)
    register_algorithm("minibatch_kmeans", _minibatch_factory, _minibatch_candidates,
                       space=_k_space("minibatch_kmeans"), follow_up=_minibatch_follow_up)
    register_algorithm("agglomerative", _agglomerative_factory, _agglomerative_candidates,
                       data="reduced", follow_up=_agglomerative_follow_up)
    register_algorithm("finch", _finch_factory, _finch_candidates, data="reduced",
                       space=_finch_space)
    register_algorithm("hdbscan", _hdbscan_factory, _hdbscan_candidates, data="reduced",
                       space=_hdbscan_space)
    register_algorithm("dbscan", _dbscan_factory, _dbscan_candidates, data="reduced",
                       space=_dbscan_space)
    register_algorithm("optics", _optics_factory, _optics_candidates, data="reduced")
    register_algorithm("kmedoids", _kmedoids_factory, _kmedoids_candidates,
                       follow_up=_kmedoids_follow_up)
    register_algorithm("gaussian_mixture", _gmm_factory, _gmm_candidates, data="reduced",
                       follow_up=_gmm_follow_up)
    register_algorithm("spectral", _spectral_factory, _spectral_candidates, data="reduced",
                       follow_up=_spectral_follow_up)
    register_algorithm("birch", _birch_factory, _birch_candidates, data="reduced",
                       follow_up=_birch_follow_up)
    register_algorithm("meanshift", _meanshift_factory, _meanshift_candidates, data="reduced")
    register_algorithm("affinity_propagation", _affinity_factory, _affinity_candidates,
                       data="reduced")


_register_builtins()

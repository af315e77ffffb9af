"""The neighbour graph: ``knn_graph`` (the k nearest other rows of every row) and ``knn_recall``.

Declared once with ``@kernel`` (see ``_dispatch.py``); implementations in
``cpu/knn_graph.py`` and ``cuda/knn_graph.py``. Two methods:

- ``"exact"``: the brute-force GEMM-tile search of ``knn`` with X as its own
  queries, self excluded.
- ``"approximate"``: an inverted-file (IVF) search. A k-means coarse
  quantiser (a few Lloyd passes of the ``lloyd_step`` implementation over a
  seeded sample) splits the rows into ``n_lists`` lists; every row probes
  the ``n_probe`` lists whose centres are nearest to it, and for each list
  the rows that probe it are compared with its members by one GEMM tile,
  merged into each row's running top-k. The same steps on the CPU and the
  GPU; seeded by ``random_state``, so a given seed gives the same graph.

``"auto"`` takes the exact search below ``AUTO_EXACT_MAX_ROWS`` rows.
``knn_recall`` estimates the recall of a graph against the exact search on
a seeded sample of rows. Reference: ``tests/kernels/reference_neighbors.py``.
"""

import numbers

import numpy as np

from ._dispatch import kernel
from .metric import metric_code, squared_form
from .neighbors import METRICS, _check_data

METHODS = ("auto", "exact", "approximate")

# Below this many rows "auto" takes the exact search. Measured on 2 shared
# CPU cores, unit-length make_blobs(n, d, centers=50), k=15, float32, warmed
# (benchmarks/NOTES.md, "knn_graph"): exact against approximate 0.11 s / 0.25 s
# at 2,500 x 512, 0.44 / 0.37 s at 5,000, 1.5 / 0.69 s at 10,000, 5.6 / 0.81 s
# at 20,000 (0.093 / 0.080 s at 5,000 x 64): the two cost the same near 5,000
# rows, where exact still has recall 1 and the approximate graph grows slower.
AUTO_EXACT_MAX_ROWS = 5_000
# Default inverted lists: about LISTS_PER_SQRT_ROW * sqrt(n), at least 1, at
# most n / MIN_ROWS_PER_LIST. The probe count is tuned to the data by
# default (cpu/knn_graph.py, TARGET_RECALL): a fixed share of the lists was
# either wasteful or short, by data (NOTES.md, "knn_graph").
LISTS_PER_SQRT_ROW = 1.0
MIN_ROWS_PER_LIST = 16


def default_n_lists(n):
    """Inverted lists for n rows when ``n_lists`` is None."""
    lists = int(round(LISTS_PER_SQRT_ROW * np.sqrt(max(n, 1))))
    return max(1, min(lists, n // MIN_ROWS_PER_LIST))


def _check_k(k, n):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer, got {k!r}.")
    k = int(k)
    if not 0 <= k <= max(n - 1, 0):
        raise ValueError(f"k must be in [0, {max(n - 1, 0)}] for {n} rows (self excluded), got {k}.")
    return k


def _positive_int_or_none(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}.")
    return int(value)


def _seed(random_state):
    """An integer seed from an int, None (fresh entropy) or a NumPy Generator / RandomState."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return int(random_state.integers(2**31) if isinstance(random_state, np.random.Generator)
                   else random_state.randint(2**31))
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"random_state must be an int, None or a NumPy generator, got "
                        f"{random_state!r}.")
    return int(random_state)


@kernel(cpu="knn_graph.knn_graph", cuda="knn_graph.knn_graph")
def knn_graph(X, k, *, metric="sqeuclidean", method="auto", n_lists=None, n_probe=None,
              random_state=0):
    """The k nearest other rows of every row of X: a k-nearest-neighbour graph.

    Parameters
    ----------
    X : array (n, d), float32 or float64; NumPy, torch, CuPy or array-API
    k : int, 0 <= k <= n - 1
    metric : {"sqeuclidean", "euclidean", "cosine"}, as for ``knn``
    method : {"auto", "exact", "approximate"}
        "exact" is ``knn(X, k)``; "approximate" is the inverted-file search
        (see the module docstring), whose recall ``knn_recall`` estimates;
        "auto" is exact below ``AUTO_EXACT_MAX_ROWS`` rows.
    n_lists : int or None
        Approximate only: inverted lists (k-means centres); None is about
        sqrt(n) (``default_n_lists``).
    n_probe : int or None
        Approximate only: lists each row searches, nearest centres first.
        None takes the fewest probes whose lists hold 99 % of the exact
        neighbours of 256 seeded rows (an estimate of the graph's recall:
        an IVF search finds exactly the neighbours in its probed lists).
        More probes, more recall and time.
    random_state : int, None or NumPy generator
        Seeds the quantiser's sample and initial centres (approximate only).

    Returns
    -------
    distances : array (n, k), X's dtype, ascending per row
    indices : array (n, k), int64; a row is never its own neighbour
        Both in X's namespace and on X's device. The exact method's ties go
        to the lower index.

    Raises
    ------
    ValueError
        Unknown metric or method, k out of range, n_lists or n_probe not a
        positive integer, X not 2-D.
    TypeError
        k not an integer, X not floating point.
    """
    code, root = squared_form(metric_code(metric, METRICS))
    _check_data(X, None)
    n = X.shape[0]
    k = _check_k(k, n)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    n_lists = _positive_int_or_none(n_lists, "n_lists")
    n_probe = _positive_int_or_none(n_probe, "n_probe")
    if method == "auto":
        method = "exact" if n < AUTO_EXACT_MAX_ROWS else "approximate"
    if method == "approximate":
        n_lists = min(n_lists or default_n_lists(n), max(n, 1))
        n_probe = min(n_probe or 0, n_lists)
    return X, k, code, root, method == "exact", n_lists or 0, n_probe or 0, _seed(random_state)


@kernel(cpu="knn_graph.knn_recall", cuda="knn_graph.knn_recall")
def knn_recall(X, indices, *, metric="sqeuclidean", n_queries=1000, random_state=0):
    """Estimated recall of a neighbour graph: the exact search for a seeded sample of rows.

    For each sampled row i, the share of its exact k nearest other rows
    (``knn``, ties to the lower index) found in ``indices[i]``; the mean over
    the sample. Exact duplicates of a neighbour can make a correct graph
    score below 1.

    Parameters
    ----------
    X : array (n, d), float32 or float64
    indices : array (n, k), integer: the graph to rate (from ``knn_graph``)
    metric : {"sqeuclidean", "euclidean", "cosine"}
    n_queries : int >= 1, rows sampled (all rows when n_queries >= n)
    random_state : int, None or NumPy generator

    Returns
    -------
    recall : 0-d array, float64, in [0, 1], in X's namespace and on X's device
        (``float(recall)`` for a Python number); 1.0 when k = 0.
    """
    code, root = squared_form(metric_code(metric, METRICS))
    _check_data(X, None)
    n = X.shape[0]
    if indices.ndim != 2 or indices.shape[0] != n:
        raise ValueError(f"indices must have shape ({n}, k), got {tuple(indices.shape)}.")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got {indices.dtype}.")
    _check_k(indices.shape[1], n)
    n_queries = _positive_int_or_none(n_queries, "n_queries")
    if n_queries is None:
        raise ValueError("n_queries must be a positive integer.")
    rng = np.random.default_rng(_seed(random_state))
    sample = np.sort(rng.choice(n, size=min(n, n_queries), replace=False)).astype(np.int64)
    return X, indices, code, sample

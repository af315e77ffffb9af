"""The k-nearest-neighbour graph case for benchmarks/run.py: gpucluster against pynndescent and faiss.

    python benchmarks/knn_graph.py [--n 200000] [--d 128] [--k 15]

Every tool builds the graph of the same float32 clustered rows (make_blobs,
20 centres, cluster_std 4: each cluster spans many lists, so that neighbours cross
the inverted lists' borders) with the squared Euclidean metric, k other rows
per row. Recall is measured the same way for all: ``kernels.knn_recall``
(the exact search for 1,000 seeded rows). Every tool is warmed first by an
untimed build on 2,000 rows, so nobody's JIT compilation is timed:

- gpucluster ``knn_graph(method="approximate")`` with its defaults (the
  probe count tuned to the data), and with twice the probes; ``method="exact"`` where n <= EXACT_MAX_ROWS;
- pynndescent ``NNDescent`` with its defaults (n_neighbors = k + 1, the row
  itself dropped), then ``neighbor_graph``; and with n_neighbors = 4k (its
  way to more recall), keeping the first k;
- faiss-cpu ``IndexIVFFlat`` with gpucluster's list count, trained on the
  same sampled rows, at gpucluster's tuned probe count and twice it.
"""

import time

import numpy as np
from sklearn.datasets import make_blobs

SEED = 0
K = 15
# The exact graph is O(n^2 d): about 50 s at 100k x 128 on 2 cores.
EXACT_MAX_ROWS = 120_000


def _data(n, d, seed=SEED):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=20, cluster_std=4.0, random_state=seed)
    return X.astype(np.float32)


def _drop_self(indices, k):
    """First k entries of each row other than the row itself."""
    n = indices.shape[0]
    is_self = indices == np.arange(n)[:, None]
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), indices.shape[1] - 1)
    keep = np.arange(indices.shape[1])[None, :] != drop[:, None]
    return indices[keep].reshape(n, -1)[:, :k]


def _gpucluster(X, k, **params):
    from gpucluster import kernels

    return np.asarray(kernels.knn_graph(X, k, **params)[1])


def _pynndescent(X, k, n_neighbors=None):
    from pynndescent import NNDescent

    index = NNDescent(X, n_neighbors=n_neighbors or k + 1, metric="euclidean", random_state=SEED)
    indices, _ = index.neighbor_graph
    return _drop_self(indices, k)


def _faiss_ivf(X, k, n_lists, n_probe):
    import faiss

    from gpucluster.kernels.cpu.knn_graph import train_rows

    d = X.shape[1]
    quantizer = faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, n_lists)
    sample, _ = train_rows(X.shape[0], n_lists, SEED)
    index.train(X[sample])
    index.add(X)
    index.nprobe = n_probe
    _, indices = index.search(X, k + 1)
    return _drop_self(indices, k)


def _methods(X, k, defaults_only=False):
    """(name, build) pairs; faiss gets gpucluster's list count and its tuned probe count.
    ``defaults_only``: gpucluster and pynndescent with their defaults, faiss at the tuned
    probe count (no doubled variants)."""
    from gpucluster.kernels.cpu.knn_graph import plan
    from gpucluster.kernels.knn_graph import default_n_lists
    from gpucluster.kernels.metric import SQEUCLIDEAN

    n = X.shape[0]
    n_lists = default_n_lists(n)
    _, n_probe = plan(X, k, SQEUCLIDEAN, n_lists, 0, SEED)
    methods = [
        (f"gpucluster IVF (defaults: lists={n_lists}, probes tuned={n_probe})",
         lambda Y: _gpucluster(Y, k, method="approximate")),
        (f"gpucluster IVF (lists={n_lists}, probes={2 * n_probe})",
         lambda Y: _gpucluster(Y, k, method="approximate", n_lists=n_lists if len(Y) == n else None,
                               n_probe=2 * n_probe)),
        ("pynndescent NNDescent (defaults)", lambda Y: _pynndescent(Y, k)),
        (f"pynndescent NNDescent (n_neighbors={4 * k})", lambda Y: _pynndescent(Y, k, 4 * k)),
    ] + [
        (f"faiss IndexIVFFlat (lists={n_lists}, probes={p})",
         lambda Y, p=p: _faiss_ivf(Y, k, n_lists if len(Y) == n else default_n_lists(len(Y)),
                                   min(p, default_n_lists(len(Y)))))
        for p in (n_probe, 2 * n_probe)
    ]
    if defaults_only:
        methods = [methods[0], methods[2], methods[4]]
    if n <= EXACT_MAX_ROWS:
        methods.insert(0, ("gpucluster exact", lambda Y: _gpucluster(Y, k, method="exact")))
    return methods


def run_knn_graph(quick, log, n=None, d=128, k=K, defaults_only=False):
    """Build the graph with every tool; return one row per tool (seconds, recall)."""
    from gpucluster import kernels

    n = n or (20_000 if quick else 1_000_000)
    X = _data(n, d)
    warm = X[:2000]
    rows = []
    for name, build in _methods(X, k, defaults_only):
        try:
            build(warm)  # compile any JIT code outside the timing
        except ImportError as exc:
            log(f"  {name} could not run: {exc}")
            continue
        log(f"[knn_graph] n={n:,} d={d} k={k} {name} ...")
        start = time.perf_counter()
        indices = build(X)
        seconds = time.perf_counter() - start
        recall = float(kernels.knn_recall(X, np.ascontiguousarray(indices, dtype=np.int64),
                                          n_queries=1000, random_state=SEED))
        log(f"  {seconds:.2f} s, recall {recall:.4f}")
        rows.append({"method": name, "n": n, "d": d, "k": k, "seconds": seconds,
                     "recall": recall})
    ours = next((r["seconds"] for r in rows if r["method"].startswith("gpucluster IVF")), None)
    for r in rows:
        r["ratio"] = r["seconds"] / ours if ours else None
    return rows


def knn_graph_markdown(rows):
    """Markdown lines for the kNN-graph table."""
    if not rows:
        return []
    lines = [
        "",
        f"## k-nearest-neighbour graph (float32, k={rows[0]['k']}, squared Euclidean, seconds)",
        "",
        "make_blobs, 20 centres, cluster_std 4. Recall: kernels.knn_recall (exact search of "
        "1,000 seeded rows) for every tool. ratio = seconds / gpucluster IVF's defaults "
        "(>1: gpucluster faster). Every tool was warmed by an untimed build on 2,000 rows first.",
        "",
        "| n | d | method | seconds | ratio | recall |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"| {r['n']:,} | {r['d']} | {r['method']} | {r['seconds']:.2f} | {ratio} | "
                     f"{r['recall']:.4f} |")
    return lines


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--defaults-only", action="store_true",
                        help="each tool with its defaults only (no doubled-effort variants)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    result = run_knn_graph(False, lambda m: print(f"{time.perf_counter() - t0:7.1f}s  {m}",
                                                   file=sys.stderr, flush=True),
                           n=args.n, d=args.d, k=args.k, defaults_only=args.defaults_only)
    print("\n".join(knn_graph_markdown(result)))

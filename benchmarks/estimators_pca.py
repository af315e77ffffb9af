"""Cases for benchmarks/estimators.py: PCA against scikit-learn's, and its growth with n.

    python benchmarks/estimators_pca.py            # n = 50k, 100k, 200k: table and exponents
    python benchmarks/estimators_pca.py --quick    # n = 5k, 10k, 20k
    python benchmarks/estimators_pca.py --solvers full --sizes 20000,50000 --sparse
    python benchmarks/estimators.py --only PCA     # the 200k cases in the shared table

``--sparse`` adds the sparse case: a 100,000 x 2,000 CSR matrix at 1 %
density (float64; column scales 1 / sqrt(1 + j), so the spectrum decays),
k=50, solvers "arpack" and "covariance_eigh", which both libraries run on
the matrix as it is (implicit centring); ``--sparse-only`` runs just that.

Data: n x 512 float32 rows with a decaying spectrum (variance 1 / (1 + i)
along the i-th of 512 random orthogonal axes), as embeddings have; k=32
components. Solvers: "full" (LAPACK's SVD of the centred data on both
sides), "randomized" (Halko et al., scikit-learn's defaults: 7 power
iterations with LU normalisation, 10 oversamples, the same seed) and
"covariance_eigh" (what both libraries' "auto" picks for n >= 10 d: one
pass for the (d, d) covariance, then its eigendecomposition). Both
libraries get the NumPy array; gpucluster runs on the CPU
(``device="cpu"``).

The shared harness wants labels from each tool: a PCA gives none, so each
row's label is the axis among the first 8 on which it has the largest
absolute coordinate (independent of the axes' signs). ARI 1.0 means the
two libraries found the same leading axes. The scaling run (this file's
``__main__``) warms every tool on the first 2,000 rows, times the best of
``--repeat`` fits at each n and gives the exponent
log(t2 / t1) / log(n2 / n1) between successive sizes.
"""

import math
import sys
import time

import numpy as np

SEED = 0
N_FEATURES = 512
N_COMPONENTS = 32
LEADING_AXES = 8
SIZES = (50_000, 100_000, 200_000)
SOLVERS = ("full", "randomized", "covariance_eigh")
WARM_ROWS = 2_000
SPARSE_SHAPE = (100_000, 2_000)
SPARSE_DENSITY = 0.01
SPARSE_COMPONENTS = 50
SPARSE_SOLVERS = ("arpack", "covariance_eigh")


def embeddings(n, n_features=N_FEATURES, seed=SEED):
    """(n, n_features) float32 rows with variance 1 / (1 + i) along random orthogonal axis i."""
    rng = np.random.default_rng(seed)
    axes = np.linalg.qr(rng.standard_normal((n_features, n_features)))[0]
    scales = 1.0 / np.sqrt(1.0 + np.arange(n_features))
    return ((rng.standard_normal((n, n_features)) * scales) @ axes.T).astype(np.float32)


def sparse_rows(n, n_features, density=SPARSE_DENSITY, seed=SEED):
    """(n, n_features) float64 CSR, ``density`` of it stored, column j scaled by 1 / sqrt(1 + j)."""
    import scipy.sparse

    X = scipy.sparse.random(n, n_features, density=density, format="csr", random_state=seed)
    return X.multiply(1.0 / np.sqrt(1.0 + np.arange(n_features))).tocsr()


def leading_axis_labels(projected):
    """The axis among the first ``LEADING_AXES`` with the largest |coordinate|, per row."""
    return np.argmax(np.abs(np.asarray(projected)[:, :LEADING_AXES]), axis=1)


def fitters(solver, n_components=N_COMPONENTS):
    """``{tool: fn(X) -> fitted PCA}`` for one solver."""
    def ours(X):
        from gpucluster.decomposition import PCA

        return PCA(n_components, svd_solver=solver, random_state=SEED, device="cpu").fit(X)

    def sklearn(X):
        from sklearn.decomposition import PCA

        return PCA(n_components, svd_solver=solver, random_state=SEED).fit(X)

    return {"gpucluster": ours, "scikit-learn": sklearn}


def _labelled(fit):
    return lambda X: leading_axis_labels(fit(X).transform(X))


def cases():
    """PCA at 200,000 x 512, k=32, each solver (the shared harness's table)."""
    n = SIZES[-1]
    return [
        {"name": "PCA", "shape": f"n={n:,} d={N_FEATURES} k={N_COMPONENTS} {solver}",
         "make_data": lambda n=n: embeddings(n),
         "tools": {tool: _labelled(fit) for tool, fit in fitters(solver).items()},
         "iterations": None}
        for solver in SOLVERS
    ]


def _agreement(ours, theirs):
    """Largest |difference| of the components up to sign, and of explained_variance_ (relative)."""
    a, b = np.asarray(ours.components_, np.float64), np.asarray(theirs.components_, np.float64)
    signs = np.sign(np.sum(a * b, axis=1, keepdims=True))
    components = float(np.max(np.abs(a * signs - b)))
    variance = float(np.max(np.abs(ours.explained_variance_ - theirs.explained_variance_)
                            / theirs.explained_variance_))
    return components, variance


def _best_fit(fit, X, repeat):
    """(best seconds over ``repeat`` fits, the last fitted PCA)."""
    best, fitted = math.inf, None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fitted = fit(X)
        best = min(best, time.perf_counter() - start)
    return best, fitted


def run_sparse(repeat, log, shape=SPARSE_SHAPE):
    """Rows: seconds per (sparse solver, tool) on the sparse case, ratio and agreement."""
    X = sparse_rows(*shape)
    rows = []
    for solver in SPARSE_SOLVERS:
        tools = fitters(solver, SPARSE_COMPONENTS)
        fitted, seconds = {}, {}
        for tool, fit in tools.items():
            log(f"[pca] warming {tool} sparse {solver} on {WARM_ROWS} rows")
            fit(X[:WARM_ROWS])
            log(f"[pca] {tool} sparse {solver} {shape[0]:,} x {shape[1]:,}")
            seconds[tool], fitted[tool] = _best_fit(fit, X, repeat)
        components, variance = _agreement(fitted["gpucluster"], fitted["scikit-learn"])
        for tool in tools:
            rows.append({"solver": solver, "tool": tool, "n": shape[0], "seconds": seconds[tool],
                         "ratio": seconds[tool] / seconds["gpucluster"],
                         "components": components, "variance": variance})
    return rows


def sparse_markdown(rows, shape=SPARSE_SHAPE):
    """Markdown lines of the sparse table."""
    lines = [
        "",
        f"## PCA on sparse input against scikit-learn (CPU): {shape[0]:,} x {shape[1]:,} CSR, "
        f"{SPARSE_DENSITY:.0%} density, float64, k={SPARSE_COMPONENTS}",
        "",
        "ratio = the tool's seconds / gpucluster's (>1: gpucluster faster); |dC| and dvar as "
        "in the dense table.",
        "",
        "| solver | tool | seconds | ratio | abs dC | dvar |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['solver']} | {r['tool']} | {r['seconds']:.3f} | {r['ratio']:.2f} | "
                     f"{r['components']:.1e} | {r['variance']:.1e} |")
    return lines


def run_scaling(sizes, repeat, log, solvers=SOLVERS):
    """Rows: seconds per (solver, tool, n), the ratio to gpucluster and the growth exponent."""
    data = {n: embeddings(n) for n in sizes}
    rows = []
    for solver in solvers:
        tools = fitters(solver)
        for tool, fit in tools.items():
            log(f"[pca] warming {tool} {solver} on {WARM_ROWS} rows")
            fit(data[sizes[0]][:WARM_ROWS])
        for n in sizes:
            fitted, seconds = {}, {}
            for tool, fit in tools.items():
                log(f"[pca] {tool} {solver} n={n:,}")
                best = math.inf
                for _ in range(max(1, repeat)):
                    start = time.perf_counter()
                    fitted[tool] = fit(data[n])
                    best = min(best, time.perf_counter() - start)
                seconds[tool] = best
            components, variance = _agreement(fitted["gpucluster"], fitted["scikit-learn"])
            for tool in tools:
                rows.append({"solver": solver, "tool": tool, "n": n, "seconds": seconds[tool],
                             "ratio": seconds[tool] / seconds["gpucluster"],
                             "components": components, "variance": variance})
    for row in rows:
        previous = [r for r in rows if r["solver"] == row["solver"] and r["tool"] == row["tool"]
                    and r["n"] < row["n"]]
        row["exponent"] = None
        if previous:
            p = previous[-1]
            row["exponent"] = math.log(row["seconds"] / p["seconds"]) / math.log(row["n"] / p["n"])
    return rows


def scaling_markdown(rows):
    """Markdown lines of the scaling table."""
    lines = [
        "",
        f"## PCA against scikit-learn (CPU), d={N_FEATURES} float32, k={N_COMPONENTS}",
        "",
        "ratio = the tool's seconds / gpucluster's (>1: gpucluster faster); exponent = growth "
        "log(t2/t1)/log(n2/n1) from the previous n; |dC| = largest component difference up to "
        "sign, dvar = largest relative explained-variance difference.",
        "",
        "| solver | n | tool | seconds | ratio | exponent | abs dC | dvar |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        exponent = "" if r["exponent"] is None else f"{r['exponent']:.2f}"
        lines.append(f"| {r['solver']} | {r['n']:,} | {r['tool']} | {r['seconds']:.3f} | "
                     f"{r['ratio']:.2f} | {exponent} | {r['components']:.1e} | {r['variance']:.1e} |")
    return lines


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--repeat", type=int, default=2, help="timed fits per point, best kept")
    parser.add_argument("--sizes", help="comma-separated row counts (instead of the defaults)")
    parser.add_argument("--solvers", default=",".join(SOLVERS),
                        help="comma-separated dense solvers (default: %(default)s)")
    parser.add_argument("--sparse", action="store_true", help="add the sparse case")
    parser.add_argument("--sparse-only", action="store_true", help="only the sparse case")
    args = parser.parse_args()
    t0 = time.perf_counter()

    def log(message):
        print(f"{time.perf_counter() - t0:7.1f}s  {message}", file=sys.stderr, flush=True)

    if args.sizes:
        sizes = tuple(int(n) for n in args.sizes.split(","))
    else:
        sizes = tuple(n // 10 for n in SIZES) if args.quick else SIZES
    if not args.sparse_only:
        result = run_scaling(sizes, args.repeat, log, solvers=tuple(args.solvers.split(",")))
        print("\n".join(scaling_markdown(result)))
    if args.sparse or args.sparse_only:
        shape = (SPARSE_SHAPE[0] // 10, SPARSE_SHAPE[1]) if args.quick else SPARSE_SHAPE
        print("\n".join(sparse_markdown(run_sparse(args.repeat, log, shape), shape)))

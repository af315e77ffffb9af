"""Seconds per Lloyd iteration of KMeans on a Dask LocalCluster: gpucluster against dask-ml.

Usage: ``python benchmarks/dask_kmeans.py [n,n,...] [workers,...] [d] [k] [iters]``
(defaults n in 2,000,000 and 4,000,000, workers 1,2, d=32, k=64, 5 iterations;
the issue's target is 20,000,000 x 32, k=64).

The rows are generated per chunk on the workers (``dask.array.random``, 250,000-row
float32 chunks) and persisted there; they never reach the client. Every tool
starts from the same k initial centres and runs a fixed number of iterations
(tol=0), once to warm (imports, Numba compilation on the workers) and then
timed; a figure is the best of 2 timed fits divided by the iterations run.
Peers: dask-ml's ``KMeans`` (its own init given the same array, its defaults
otherwise) on the same cluster and data, and single-machine gpucluster
``KMeans`` on the same rows in memory (all cores of this machine). The
workers share the cores: each runs ``cores // workers`` tasks at once, with
Numba and BLAS at one thread per task, so one worker has the cores the
single-machine run has ("dask / single" compares the two on equal cores).
"""

import os
import sys
import time

import numpy as np

CHUNK_ROWS = 250_000
REPEATS = 2


def best_of(fn):
    fn()  # warm
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        n_iter = fn()
        times.append((time.perf_counter() - t) / n_iter)
    return min(times)


def data(n, d, seed=0):
    import dask.array as da

    rs = da.random.RandomState(seed)
    centres = rs.uniform(-10, 10, size=(64, d), chunks=(64, d))
    which = rs.randint(0, 64, size=n, chunks=CHUNK_ROWS)
    X = (centres[which] + rs.normal(size=(n, d), chunks=(CHUNK_ROWS, d))).astype(np.float32)
    return X.rechunk((CHUNK_ROWS, d)).persist()


def run(n, workers, d, k, iters):
    import dask_ml.cluster
    import distributed

    from gpucluster import KMeans
    from gpucluster.distributed import kmeans

    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    threads = max(1, (os.cpu_count() or 1) // workers)
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=threads,
                                       processes=True, dashboard_address=None, env=env)
    row = {"n": n, "workers": workers}
    with distributed.Client(cluster) as client:
        X = data(n, d)
        distributed.wait(X)
        init = X[:k].compute()

        def ours():
            return kmeans.fit(KMeans(k, init=init, n_init=1, max_iter=iters, tol=0.0), X).n_iter_

        def dask_ml_fit():
            est = dask_ml.cluster.KMeans(n_clusters=k, init=init, max_iter=iters, tol=0.0,
                                         random_state=0)
            return max(1, int(est.fit(X).n_iter_))

        row["gpucluster"] = best_of(ours)
        row["dask_ml"] = best_of(dask_ml_fit)
        if workers == 1:
            Xh = X.compute()

            def single():
                return KMeans(k, init=init, n_init=1, max_iter=iters, tol=0.0).fit(Xh).n_iter_

            row["single"] = best_of(single)
        client.close()
    cluster.close()
    return row


def main():
    ns = [int(v) for v in sys.argv[1].split(",")] if len(sys.argv) > 1 else [2_000_000, 4_000_000]
    ws = [int(v) for v in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1, 2]
    d = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    k = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    iters = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    print(f"KMeans d={d} k={k}, {iters} iterations, float32, {os.cpu_count()} CPUs; "
          "seconds per iteration (best of 2, warmed)")
    print("| n | workers | gpucluster (dask) | dask-ml | dask-ml / ours | single-machine gpucluster "
          "| dask / single |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for n in ns:
        for w in ws:
            r = run(n, w, d, k, iters)
            rows.append(r)
            single = f"{r['single']:.3f}" if "single" in r else ""
            versus = f"{r['gpucluster'] / r['single']:.2f}x" if "single" in r else ""
            print(f"| {n:,} | {w} | {r['gpucluster']:.3f} | {r['dask_ml']:.3f} | "
                  f"{r['dask_ml'] / r['gpucluster']:.2f}x | {single} | {versus} |", flush=True)
    for w in ws:
        pts = [(r["n"], r["gpucluster"]) for r in rows if r["workers"] == w]
        if len(pts) > 1:
            slope = np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)[0]
            print(f"growth exponent, {w} worker(s): gpucluster n^{slope:.2f}")


if __name__ == "__main__":
    main()

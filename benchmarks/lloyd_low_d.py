"""Time one Lloyd iteration: gpucluster's CPU ``lloyd_step`` against scikit-learn's, per d, k and threads.

Usage: ``python benchmarks/lloyd_low_d.py [n] [d,d,...] [k,k,...] [threads,...]``
(defaults n=2,000,000, d in 2,5,16,64, k in 8,64,256, threads 1,2).

Both run on the same float32 rows and centres, warmed; each timing is the
minimum of 3 repeats (the machine is shared). scikit-learn's side is
``lloyd_iter_chunked_dense`` (its Lloyd iteration: 256-row chunks, its own
GEMM, BLAS limited to one thread as ``KMeans.fit`` does). Prints ms per
million rows per iteration and the ratio gpucluster / scikit-learn.
"""

import sys
import time

import numba
import numpy as np
from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense
from threadpoolctl import threadpool_limits

from gpucluster.kernels.cpu.assign import lloyd_step, row_sq_norms
from gpucluster.kernels.metric import SQEUCLIDEAN

REPEATS = 3


def best_of(fn):
    fn()
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    ds = [int(v) for v in sys.argv[2].split(",")] if len(sys.argv) > 2 else [2, 5, 16, 64]
    ks = [int(v) for v in sys.argv[3].split(",")] if len(sys.argv) > 3 else [8, 64, 256]
    threads = [int(v) for v in sys.argv[4].split(",")] if len(sys.argv) > 4 else [1, 2]
    rng = np.random.default_rng(0)
    print(f"n={n:,} float32, ms per 1M rows per iteration, min of {REPEATS}")
    print("| d | k | threads | gpucluster | scikit-learn | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for d in ds:
        X = rng.normal(size=(n, d)).astype(np.float32)
        x_sq = row_sq_norms(X)
        w32 = np.ones(n, dtype=np.float32)
        w64 = np.ones(n, dtype=np.float64)
        for k in ks:
            C = X[rng.choice(n, k, replace=False)].copy()
            labels = np.empty(n, dtype=np.int32)
            c_new = np.empty_like(C)
            w_in = np.empty(k, dtype=np.float32)
            shift = np.empty(k, dtype=np.float32)
            for t in threads:
                numba.set_num_threads(t)
                ours = best_of(lambda: lloyd_step(X, C, w64, SQEUCLIDEAN, x_sq))
                with threadpool_limits(limits=1, user_api="blas"):
                    theirs = best_of(lambda: lloyd_iter_chunked_dense(
                        X, w32, C, c_new, w_in, labels, shift, t, update_centers=True))
                scale = 1e3 * 1e6 / n
                print(f"| {d} | {k} | {t} | {ours * scale:.1f} | {theirs * scale:.1f} "
                      f"| {ours / theirs:.2f} |", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark gpucluster against its peers, on the same data, in one run.

    python benchmarks/run.py                 # full run (~10 min on 2 cores)
    python benchmarks/run.py --quick         # small sizes, a smoke test (< 1 min)
    python benchmarks/run.py --only kmeans   # kmeans, silhouette, density, knn_graph, embed, auto, run

Writes ``<out>/<kind>-<date>.md`` and ``.json`` (kind is "cpu", or "gpu" when
a CUDA device answers) and overwrites ``<out>/latest-<kind>.md``; a quick run
writes ``<kind>-<date>-quick.*`` and a run of some cases only
``<kind>-<date>-<cases>.*``; both leave ``latest-*`` alone.

Cases
-----
kmeans      Lloyd, float32, the same initial centres for every method (the
            first k rows of a fixed permutation of X), tol=0, 20 iterations:
            sklearn, faiss (all points, no subsampling) and gpucluster
            (device="cpu"). Inertia is recomputed in float64 by one helper from
            each method's final centres. The floor is 2*n*k*d flops per
            iteration at the float32 GEMM rate measured in the same run.
silhouette  silhouette_score of 20 blob labels: sklearn vs gpucluster.metrics.
density     HDBSCAN (vs fast_hdbscan, hdbscan, sklearn), DBSCAN, OPTICS and
            agglomerative ward/single (vs sklearn), one fit each, with the ARI
            against the reference peer (benchmarks/density.py).
hdbscan_scaling  HDBSCAN at 20k, 40k and 80k x 256 (blobs): the neighbour-graph
            and exact paths against fast_hdbscan, all warmed, with ARI and growth
            exponents (benchmarks/hdbscan_scaling.py).
dbscan      DBSCAN 1M x 8 and 200k x 64 (blobs): the exact and neighbour-graph
            paths against scikit-learn (n_jobs=-1), all warmed, with ARI
            against scikit-learn (benchmarks/dbscan_scaling.py).
dbscan_memory  DBSCAN's peak memory and CPU seconds on 500,000 x 2 uniform points,
            eps=0.02 (about 600 neighbours a point), each tool in a fresh
            process, warmed, against scikit-learn (benchmarks/dbscan_memory.py).
knn_graph   kernels.knn_graph (approximate, and exact where it finishes) against
            pynndescent and faiss-cpu IndexIVFFlat: 1M x 128 clustered rows,
            k=15, seconds and recall (kernels.knn_recall for every tool), all
            warmed first (benchmarks/knn_graph.py).
embed       image embedding throughput: decode-only, forward-only, end-to-end
            images/s and a second run over an unchanged folder, for the tiny
            open_clip model and ViT-B-32 (random weights) on generated JPEGs
            (benchmarks/embed_throughput.py); on a GPU also ViT-L-14.
auto        gpucluster.auto.search(mode="fast") on 50,000 x 512 unit rows in 75
            groups of unequal sizes plus noise (benchmarks/auto_search.py).
run         `gpucluster run` on the built-in collection: a first run with an
            empty cache and a second reusing the embeddings (benchmarks/main_job.py).
segmentation  a 12-megapixel photo (scikit-image's astronaut upscaled): Lab+XY
            pixel features against scikit-image, KMeans(8) on them against
            scikit-learn, SLIC at 1,000 superpixels against scikit-image, all
            warmed (benchmarks/segmentation.py).
estimators  GaussianMixture, KMedoids, SpectralClustering, Birch, MeanShift and
            AffinityPropagation against scikit-learn (and the kmedoids package's
            FasterPAM) at the shapes of issue 11, all warmed
            (benchmarks/estimators.py and its estimators_*.py case files).
GPU         when gpucluster.backend.gpu_available(): the same cases with CuPy
            arrays (device="cuda"), plus KMeans n=10^7 d=128 k=1024, against
            the cuBLAS float32 GEMM floor measured in the same run.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from density import density_markdown, run_density
from hdbscan_scaling import hdbscan_scaling_markdown, run_hdbscan_scaling
from dbscan_scaling import dbscan_scaling_markdown, run_dbscan_scaling
from dbscan_memory import dbscan_memory_markdown, run_dbscan_memory
from knn_graph import knn_graph_markdown, run_knn_graph
from auto_search import auto_markdown, run_auto
from embed_throughput import embed_markdown, run_embed
from main_job import main_job_markdown, run_main_job
from segmentation import run_segmentation, segmentation_markdown
from estimators import estimators_markdown, run_estimators

SEED = 0
N_ITER = 20
CASES = ("kmeans", "silhouette", "density", "hdbscan_scaling", "dbscan", "dbscan_memory",
         "knn_graph", "embed", "auto", "run", "segmentation",
         "estimators")

FULL = {
    "kmeans": [
        {"name": "1a", "n": 1_000_000, "d": 32, "k": 64},
        {"name": "1b", "n": 200_000, "d": 512, "k": 100},
    ],
    "kmeans_gpu_large": {"name": "1c", "n": 10_000_000, "d": 128, "k": 1024},
    "silhouette": {"n": 20_000, "d": 512, "labels": 20},
    "gemm_cpu": 4096,
    "gemm_gpu": 8192,
    "repeat": 3,
}
QUICK = {
    "kmeans": [
        {"name": "1a", "n": 50_000, "d": 32, "k": 64},
        {"name": "1b", "n": 10_000, "d": 512, "k": 100},
    ],
    "kmeans_gpu_large": {"name": "1c", "n": 500_000, "d": 128, "k": 1024},
    "silhouette": {"n": 3_000, "d": 512, "labels": 20},
    "gemm_cpu": 2048,
    "gemm_gpu": 4096,
    "repeat": 1,
}
WARMUP_ROWS = 20_000


# --------------------------------------------------------------------------
# Environment


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(name):
    try:
        module = __import__(name)
        return getattr(module, "__version__", "?")
    except Exception:
        return None


def machine_info(gpu):
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "platform": platform.platform(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if gpu:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        info["gpu_memory_gib"] = round(props["totalGlobalMem"] / 2**30, 1)
        info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
        info["CUPY_TF32"] = os.environ.get("CUPY_TF32", "0")
    try:
        import torch

        if torch.cuda.is_available():
            info["torch_cuda_device"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    return info


def versions(gpu):
    out = {"python": platform.python_version()}
    for name in ("numpy", "numba", "sklearn", "faiss", "gpucluster"):
        out[name] = _version(name)
    if gpu:
        out["cupy"] = _version("cupy")
    try:
        import numba

        out["numba_threads"] = numba.get_num_threads()
    except Exception:
        pass
    try:
        import faiss

        out["faiss_omp_threads"] = faiss.omp_get_max_threads()
    except Exception:
        pass
    try:
        from threadpoolctl import threadpool_info

        pools = []
        for p in threadpool_info():
            words = [p["internal_api"], p.get("version"), p.get("architecture"),
                     f"threads={p['num_threads']}", f"({os.path.basename(p['filepath'])})"]
            line = " ".join(str(w) for w in words if w)
            if line not in pools:
                pools.append(line)
        out["threadpools"] = pools
    except Exception:
        pass
    return out


# --------------------------------------------------------------------------
# Data and helpers


def blobs(n, d, n_centers, spread, seed):
    """Gaussian blobs in float32: unit-variance clusters around N(0, spread^2) centres."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_centers, d), dtype=np.float32) * np.float32(spread)
    labels = rng.integers(0, n_centers, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32)
    step = max(1, 2**24 // d)
    for s in range(0, n, step):
        X[s:s + step] += centers[labels[s:s + step]]
    return X, labels.astype(np.int32)


def initial_centers(X, k, seed):
    """The first k rows of a fixed random permutation of X (host or CuPy array)."""
    perm = np.random.default_rng(seed + 1).permutation(X.shape[0])[:k]
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X[perm])
    import cupy

    return cupy.ascontiguousarray(X[cupy.asarray(perm)])


def inertia64(X, C, xp=np, block_bytes=64 * 2**20):
    """sum over rows of the squared distance to the nearest centre, all in float64, chunked."""
    C64 = xp.asarray(C, dtype=xp.float64)
    c_sq = xp.sum(C64 * C64, axis=1)
    n, d = X.shape
    rows = max(1, block_bytes // (8 * (C64.shape[0] + d)))
    total = 0.0
    for s in range(0, n, rows):
        x = xp.asarray(X[s:s + rows], dtype=xp.float64)
        scores = c_sq[None, :] - 2.0 * (x @ C64.T)
        nearest = xp.argmin(scores, axis=1)
        diff = x - C64[nearest]
        total += float(xp.sum(diff * diff))
    return total


def best_time(fn, repeat, sync=None):
    """(best wall seconds, result of the last call) over ``repeat`` calls."""
    best, result = math.inf, None
    for _ in range(max(1, repeat)):
        if sync:
            sync()
        t0 = time.perf_counter()
        result = fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best, result


def gemm_rate_cpu(size, repeat=5):
    rng = np.random.default_rng(SEED)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    c = np.empty((size, size), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm-up
    t, _ = best_time(lambda: np.matmul(a, b, out=c), repeat)
    return {"size": size, "best_s": t, "gflops": 2.0 * size**3 / t / 1e9}


def gemm_rate_gpu(size, repeat=10):
    import cupy

    sync = cupy.cuda.Device().synchronize
    rng = cupy.random.default_rng(SEED)
    a = rng.standard_normal((size, size), dtype=cupy.float32)
    b = rng.standard_normal((size, size), dtype=cupy.float32)
    c = cupy.empty((size, size), dtype=cupy.float32)
    cupy.matmul(a, b, out=c)
    t, _ = best_time(lambda: cupy.matmul(a, b, out=c), repeat, sync)
    return {"size": size, "best_s": t, "gflops": 2.0 * size**3 / t / 1e9}


def _ratio(a, b):
    return a / b if (a is not None and b) else None


def _rel(a, b):
    return (a - b) / abs(b) if (a is not None and b) else None


# --------------------------------------------------------------------------
# KMeans


def km_sklearn(X, C, n_iter):
    from sklearn.cluster import KMeans

    est = KMeans(C.shape[0], init=C, n_init=1, max_iter=n_iter, tol=0, algorithm="lloyd")
    est.fit(X)
    return np.asarray(est.cluster_centers_), int(est.n_iter_)


def km_faiss(X, C, n_iter, gpu=False):
    import faiss

    n, d = X.shape
    k = C.shape[0]
    km = faiss.Kmeans(
        d, k, niter=n_iter, seed=SEED, spherical=False, verbose=False, gpu=gpu,
        # faiss subsamples to k * max_points_per_centroid rows; make that all of X
        max_points_per_centroid=n // k + 1, min_points_per_centroid=1,
    )
    km.train(X, init_centroids=C)
    return np.asarray(km.centroids), int(len(km.obj))


def km_gpucluster(X, C, n_iter, device):
    from gpucluster import KMeans

    est = KMeans(C.shape[0], init=C, n_init=1, max_iter=n_iter, tol=0, device=device)
    est.fit(X)
    return est.cluster_centers_, int(est.n_iter_)


def kmeans_case(spec, repeat, gpu_ctx, cpu_log):
    n, d, k = spec["n"], spec["d"], spec["k"]
    cpu_log(f"[kmeans {spec['name']}] n={n:,} d={d} k={k}: generating data")
    # 4k overlapping blobs for k clusters: Lloyd keeps moving for well over 20 iterations.
    X, _ = blobs(n, d, n_centers=4 * k, spread=0.5, seed=SEED)
    C = initial_centers(X, k, SEED)
    case = {"case": spec["name"], "n": n, "d": d, "k": k, "dtype": "float32", "methods": []}

    # Warm-up on a slice: Numba compilation (or cache load) and thread pools.
    Xs = X[:min(n, WARMUP_ROWS)]
    t0 = time.perf_counter()
    km_gpucluster(Xs, C, 2, "cpu")
    case["gpucluster_warmup_s"] = time.perf_counter() - t0
    km_sklearn(Xs, C, 2)
    km_faiss(Xs, C, 2)

    runs = [
        ("gpucluster", "cpu", lambda: km_gpucluster(X, C, N_ITER, "cpu")),
        ("sklearn", "cpu", lambda: km_sklearn(X, C, N_ITER)),
        ("faiss", "cpu", lambda: km_faiss(X, C, N_ITER)),
    ]
    # Round-robin over the methods, best of ``repeat`` each: a burst of load
    # from elsewhere on the machine then hits every method alike.
    best = {}
    for r in range(max(1, repeat)):
        for method, device, fn in runs:
            cpu_log(f"[kmeans {spec['name']}]   {method} (fit {r + 1}/{repeat}) ...")
            t, (centers, it) = best_time(fn, 1)
            if method not in best or t < best[method][0]:
                best[method] = (t, centers, it)
    for method, device, _ in runs:
        t, centers, it = best[method]
        case["methods"].append({
            "method": method, "device": device, "fit_s": t, "n_iter": it,
            "ms_per_iter": t / it * 1e3, "inertia64": inertia64(X, centers),
        })
    _finish_kmeans_case(case)

    if gpu_ctx is not None:
        _kmeans_gpu_runs(case, X, C, repeat, gpu_ctx, cpu_log)
    return case


def _finish_kmeans_case(case):
    by = {m["method"]: m for m in case["methods"] if m["device"] == "cpu"}
    ref = by.get("gpucluster")
    for m in case["methods"]:
        if m["device"] != "cpu":
            continue
        m["ratio_vs_gpucluster"] = _ratio(m["ms_per_iter"], ref and ref["ms_per_iter"])
        m["inertia_rel_diff"] = _rel(m["inertia64"], ref and ref["inertia64"])


def apply_floors(res):
    """Floor ms/iter (2*n*k*d flops at the measured GEMM rate) and each method's ratio to it."""
    rates = {"cpu": res.get("gemm_cpu"), "cuda": res.get("gemm_gpu")}
    for case in res.get("kmeans", []) + res.get("kmeans_gpu", []):
        flops = 2.0 * case["n"] * case["k"] * case["d"]
        for device, key in (("cpu", "floor_ms_per_iter"), ("cuda", "gpu_floor_ms_per_iter")):
            if rates[device]:
                case[key] = flops / (rates[device]["gflops"] * 1e9) * 1e3
        for m in case["methods"]:
            key = "floor_ms_per_iter" if m["device"] == "cpu" else "gpu_floor_ms_per_iter"
            if key in case:
                m["ratio_vs_floor"] = m["ms_per_iter"] / case[key]
            if m["method"] == "gpucluster" and m["device"] == "cpu":
                case["gpucluster_vs_floor"] = m.get("ratio_vs_floor")


def _kmeans_gpu_runs(case, X_host, C_host, repeat, gpu_ctx, log):
    """gpucluster (and faiss-gpu when present) on CuPy copies of the same data."""
    import cupy

    sync = gpu_ctx["sync"]
    n, d, k = case["n"], case["d"], case["k"]
    Xg, Cg = cupy.asarray(X_host), cupy.asarray(C_host)
    t0 = time.perf_counter()
    km_gpucluster(Xg[:min(n, WARMUP_ROWS)], Cg, 2, "cuda")
    sync()
    case["gpucluster_cuda_warmup_s"] = time.perf_counter() - t0
    log(f"[kmeans {case['case']}]   gpucluster cuda ...")
    t, (centers, it) = best_time(lambda: km_gpucluster(Xg, Cg, N_ITER, "cuda"), repeat, sync)
    ref_cpu = next(m for m in case["methods"] if m["method"] == "gpucluster")
    gm = {
        "method": "gpucluster", "device": "cuda", "fit_s": t, "n_iter": it,
        "ms_per_iter": t / it * 1e3, "inertia64": inertia64(X_host, cupy.asnumpy(centers)),
    }
    gm["inertia_rel_diff"] = _rel(gm["inertia64"], ref_cpu["inertia64"])
    case["methods"].append(gm)
    if gpu_ctx.get("faiss_gpus"):
        try:
            km_faiss(X_host[:min(n, WARMUP_ROWS)], C_host, 2, gpu=True)
            log(f"[kmeans {case['case']}]   faiss gpu ...")
            t, (centers, it) = best_time(lambda: km_faiss(X_host, C_host, N_ITER, gpu=True), repeat)
            case["methods"].append({
                "method": "faiss", "device": "cuda", "fit_s": t, "n_iter": it,
                "ms_per_iter": t / it * 1e3, "inertia64": inertia64(X_host, centers),
                "note": "host input (includes transfers)",
            })
        except Exception as exc:  # a faiss build without GPU kernels for this device
            case["faiss_gpu_error"] = repr(exc)
    del Xg, Cg
    cupy.get_default_memory_pool().free_all_blocks()


def kmeans_gpu_large(spec, repeat, gpu_ctx, log):
    """KMeans at a size only a GPU handles here; data made on the device (standard normal)."""
    import cupy

    sync = gpu_ctx["sync"]
    n, d, k = spec["n"], spec["d"], spec["k"]
    log(f"[kmeans {spec['name']}] n={n:,} d={d} k={k} (cuda): generating data")
    X = cupy.random.default_rng(SEED).standard_normal((n, d), dtype=cupy.float32)
    C = initial_centers(X, k, SEED)
    t0 = time.perf_counter()
    km_gpucluster(X[:min(n, 100_000)], C, 2, "cuda")
    sync()
    warm = time.perf_counter() - t0
    log(f"[kmeans {spec['name']}]   gpucluster cuda ...")
    t, (centers, it) = best_time(lambda: km_gpucluster(X, C, N_ITER, "cuda"), max(1, repeat - 1), sync)
    ms = t / it * 1e3
    case = {
        "case": spec["name"], "n": n, "d": d, "k": k, "dtype": "float32",
        "gpucluster_cuda_warmup_s": warm,
        "methods": [{
            "method": "gpucluster", "device": "cuda", "fit_s": t, "n_iter": it,
            "ms_per_iter": ms, "inertia64": inertia64(X, centers, xp=cupy, block_bytes=2**29),
        }],
    }
    del X
    cupy.get_default_memory_pool().free_all_blocks()
    return case


# --------------------------------------------------------------------------
# Silhouette


def _gpucluster_silhouette():
    try:
        from gpucluster.metrics import silhouette_score
    except ImportError as exc:
        return None, repr(exc)
    return silhouette_score, None


def silhouette_case(spec, gpu_ctx, log):
    from sklearn.metrics import silhouette_score as sk_sil

    n, d, n_labels = spec["n"], spec["d"], spec["labels"]
    X, labels = blobs(n, d, n_centers=n_labels, spread=1.0, seed=SEED + 2)
    case = {"n": n, "d": d, "labels": n_labels, "dtype": "float32", "runs": []}
    log(f"[silhouette] n={n:,} d={d} labels={n_labels}: sklearn ...")
    t, v = best_time(lambda: float(sk_sil(X, labels)), 1)
    case["runs"].append({"method": "sklearn", "device": "cpu", "seconds": t, "value": v})
    sk_value = v

    gc_sil, error = _gpucluster_silhouette()
    if gc_sil is None:
        case["gpucluster"] = f"not available ({error})"
        return case
    sl = slice(0, min(n, 2000))
    t0 = time.perf_counter()
    gc_sil(X[sl], labels[sl])
    case["gpucluster_warmup_s"] = time.perf_counter() - t0
    log("[silhouette]   gpucluster cpu ...")
    t, v = best_time(lambda: float(gc_sil(X, labels)), 1)
    case["runs"].append({
        "method": "gpucluster", "device": "cpu", "seconds": t, "value": v,
        "ratio_sklearn_over_this": case["runs"][0]["seconds"] / t,
        "rel_diff_vs_sklearn": _rel(v, sk_value),
    })
    if gpu_ctx is not None:
        import cupy

        Xg, lg = cupy.asarray(X), cupy.asarray(labels)
        gc_sil(Xg[sl], lg[sl])
        log("[silhouette]   gpucluster cuda ...")
        t, v = best_time(lambda: float(gc_sil(Xg, lg)), 3, gpu_ctx["sync"])
        case["runs"].append({
            "method": "gpucluster", "device": "cuda", "seconds": t, "value": v,
            "ratio_sklearn_over_this": case["runs"][0]["seconds"] / t,
            "rel_diff_vs_sklearn": _rel(v, sk_value),
        })
    return case


# --------------------------------------------------------------------------
# Report


def _f(x, fmt):
    return "n/a" if x is None else format(x, fmt)


def markdown(res):
    h, m, v = res["header"], res["header"]["machine"], res["header"]["versions"]
    lines = [
        f"# gpucluster benchmarks: {h['kind']}{' (quick)' if h['quick'] else ''}, {h['datetime']}",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM"
        + (f"; GPU {m['gpu']} ({m['gpu_memory_gib']} GiB)" if "gpu" in m else "")
        + (f"; torch sees {m['torch_cuda_device']}" if "torch_cuda_device" in m else ""),
        "- Versions: " + ", ".join(
            f"{k} {val}" for k, val in v.items()
            if k not in ("threadpools",) and val is not None
        ),
        "- Thread pools (threadpoolctl): " + "; ".join(v.get("threadpools", [])),
        f"- Load average (1, 5, 15 min) at start {m['load_avg_at_start']}, at end "
        f"{m.get('load_avg_at_end')}: above 0 means other work shared the machine",
        f"- Seed {h['seed']}; best of {h['repeat']} KMeans fits per method; "
        f"command: `{h['command']}`",
    ]
    g = res.get("gemm_cpu")
    if g:
        lines.append(
            f"- float32 GEMM rate (np.matmul {g['size']}x{g['size']}, best of 5, at start and "
            f"at end): {g['gflops']:.1f} GFLOP/s (start {g['gflops_start']:.1f}, end {g['gflops_end']:.1f})"
        )
    gg = res.get("gemm_gpu")
    if gg:
        lines.append(
            f"- float32 GEMM rate on GPU (cupy.matmul {gg['size']}x{gg['size']}, best of 10, "
            f"CUPY_TF32={m.get('CUPY_TF32')}, at start and at end): {gg['gflops']:.1f} GFLOP/s "
            f"(start {gg['gflops_start']:.1f}, end {gg['gflops_end']:.1f})"
        )

    if res.get("kmeans"):
        lines += [
            "",
            f"## KMeans (Lloyd, float32, same initial centres, tol=0, {N_ITER} iterations)",
            "",
            "ratio = method's ms/iter / gpucluster's (>1: gpucluster faster). "
            "Inertia recomputed in float64 from each method's final centres; "
            "rel. diff against gpucluster's.",
            "",
            "| case | n | d | k | method | ms/iter | n_iter | ratio | inertia (float64) | rel. diff |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for c in res["kmeans"]:
            for mm in c["methods"]:
                if mm["device"] != "cpu":
                    continue
                lines.append(
                    f"| {c['case']} | {c['n']:,} | {c['d']} | {c['k']} | {mm['method']} | "
                    f"{mm['ms_per_iter']:.1f} | {mm['n_iter']} | {_f(mm.get('ratio_vs_gpucluster'), '.2f')} | "
                    f"{mm['inertia64']:.6e} | {_f(mm.get('inertia_rel_diff'), '+.2e')} |"
                )
        lines += [
            "",
            "Floor = 2*n*k*d flops per iteration at the measured float32 GEMM rate.",
            "",
            "| case | floor ms/iter | gpucluster ms/iter | gpucluster / floor | gpucluster warm-up (s) |",
            "|---|---:|---:|---:|---:|",
        ]
        for c in res["kmeans"]:
            ref = next((mm for mm in c["methods"] if mm["method"] == "gpucluster" and mm["device"] == "cpu"), None)
            lines.append(
                f"| {c['case']} | {c['floor_ms_per_iter']:.2f} | {_f(ref and ref['ms_per_iter'], '.1f')} | "
                f"{_f(c.get('gpucluster_vs_floor'), '.2f')} | {_f(c.get('gpucluster_warmup_s'), '.2f')} |"
            )

    s = res.get("silhouette")
    if s:
        lines += [
            "",
            f"## silhouette_score (n={s['n']:,}, d={s['d']}, {s['labels']} labels, float32)",
            "",
        ]
        if "gpucluster" in s and isinstance(s["gpucluster"], str):
            lines.append(f"gpucluster.metrics.silhouette_score: {s['gpucluster']}")
            lines.append("")
        lines += [
            "| method | device | seconds | sklearn / this | value | rel. diff vs sklearn |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in s["runs"]:
            lines.append(
                f"| {r['method']} | {r['device']} | {r['seconds']:.3f} | "
                f"{_f(r.get('ratio_sklearn_over_this'), '.2f')} | {r['value']:.7f} | "
                f"{_f(r.get('rel_diff_vs_sklearn'), '+.2e')} |"
            )

    gpu_rows = [
        (c, mm) for c in res.get("kmeans", []) + res.get("kmeans_gpu", [])
        for mm in c["methods"] if mm["device"] == "cuda"
    ]
    if gpu_rows:
        lines += [
            "",
            "## KMeans on the GPU (CuPy arrays, same data and initial centres)",
            "",
            "speed-up = CPU method's ms/iter / this row's; rel. diff of inertia against gpucluster CPU.",
            "",
            "| case | n | d | k | method | ms/iter | n_iter | floor ms/iter | / floor | "
            "vs gpucluster cpu | vs sklearn | vs faiss cpu | inertia (float64) | rel. diff |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c, mm in gpu_rows:
            cpu = {x["method"]: x["ms_per_iter"] for x in c["methods"] if x["device"] == "cpu"}
            sp = {name: _ratio(cpu.get(name), mm["ms_per_iter"]) for name in ("gpucluster", "sklearn", "faiss")}
            lines.append(
                f"| {c['case']} | {c['n']:,} | {c['d']} | {c['k']} | {mm['method']} | "
                f"{mm['ms_per_iter']:.2f} | {mm['n_iter']} | {c['gpu_floor_ms_per_iter']:.3f} | "
                f"{_f(mm.get('ratio_vs_floor'), '.2f')} | {_f(sp['gpucluster'], '.1f')} | "
                f"{_f(sp['sklearn'], '.1f')} | {_f(sp['faiss'], '.1f')} | {mm['inertia64']:.6e} | "
                f"{_f(mm.get('inertia_rel_diff'), '+.2e')} |"
            )
    lines += density_markdown(res.get("density", []))
    lines += hdbscan_scaling_markdown(res.get("hdbscan_scaling", []))
    lines += dbscan_scaling_markdown(res.get("dbscan", []))
    lines += dbscan_memory_markdown(res.get("dbscan_memory"))
    lines += knn_graph_markdown(res.get("knn_graph", []))
    if res.get("embed") or res.get("auto") or res.get("run"):
        lines += ["", "## Images in, groups out", ""]
    if res.get("embed"):
        lines += [embed_markdown(res["embed"])]
    if res.get("auto"):
        lines += [auto_markdown(res["auto"])]
    if res.get("run"):
        lines += [main_job_markdown(res["run"])]
    lines += segmentation_markdown(res.get("segmentation", []))
    lines += estimators_markdown(res.get("estimators", []))
    if res.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {x}" for x in res["notes"]]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--only", default=",".join(CASES),
                        help="comma-separated cases: " + ", ".join(CASES))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    parser.add_argument("--repeat", type=int, default=None,
                        help="KMeans fits per method, best kept (default 3; 1 with --quick)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU section")
    args = parser.parse_args(argv)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    unknown = only - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {', '.join(CASES)}")
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat or sizes["repeat"]

    from gpucluster import backend

    gpu = (not args.no_gpu) and backend.gpu_available()
    kind = "gpu" if gpu else "cpu"
    now = datetime.datetime.now()
    t_start = time.perf_counter()

    def log(msg):
        print(f"{time.perf_counter() - t_start:7.1f}s  {msg}", file=sys.stderr, flush=True)

    res = {
        "header": {
            "kind": kind, "quick": args.quick, "datetime": now.isoformat(timespec="seconds"),
            "seed": SEED, "n_iter": N_ITER, "repeat": repeat,
            "command": " ".join(["python benchmarks/run.py"] + (argv if argv is not None else sys.argv[1:])),
            "machine": machine_info(gpu), "versions": versions(gpu),
        },
        "notes": [],
    }
    log("measuring float32 GEMM rate")
    res["gemm_cpu"] = gemm_rate_cpu(sizes["gemm_cpu"])
    gpu_ctx = None
    if gpu:
        import cupy

        res["gemm_gpu"] = gemm_rate_gpu(sizes["gemm_gpu"])
        gpu_ctx = {"sync": cupy.cuda.Device().synchronize}
        try:
            import faiss

            gpu_ctx["faiss_gpus"] = faiss.get_num_gpus()
        except Exception:
            gpu_ctx["faiss_gpus"] = 0

    if "kmeans" in only:
        res["kmeans"] = [kmeans_case(spec, repeat, gpu_ctx, log)
                         for spec in sizes["kmeans"]]
        if gpu:
            res["kmeans_gpu"] = [kmeans_gpu_large(sizes["kmeans_gpu_large"], repeat, gpu_ctx, log)]
        for c in res["kmeans"] + res.get("kmeans_gpu", []):
            for mm in c["methods"]:
                if mm["n_iter"] != N_ITER:
                    res["notes"].append(
                        f"case {c['case']}: {mm['method']} ({mm['device']}) ran {mm['n_iter']} "
                        f"iterations, not {N_ITER}"
                    )
    if "silhouette" in only:
        res["silhouette"] = silhouette_case(sizes["silhouette"], gpu_ctx, log)
    if "density" in only:
        res["density"] = run_density(args.quick, log)
    if "hdbscan_scaling" in only:
        res["hdbscan_scaling"] = run_hdbscan_scaling(args.quick, log)
    if "dbscan" in only:
        res["dbscan"] = run_dbscan_scaling(args.quick, log)
    if "dbscan_memory" in only:
        n = 100_000 if args.quick else 500_000
        log(f"dbscan_memory: {n:,} x 2, eps=0.02, gpucluster and scikit-learn ...")
        res["dbscan_memory"] = run_dbscan_memory(n)
    if "knn_graph" in only:
        res["knn_graph"] = run_knn_graph(args.quick, log)
    if "embed" in only:
        res["embed"] = run_embed(args.quick, log, gpu=gpu)
    if "auto" in only:
        res["auto"] = run_auto(args.quick, log)
    if "run" in only:
        res["run"] = run_main_job(args.quick, log)
    if "segmentation" in only:
        res["segmentation"] = run_segmentation(args.quick, log, gpu=gpu)
    if "estimators" in only:
        res["estimators"] = run_estimators(args.quick, log)
    # The GEMM rate again at the end, the best of both kept: on a shared
    # machine one burst of outside load must not lower the floor.
    log("measuring float32 GEMM rate again")
    again = gemm_rate_cpu(sizes["gemm_cpu"])
    res["gemm_cpu"]["gflops_start"], res["gemm_cpu"]["gflops_end"] = res["gemm_cpu"]["gflops"], again["gflops"]
    res["gemm_cpu"]["gflops"] = max(res["gemm_cpu"]["gflops"], again["gflops"])
    if gpu:
        again = gemm_rate_gpu(sizes["gemm_gpu"])
        res["gemm_gpu"]["gflops_start"], res["gemm_gpu"]["gflops_end"] = res["gemm_gpu"]["gflops"], again["gflops"]
        res["gemm_gpu"]["gflops"] = max(res["gemm_gpu"]["gflops"], again["gflops"])
    apply_floors(res)
    res["header"]["total_s"] = round(time.perf_counter() - t_start, 1)
    res["header"]["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    res["notes"].append(f"total benchmark wall time {res['header']['total_s']} s")

    text = markdown(res)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    partial = only != set(CASES)
    stem = (f"{kind}-{now.date().isoformat()}" + ("-quick" if args.quick else "")
            + ("-" + "-".join(c for c in CASES if c in only) if partial else ""))
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    written = [out / f"{stem}.md", out / f"{stem}.json"]
    if not args.quick and not partial:
        (out / f"latest-{kind}.md").write_text(text)
        written.append(out / f"latest-{kind}.md")
    log("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())

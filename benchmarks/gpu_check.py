#!/usr/bin/env python
"""GPU acceptance in one command: the gpu-marked tests, the simulator tests and the GPU benchmarks.

    python benchmarks/gpu_check.py            # on a machine with a CUDA GPU and CuPy
    python benchmarks/gpu_check.py --out DIR  # write the table elsewhere

Parts, each in a process of its own with a time budget (seconds), the whole
within 8 minutes on one H100/H200:

gpu-tests   ``pytest -m gpu`` over tests/ (CuPy and torch CUDA backends)      150
sim-tests   tests/cuda_sim under Numba's CUDA simulator (what
            tests/test_cuda_sim.py runs), spread over the cores by
            pytest-xdist when it is installed                                    90
gemm        the cuBLAS float32 GEMM rate, 8192^3, best of 10                     20
kmeans      KMeans 10M x 128, k=1024, float32, made on the device: Lloyd
            ms/iteration from given centres against the GEMM floor
            (2 n k d flops at the measured rate), then whole fits with the
            default init (k-means++) and with "k-means||" (cuML's default,
            which the issue allows for 10^7 rows): each init's share of
            its fit; the goal is read on the better one                        120
hdbscan     HDBSCAN 1M x 512 (20 blobs) on the kNN graph, seconds and ARI;
            skipped while ``kernels.knn_graph`` is absent (HDBSCAN all-pairs)    60
knn-graph   ``kernels.knn_graph`` 10M x 128, k=15: seconds, and recall
            against the exact ``kernels.knn`` on 1,000 sampled rows; skipped
            while the kernel is absent                                           60

A part that overruns its budget is stopped and reported as timed out; the
run goes on with the next. Writes ``<out>/gpu-<date>.md`` (and ``.json``):
device, driver, CUDA, CuPy, Numba and torch versions, date, and each part's
outcome and figures. Exits 0 when every part that ran passed (a skipped case
is no failure), 1 otherwise.

With no usable GPU (CuPy missing, or no device answers) it says so and
exits 2 without running anything or writing a file.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOTAL_BUDGET_S = 470
BUDGETS = {
    "gpu-tests": 150,
    "sim-tests": 90,
    "gemm": 20,
    "kmeans": 120,
    "hdbscan": 60,
    "knn-graph": 60,
}
SIZES = {
    "gemm": 8192,
    "kmeans": {"n": 10_000_000, "d": 128, "k": 1024, "lloyd_iter": 10, "fit_iter": 10},
    "hdbscan": {"n": 1_000_000, "d": 512, "centers": 20, "min_cluster_size": 25},
    "knn_graph": {"n": 10_000_000, "d": 128, "k": 15, "sample": 1000},
}
SEED = 0
NO_GPU_EXIT = 2


# --------------------------------------------------------------------------
# The GPU and the environment


def gpu_status():
    """(True, device name) when CuPy imports and a CUDA device answers, else (False, why)."""
    try:
        import cupy
    except Exception as exc:
        return False, f"CuPy does not import ({type(exc).__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"no CUDA device answers ({type(exc).__name__}: {exc})"
    if count < 1:
        return False, "no CUDA device answers (0 devices)"
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return True, name.decode() if isinstance(name, bytes) else str(name)


def _cuda_version(code):
    return f"{code // 1000}.{code % 1000 // 10}"


def environment():
    """Device, memory, driver and runtime versions, library versions, date."""
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": name.decode() if isinstance(name, bytes) else str(name),
        "device_memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
        "multiprocessors": props.get("multiProcessorCount"),
        "cuda_driver": _cuda_version(cupy.cuda.runtime.driverGetVersion()),
        "cuda_runtime": _cuda_version(cupy.cuda.runtime.runtimeGetVersion()),
        "python": platform.python_version(),
        "cpu_cores": os.cpu_count(),
    }
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20,
        )
        if out.returncode == 0 and out.stdout.strip():
            info["driver"] = out.stdout.strip().splitlines()[0]
    except Exception:
        pass
    for module in ("cupy", "numba", "numpy", "torch", "sklearn"):
        try:
            info[module] = __import__(module).__version__
        except Exception:
            info[module] = None
    try:
        import numba_cuda

        info["numba_cuda"] = numba_cuda.__version__
    except Exception:
        pass
    return info


# --------------------------------------------------------------------------
# Parts run in a process of their own


def _run(command, budget, env=None):
    """Run ``command`` in ROOT for at most ``budget`` s: (return code or None on timeout, output, seconds)."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=budget,
        )
        return out.returncode, out.stdout + out.stderr, time.perf_counter() - t0
    except subprocess.TimeoutExpired as exc:
        text = "".join(
            part.decode(errors="replace") if isinstance(part, bytes) else (part or "")
            for part in (exc.stdout, exc.stderr)
        )
        return None, text, time.perf_counter() - t0


def _pytest_counts(output):
    counts = {}
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    if summary:
        for number, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)",
                                       summary[-1]):
            counts[word] = int(number)
    else:  # stopped before the summary: count the verbose result lines so far
        for word in ("PASSED", "FAILED", "SKIPPED", "ERROR"):
            counts[word.lower() + "_so_far"] = len(re.findall(rf" {word}\b", output))
    return counts


def _failures(output):
    return [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))][:20]


def pytest_part(name, args, budget, env=None, log=None):
    """Run pytest with ``args`` within ``budget`` seconds; the whole output goes to ``log``."""
    command = [sys.executable, "-m", "pytest", "-v", "-rf", "-p", "no:cacheprovider", *args]
    rc, output, seconds = _run(command, budget, env)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(output)
    counts = _pytest_counts(output)
    if rc is None:
        outcome = "timed out"
    elif rc == 0:
        outcome = "passed"
    elif rc == 5:
        outcome = "no tests"
    else:
        outcome = "failed"
    return {"part": name, "outcome": outcome, "seconds": round(seconds, 1),
            "figures": counts, "failures": _failures(output),
            "tail": output[-3000:] if outcome in ("failed", "timed out") else ""}


def case_part(name, budget):
    """Run one benchmark case as ``gpu_check.py --case NAME``; its figures are its last stdout line."""
    rc, output, seconds = _run([sys.executable, __file__, "--case", name], budget)
    result = {"part": name, "seconds": round(seconds, 1), "figures": {}, "failures": []}
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if lines:
        result["figures"] = json.loads(lines[-1])
    if rc is None:
        result["outcome"] = "timed out"
    elif rc != 0:
        result["outcome"] = "failed"
    else:
        result["outcome"] = result["figures"].pop("outcome", "passed")
    if result["outcome"] in ("failed", "timed out"):
        result["tail"] = output[-3000:]
    return result


# --------------------------------------------------------------------------
# Benchmark cases (run inside ``--case``)


def _partial(figures):
    """Print the figures so far: a case stopped at its budget still reports them."""
    print(json.dumps(figures), flush=True)
    return figures


def _timed(fn, sync):
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


def case_gemm():
    import cupy

    size = SIZES["gemm"]
    sync = cupy.cuda.Device().synchronize
    rng = cupy.random.default_rng(SEED)
    a = rng.standard_normal((size, size), dtype=cupy.float32)
    b = rng.standard_normal((size, size), dtype=cupy.float32)
    c = cupy.empty((size, size), dtype=cupy.float32)
    cupy.matmul(a, b, out=c)
    best = min(_timed(lambda: cupy.matmul(a, b, out=c), sync)[0] for _ in range(10))
    return {"size": size, "best_s": best, "tflops": 2.0 * size**3 / best / 1e12,
            "CUPY_TF32": os.environ.get("CUPY_TF32", "0")}


def case_kmeans():
    import cupy

    from gpucluster import KMeans

    spec = SIZES["kmeans"]
    n, d, k = spec["n"], spec["d"], spec["k"]
    sync = cupy.cuda.Device().synchronize
    gemm = case_gemm()
    X = cupy.random.default_rng(SEED).standard_normal((n, d), dtype=cupy.float32)
    perm = cupy.asarray(__import__("numpy").random.default_rng(SEED).permutation(n)[:k])
    C = cupy.ascontiguousarray(X[perm])
    warm_s, _ = _timed(lambda: KMeans(k, init=C, n_init=1, max_iter=2, tol=0,
                                      device="cuda").fit(X[:200_000]), sync)

    def lloyd():
        return KMeans(k, init=C, n_init=1, max_iter=spec["lloyd_iter"], tol=0,
                      device="cuda").fit(X)

    lloyd_s, est = _timed(lloyd, sync)
    ms_per_iter = lloyd_s / est.n_iter_ * 1e3
    floor_ms = 2.0 * n * k * d / (gemm["tflops"] * 1e12) * 1e3
    figures = _partial({
        "n": n, "d": d, "k": k, "warmup_s": warm_s, "gemm_tflops": gemm["tflops"],
        "lloyd_iterations": int(est.n_iter_), "ms_per_iter": ms_per_iter,
        "gemm_floor_ms_per_iter": floor_ms, "iter_vs_floor": ms_per_iter / floor_ms,
        "whole_fit": "not finished",
    })

    def whole(init):
        return KMeans(k, init=init, n_init=1, max_iter=spec["fit_iter"], tol=0,
                      random_state=SEED, device="cuda").fit(X)

    fits = {}
    for init in ("k-means++", "k-means||"):
        fit_s, fitted = _timed(lambda: whole(init), sync)
        init_s = max(0.0, fit_s - fitted.n_iter_ * ms_per_iter / 1e3)
        fits[init] = {"fit_s": fit_s, "fit_iterations": int(fitted.n_iter_),
                      "init_s_estimated": init_s, "init_share_of_fit": init_s / fit_s,
                      "inertia": float(fitted.inertia_)}
        figures.update({f"{init}_{key}": value for key, value in fits[init].items()})
        _partial(figures)
    best_init = min(fits, key=lambda name: fits[name]["init_share_of_fit"])
    del figures["whole_fit"]
    return {
        **figures,
        "init_for_goal": best_init,
        "goals": "iteration within 1.5x of the GEMM floor; init under 10 % of the fit",
        "goals_met": bool(ms_per_iter <= 1.5 * floor_ms
                          and fits[best_init]["init_share_of_fit"] <= 0.1),
    }


def _has_knn_graph():
    from gpucluster import kernels

    return hasattr(kernels, "knn_graph")


def case_hdbscan():
    if not _has_knn_graph():
        return {"outcome": "skipped",
                "reason": "kernels.knn_graph is absent: HDBSCAN is still all-pairs"}
    import cupy
    from sklearn.metrics import adjusted_rand_score

    from gpucluster import HDBSCAN

    spec = SIZES["hdbscan"]
    n, d = spec["n"], spec["d"]
    sync = cupy.cuda.Device().synchronize
    rng = cupy.random.default_rng(SEED)
    centers = rng.standard_normal((spec["centers"], d), dtype=cupy.float32) * 4
    truth = rng.integers(0, spec["centers"], size=n)
    X = rng.standard_normal((n, d), dtype=cupy.float32) + centers[truth]
    warm_s, _ = _timed(lambda: HDBSCAN(min_cluster_size=spec["min_cluster_size"],
                                       device="cuda").fit(X[:20_000]), sync)
    fit_s, est = _timed(lambda: HDBSCAN(min_cluster_size=spec["min_cluster_size"],
                                        device="cuda").fit(X), sync)
    labels = cupy.asnumpy(cupy.asarray(est.labels_))
    return {"n": n, "d": d, "warmup_s": warm_s, "fit_s": fit_s,
            "clusters": int(labels.max() + 1), "noise_share": float((labels < 0).mean()),
            "ari_vs_truth": float(adjusted_rand_score(cupy.asnumpy(truth), labels)),
            "goal": "under 60 s", "goal_met": bool(fit_s < 60)}


def _indices_of(result, n, k):
    """The (n, k) integer neighbour array of whatever ``knn_graph`` returns."""
    import cupy

    items = result if isinstance(result, (tuple, list)) else getattr(result, "__dict__", {}).values()
    for item in ([result] if hasattr(result, "dtype") else list(items)):
        if hasattr(item, "dtype") and item.dtype.kind in "iu" and tuple(item.shape) == (n, k):
            return cupy.asarray(item)
    raise TypeError(f"no (n, k) integer array in knn_graph's result {type(result).__name__}")


def case_knn_graph():
    if not _has_knn_graph():
        return {"outcome": "skipped", "reason": "kernels.knn_graph is absent"}
    import cupy
    import numpy as np

    from gpucluster import kernels

    spec = SIZES["knn_graph"]
    n, d, k = spec["n"], spec["d"], spec["k"]
    sync = cupy.cuda.Device().synchronize
    rng = cupy.random.default_rng(SEED)
    centers = rng.standard_normal((1000, d), dtype=cupy.float32) * 3
    X = rng.standard_normal((n, d), dtype=cupy.float32) + centers[rng.integers(0, 1000, size=n)]
    warm_s, _ = _timed(lambda: kernels.knn_graph(X[:50_000], k), sync)
    build_s, graph = _timed(lambda: kernels.knn_graph(X, k), sync)
    indices = _indices_of(graph, n, k)
    sample = np.random.default_rng(SEED).choice(n, spec["sample"], replace=False)
    _, exact = kernels.knn(X, k + 1, queries=X[cupy.asarray(sample)])
    exact, got = cupy.asnumpy(exact), cupy.asnumpy(indices[cupy.asarray(sample)])
    hits = sum(len(set(g.tolist()) & (set(e.tolist()) - {int(i)}))
               for g, e, i in zip(got, exact, sample))
    return {"n": n, "d": d, "k": k, "warmup_s": warm_s, "build_s": build_s,
            "recall_sampled": hits / (k * len(sample)), "sampled_rows": len(sample)}


CASES = {"gemm": case_gemm, "kmeans": case_kmeans, "hdbscan": case_hdbscan,
         "knn-graph": case_knn_graph}


# --------------------------------------------------------------------------
# The report


def _figure(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(env, parts, total_s):
    lines = [f"# GPU check, {env['date'][:10]}", "",
             "`python benchmarks/gpu_check.py`: the gpu-marked tests, the CUDA simulator "
             "tests and the GPU benchmark cases, one process each, with a time budget each.", "",
             "| environment | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in env.items()]
    lines += ["", f"Total: {total_s:.0f} s.", "",
              "| part | outcome | seconds | budget s | figures |", "|---|---|---:|---:|---|"]
    for part in parts:
        figures = "; ".join(f"{key}={_figure(value)}" for key, value in part["figures"].items())
        lines.append(f"| {part['part']} | {part['outcome']} | {part['seconds']} | "
                     f"{part.get('budget', '')} | {figures} |")
    for part in parts:
        if part.get("failures") or part.get("tail"):
            lines += ["", f"## {part['part']}: {part['outcome']}", ""]
            lines += [f"- `{line}`" for line in part.get("failures", [])]
            if part.get("tail"):
                lines += ["", "```", part["tail"].strip()[-2000:], "```"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for gpu-<date>.md")
    parser.add_argument("--budget", type=int, default=TOTAL_BUDGET_S,
                        help=f"seconds for all parts together (default {TOTAL_BUDGET_S})")
    parser.add_argument("--parts", default=",".join(BUDGETS),
                        help="comma-separated parts to run, in their usual order (default: all)")
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    wanted = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(wanted) - set(BUDGETS))
    if unknown:
        parser.error(f"unknown parts {unknown}; known: {', '.join(BUDGETS)}")
    sys.path.insert(0, str(ROOT))

    if args.case:
        print(json.dumps(CASES[args.case]()), flush=True)
        return 0

    usable, detail = gpu_status()
    if not usable:
        print(f"gpu_check: no usable GPU here: {detail}. Nothing was run and no results "
              "file was written; run this on a machine with a CUDA GPU and CuPy.",
              file=sys.stderr)
        return NO_GPU_EXIT
    env = environment()
    print(f"gpu_check on {env['device']} (driver {env.get('driver', env['cuda_driver'])}, "
          f"CUDA {env['cuda_runtime']}, CuPy {env['cupy']}, numba {env['numba']})", flush=True)
    started = time.perf_counter()

    def budget(name):
        left = args.budget - (time.perf_counter() - started)
        return max(1, int(min(BUDGETS[name], left)))

    parts = []

    def record(part, name, allowed):
        part["budget"] = allowed
        parts.append(part)
        print(f"  {name}: {part['outcome']} in {part['seconds']} s {part['figures']}", flush=True)

    # Both test parts spread over the cores when pytest-xdist is there: on an H200
    # the gpu-marked tests took 130 s on 12 workers, and reached 15 % in 150 s on one
    # (each process compiles its kernels; the compiling is what the cores share).
    try:
        import xdist  # noqa: F401

        spread = ["-n", str(min(12, os.cpu_count() or 1))]
    except ImportError:
        spread = []
    if "gpu-tests" in wanted:
        allowed = budget("gpu-tests")
        record(pytest_part("gpu-tests", [*spread, "-m", "gpu", "--continue-on-collection-errors",
                                         "tests"], allowed, log=args.out / "gpu-tests.log"),
               "gpu-tests", allowed)
    sim_env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    sim_args = [*spread, "tests/cuda_sim"]
    if "sim-tests" in wanted:
        allowed = budget("sim-tests")
        record(pytest_part("sim-tests", sim_args, allowed, sim_env), "sim-tests", allowed)
    for name in [p for p in ("gemm", "kmeans", "hdbscan", "knn-graph") if p in wanted]:
        allowed = budget(name)
        record(case_part(name, allowed), name, allowed)

    total_s = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"gpu-{env['date'][:10]}"
    stem.with_suffix(".md").write_text(markdown(env, parts, total_s))
    stem.with_suffix(".json").write_text(json.dumps(
        {"environment": env, "parts": parts, "total_s": total_s}, indent=2) + "\n")
    print(f"wrote {stem.with_suffix('.md')}", flush=True)
    bad = [p["part"] for p in parts if p["outcome"] in ("failed", "timed out")]
    if bad:
        print(f"gpu_check: not passed: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""The estimators of issue 11 against their peers: one table, every tool warmed first.

    python benchmarks/estimators.py                 # the issue's shapes
    python benchmarks/estimators.py --quick         # a tenth of the rows, a smoke test
    python benchmarks/estimators.py --only Birch,MeanShift

Each ``benchmarks/estimators_<name>.py`` file defines ``cases()``: a list of
dicts with ``name``, ``shape``, ``make_data`` (a callable returning the NumPy
X), ``tools`` (``{"gpucluster": fn, "scikit-learn": fn, ...}``, each ``fn(X)``
returning NumPy labels) and ``iterations`` (when set, the table also gives
milliseconds per iteration).

Every tool is warmed by one untimed call on the first ``WARM_ROWS`` rows of the
same data, so no one's JIT compilation or first-call set-up is timed; a timed
figure is the best of ``repeat`` calls on the full data. ``ratio`` is the
peer's seconds over gpucluster's (above 1: gpucluster is faster), and ``ARI``
compares each peer's labels with gpucluster's.
"""

import importlib
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WARM_ROWS = 2_000
OURS = "gpucluster"


def case_modules():
    """The ``estimators_*`` modules next to this file, imported, in name order."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    return [importlib.import_module(p.stem) for p in sorted(HERE.glob("estimators_*.py"))]


def all_cases(only=None):
    """Every case of every module, optionally only those whose name is in ``only``."""
    cases = [case for module in case_modules() for case in module.cases()]
    if only:
        wanted = {name.strip().lower() for name in only}
        cases = [case for case in cases if case["name"].lower() in wanted]
    return cases


def best_time(fn, repeat):
    """(best wall seconds, result of the last call) over ``repeat`` calls."""
    best, result = math.inf, None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run_case(case, repeat, quick, log):
    """Rows (dicts) of one case: each tool's seconds, ratio to gpucluster and ARI with it."""
    from sklearn.metrics import adjusted_rand_score

    data = case["make_data"]()
    X = data if hasattr(data, "tocsr") else np.asarray(data)  # a sparse matrix stays sparse
    if quick:
        X = X[: max(WARM_ROWS, X.shape[0] // 10)]
    warm = X[: min(WARM_ROWS, X.shape[0])]
    timings = {}
    for tool, fn in case["tools"].items():
        log(f"[estimators] {case['name']}: warming {tool} on {warm.shape[0]} rows ...")
        fn(warm)
        log(f"[estimators] {case['name']}: timing {tool} on {X.shape[0]} x {X.shape[1]} ...")
        seconds, labels = best_time(lambda fn=fn: fn(X), repeat)
        timings[tool] = (seconds, np.asarray(labels))
    ours_seconds, ours_labels = timings[OURS]
    rows = []
    for tool, (seconds, labels) in timings.items():
        rows.append({
            "case": case["name"],
            "shape": case["shape"] if not quick else f"{case['shape']} (first {X.shape[0]:,} rows)",
            "tool": tool,
            "seconds": seconds,
            "ms_per_iteration": 1e3 * seconds / case["iterations"] if case.get("iterations") else None,
            "ratio": None if tool == OURS else seconds / ours_seconds,
            "ari": None if tool == OURS else float(adjusted_rand_score(ours_labels, labels)),
        })
    return rows


def run_estimators(quick, log, only=None, repeat=2):
    """All rows of every estimator case (see the module docstring)."""
    rows = []
    for case in all_cases(only):
        rows += run_case(case, 1 if quick else repeat, quick, log)
    return rows


def estimators_markdown(rows):
    """Markdown lines for the estimators table."""
    if not rows:
        return []
    lines = [
        "",
        "## Estimators against their peers (CPU)",
        "",
        "ratio = the peer's seconds / gpucluster's (>1: gpucluster faster); ARI = agreement of the "
        f"peer's labels with gpucluster's. Every tool warmed by one untimed call on the first "
        f"{WARM_ROWS:,} rows of the same data; best of the timed calls.",
        "",
        "| estimator | shape | tool | seconds | ms / iteration | ratio | ARI |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        per_iter = "" if r["ms_per_iteration"] is None else f"{r['ms_per_iteration']:.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        ari = "" if r["ari"] is None else f"{r['ari']:.3f}"
        lines.append(f"| {r['case']} | {r['shape']} | {r['tool']} | {r['seconds']:.3f} | "
                     f"{per_iter} | {ratio} | {ari} |")
    return lines


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--only", default=None, help="comma-separated estimator names")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per tool, best kept")
    args = parser.parse_args()
    t0 = time.perf_counter()
    result = run_estimators(args.quick, lambda m: print(f"{time.perf_counter() - t0:7.1f}s  {m}",
                                                         file=sys.stderr, flush=True),
                            only=args.only.split(",") if args.only else None, repeat=args.repeat)
    print("\n".join(estimators_markdown(result)))

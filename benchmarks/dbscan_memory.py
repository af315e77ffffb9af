"""Peak memory of DBSCAN: gpucluster against scikit-learn on many neighbours per point.

    python benchmarks/dbscan_memory.py                 # 500,000 x 2 uniform, eps=0.02
    python benchmarks/dbscan_memory.py --n 100000 --eps 0.02

Each fit runs in a fresh process; the figure is that process's peak resident
memory (imports included, the same for both) and its CPU seconds, after one
untimed fit on 2,000 rows in the same process (so JIT compilation is not
counted). The data: n points uniform in the unit square, so a point has
about n * pi * eps^2 neighbours (628 at the default). Writes
``benchmarks/results/dbscan-memory-<date>.md``.
"""

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
tool, n, eps, min_samples = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
if tool == "gpucluster":
    from gpucluster.cluster import DBSCAN
    make = lambda: DBSCAN(eps=eps, min_samples=min_samples, device="cpu")
else:
    from sklearn.cluster import DBSCAN
    make = lambda: DBSCAN(eps=eps, min_samples=min_samples)
X = np.random.default_rng(0).random((n, 2))
make().fit(X[:2000])
start = time.process_time()
labels = make().fit(X).labels_
print(json.dumps({"cpu_seconds": time.process_time() - start,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "n_clusters": int(np.max(labels)) + 1,
                  "noise": float(np.mean(labels < 0)),
                  "labels_sum": int(np.sum(labels))}))
"""


def measure(tool, n, eps, min_samples):
    done = subprocess.run([sys.executable, "-c", CHILD, tool, str(n), str(eps), str(min_samples)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_dbscan_memory(n=500_000, eps=0.02, min_samples=5):
    """Both tools' figures on one case: a dict with the case and one row per tool."""
    return {"n": n, "eps": eps, "min_samples": min_samples,
            "tools": {tool: measure(tool, n, eps, min_samples)
                      for tool in ("gpucluster", "scikit-learn")}}


def dbscan_memory_markdown(result):
    """Markdown lines for :func:`run_dbscan_memory`'s result (none for None)."""
    if not result:
        return []
    rows = result["tools"]
    ours, theirs = rows["gpucluster"], rows["scikit-learn"]
    same = ours["labels_sum"] == theirs["labels_sum"] and ours["n_clusters"] == theirs["n_clusters"]
    lines = [
        "",
        f"## DBSCAN peak memory, {result['n']:,} x 2 uniform points, eps={result['eps']}, "
        f"min_samples={result['min_samples']}",
        "",
        "Each fit in a fresh process after an untimed warm-up fit; peak resident memory "
        "of the process (imports included) and its CPU seconds.",
        "",
        "| tool | peak memory | CPU seconds | clusters | noise |",
        "|---|---:|---:|---:|---:|",
    ]
    for tool, r in rows.items():
        lines.append(f"| {tool} | {r['peak_gb']:.2f} GB | {r['cpu_seconds']:.1f} "
                     f"| {r['n_clusters']} | {r['noise']:.2%} |")
    lines += ["", f"Memory ratio (gpucluster / scikit-learn): "
                  f"{ours['peak_gb'] / theirs['peak_gb']:.2f}; CPU time ratio: "
                  f"{ours['cpu_seconds'] / theirs['cpu_seconds']:.2f}; same labels: {same}."]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500_000)
    parser.add_argument("--eps", type=float, default=0.02)
    parser.add_argument("--min-samples", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    result = run_dbscan_memory(args.n, args.eps, args.min_samples)
    text = "\n".join(dbscan_memory_markdown(result)).lstrip() + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"dbscan-memory-{datetime.date.today().isoformat()}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

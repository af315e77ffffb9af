"""Time gpucluster.auto.search on synthetic image-embedding-like data.

    python benchmarks/auto_search.py                 # 50,000 x 512, mode fast
    python benchmarks/auto_search.py --n 5000 --mode balanced

The data: ``--groups`` Gaussian groups of unequal sizes (sizes drawn from a
Dirichlet with concentration 1, so the largest group is many times the
smallest) around random unit centres in ``--d`` dimensions, plus ``--noise``
of rows drawn uniformly on the sphere; every row is L2-normalised, as
embeddings from a CLIP-like model are. The noise rows carry the true label -1.

It prints the total seconds, the shared pieces' seconds, every candidate's
seconds and status, and the ranking with ARI against the true groups. A
warm-up search on a small input runs first so Numba's one-off compilation
(cached on disk afterwards) is not timed. Target: fast mode on 50,000 x 512
under 3 minutes on 2 CPU cores.
"""

import argparse
import os
import time

import numpy as np
from search_quality import sphere_groups

# The warm-up search's rows: above knn_graph's exact limit (5,000), so that
# the inverted-file search is compiled (or loaded from Numba's cache) too.
WARM_ROWS = 12_000


def make_embeddings(n, d, groups, noise, spread, seed):
    """(X float32 (n, d) with unit rows, true labels int64 with -1 for noise rows):
    ``search_quality.sphere_groups`` with Dirichlet group sizes."""
    return sphere_groups(n, d, groups, "dirichlet", spread, noise, seed)


def run_auto(quick, log, mode="fast", seed=0):
    """The auto-search case of benchmarks/run.py: 50,000 x 512 (5,000 x 512 quick)."""
    from gpucluster.auto import search

    n = 5_000 if quick else 50_000
    X, truth = make_embeddings(n, 512, 75, 0.05, 0.9, seed)
    small, _ = make_embeddings(WARM_ROWS, 512, 10, 0.05, 0.9, 1)
    log(f"auto search: warm-up on {WARM_ROWS:,} x 512")
    search(small, mode=mode, random_state=0, progress=False)
    log(f"auto search: mode {mode} on {n:,} x 512")
    start = time.perf_counter()
    result = search(X, mode=mode, labels=truth, random_state=seed, progress=False)
    seconds = time.perf_counter() - start
    best = result.candidates[result.ranking[0]]
    statuses = [c["status"] for c in result.candidates]
    return {"n": n, "d": 512, "groups": 75, "mode": mode, "seconds": seconds,
            "shared": result.timings["shared"], "n_candidates": len(statuses),
            "n_ok": statuses.count("ok"), "best_algorithm": best["algorithm"],
            "best_params": {k: v for k, v in best["params"].items() if k != "random_state"},
            "best_n_clusters": best["n_clusters"], "best_scores": best["scores"],
            "best_ari_among_candidates": max(c["scores"].get("ARI") or 0 for c in result.candidates
                                             if c["status"] == "ok")}


def auto_markdown(res):
    shared = ", ".join(f"{k} {v:.2f}" for k, v in res["shared"].items())
    return "\n".join([
        f"### Automatic search, mode {res['mode']} ({res['n']:,} x {res['d']} unit rows, "
        f"{res['groups']} groups of unequal sizes + 5% noise)",
        "",
        "| seconds | candidates (ok) | shared pieces, s | top result | clusters | composite | ARI of top "
        "| best ARI among candidates |",
        "|---|---|---|---|---|---|---|---|",
        f"| {res['seconds']:.1f} | {res['n_candidates']} ({res['n_ok']}) | {shared} "
        f"| {res['best_algorithm']} {res['best_params']} | {res['best_n_clusters']} "
        f"| {res['best_scores']['composite']:.3f} | {res['best_scores'].get('ARI', float('nan')):.3f} "
        f"| {res['best_ari_among_candidates']:.3f} |",
        "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--groups", type=int, default=75)
    parser.add_argument("--noise", type=float, default=0.05, help="fraction of noise rows")
    parser.add_argument("--spread", type=float, default=0.9,
                        help="within-group standard deviation relative to the unit centres")
    parser.add_argument("--mode", default="fast", choices=["fast", "balanced", "thorough"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, default=None)
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args(argv)

    from gpucluster.auto import search

    X, truth = make_embeddings(args.n, args.d, args.groups, args.noise, args.spread, args.seed)
    sizes = np.bincount(truth[truth >= 0])
    sizes = sizes[sizes > 0]
    print(f"data: {args.n} x {args.d}, {sizes.size} groups (sizes {sizes.min()}..{sizes.max()}), "
          f"{np.mean(truth < 0):.1%} noise; "
          f"{os.cpu_count()} CPUs; mode {args.mode}")
    if not args.no_warmup:
        start = time.perf_counter()
        small, small_truth = make_embeddings(WARM_ROWS, args.d, 10, args.noise, args.spread, 1)
        search(small, mode=args.mode, random_state=0, progress=False)
        print(f"warm-up (Numba compilation or cache load): {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    result = search(X, mode=args.mode, labels=truth, random_state=args.seed,
                    time_budget=args.time_budget, progress=True)
    total = time.perf_counter() - start
    print(f"\nsearch(mode={args.mode!r}): {total:.1f} s in all"
          + (" (cut short by the time budget)" if result.cut_short else ""))
    shared = result.timings["shared"]
    print("shared pieces: " + ", ".join(f"{k} {v:.2f} s" for k, v in shared.items()))
    print(f"candidates: {result.timings['search']:.1f} s\n")
    print(f"{'id':>3} {'algorithm':<17} {'status':<8} {'k':>5} {'noise':>6} {'seconds':>8}  params")
    for c in result.candidates:
        params = {k: v for k, v in c["params"].items() if k != "random_state"}
        print(f"{c['id']:>3} {c['algorithm']:<17} {c['status']:<8} {c['n_clusters']:>5} "
              f"{c['noise_fraction']:>6.3f} {c['seconds']:>8.2f}  {params}"
              + (f"  ({c['error']})" if c["error"] else ""))
    print()
    print(result.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

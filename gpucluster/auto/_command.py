"""The `gpucluster cluster` and `gpucluster auto` sub-commands."""

import os
import time

from .. import _format as fmt


def parse_value(text):
    """A --param value: int, float, bool ("true"/"false"), None ("none"/"null") or str."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_params(items):
    """``["k=v", ...]`` -> dict with parsed values; ValueError for an item without '='."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param expects key=value, got {item!r}.")
        params[key.strip()] = parse_value(value)
    return params


def _load(path, under=None):
    """The vectors (and image paths) of INPUT; for a store, prints which images."""
    from .inputs import describe_selection, load_vectors

    X, paths = load_vectors(path, under=under)
    line = describe_selection(path, paths, under)
    if line:
        print(line, flush=True)
    return X, paths


def cmd_cluster(args):
    """Fit one registered algorithm on INPUT; print clusters, sizes, silhouette, seconds."""
    import numpy as np

    from .. import backend
    from .candidates import canonical_algorithm_name, get_algorithm
    from .results import _write_json, _write_labels, cluster_sizes
    from .scoring import count_clusters, sample_silhouette
    from .shared import SILHOUETTE_SAMPLE, euclidean_matrix

    algorithm = get_algorithm(canonical_algorithm_name(args.algorithm))
    params = parse_params(args.param)
    out = os.path.abspath(args.out) if args.out else None
    if out:
        _check_out_free(out, args.overwrite)
    X, paths = _load(args.input, args.under)
    estimator = _build(algorithm, params, args.device, args.seed)
    start = time.perf_counter()
    estimator = _fit(estimator, params, X)
    seconds = time.perf_counter() - start
    labels = np.asarray(backend.to_numpy(estimator.labels_)).astype(np.int64).reshape(-1)
    sizes, noise = cluster_sizes(labels)
    rows = np.random.RandomState(0).choice(X.shape[0], min(X.shape[0], SILHOUETTE_SAMPLE),
                                           replace=False)
    silhouette = sample_silhouette(euclidean_matrix(X[np.sort(rows)]), labels[np.sort(rows)])
    n_clusters = count_clusters(labels)
    print(f"{algorithm.name} on {args.input}: {fmt.counted(X.shape[0], 'row')} x "
          f"{fmt.counted(X.shape[1], 'feature')}")
    print(f"parameters: {_parameters_line(estimator, params)}")
    print(f"n_clusters: {n_clusters}")
    print(f"noise: {noise} ({fmt.percent(noise / X.shape[0])})")
    print(_sizes_line(sizes))
    print("silhouette (Euclidean, sample of up to "
          f"{SILHOUETTE_SAMPLE:,} rows): {fmt.number(silhouette)}"
          + (" (undefined: it needs at least 2 clusters, noise left out, and fewer "
             "clusters than rows)" if silhouette is None else ""))
    print(f"time: {fmt.duration(seconds)}")
    if n_clusters == 0 and noise == X.shape[0]:
        print(_all_noise_hint(algorithm.name, estimator.get_params()))
    if out:
        os.makedirs(out, exist_ok=True)
        _write_labels(os.path.join(out, "labels.npy"), labels)
        _write_json(os.path.join(out, "info.json"), {
            "algorithm": algorithm.name, "params": params, "source": os.path.abspath(args.input),
            "n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
            "n_clusters": n_clusters, "sizes": sizes, "noise": noise,
            "silhouette": silhouette, "seconds": seconds,
        })
        if paths is not None:
            _write_json(os.path.join(out, "paths.json"), paths)
        print(f"wrote {out}")
    return 0


def _sizes_line(sizes, shown=20):
    """"sizes: label:count, ..." largest first, the first ``shown`` of them; "none" without clusters."""
    if not sizes:
        return "sizes: none (no clusters)"
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])
    more = f", ... ({len(largest) - shown} more)" if len(largest) > shown else ""
    return "sizes: " + ", ".join(f"{k}:{v}" for k, v in largest[:shown]) + more


def _check_out_free(out, overwrite):
    """FileExistsError, before any fitting, when --out holds results and not --overwrite."""
    for name in ("labels.npy", "info.json"):
        if os.path.exists(os.path.join(out, name)) and not overwrite:
            raise FileExistsError(f"{os.path.join(out, name)} exists; pass --overwrite.")


def _build(algorithm, params, device, seed):
    """The algorithm's unfitted estimator; a bad --param is a ValueError naming it.

    When the estimator takes ``random_state`` and ``params`` does not set it,
    it is set to ``seed`` and recorded in ``params`` (so info.json keeps it).
    The estimators raise TypeError, as scikit-learn's do, for a keyword they do
    not take; from the command line that is the user's --param, reported in one
    line rather than a traceback.
    """
    try:
        estimator = algorithm.factory(params, device=device, context=None)
    except TypeError as exc:
        raise ValueError(f"--param: {exc}") from exc
    if "random_state" in _estimator_params(estimator) and "random_state" not in params:
        params["random_state"] = seed
        estimator.set_params(random_state=seed)
    return estimator


def _estimator_params(estimator):
    """``estimator.get_params(deep=False)``, or {} for an estimator without get_params."""
    get_params = getattr(estimator, "get_params", None)
    return get_params(deep=False) if callable(get_params) else {}


# Parameters that say where or how verbosely an estimator runs, not what it computes.
_PLUMBING_PARAMS = ("device", "output_type", "context", "cache", "verbose", "copy", "copy_x",
                    "n_jobs")


def _parameters_line(estimator, params):
    """The parameters in effect, defaults included (``n_clusters=8, random_state=0``);
    for an estimator without get_params, those given with --param."""
    effective = _estimator_params(estimator) or params
    shown = {key: value for key, value in effective.items() if key not in _PLUMBING_PARAMS}
    return fmt.params(shown, hidden=()) or "the estimator's defaults"


def _fit(estimator, params, X):
    """``estimator`` fitted on X; a --param of the wrong type is a ValueError naming it.

    The estimators raise TypeError, as scikit-learn's do, for a parameter of the
    wrong type; from the command line that is the user's --param, reported in
    one line rather than a traceback.
    """
    try:
        return estimator.fit(X)
    except TypeError as exc:
        if not any(name in str(exc) for name in params):
            raise
        raise ValueError(f"--param: {exc}") from exc


def _all_noise_hint(name, params):
    """What to change when every point came out as noise, in the algorithm's terms."""
    lead = "every point was labelled noise, so there are no clusters: "
    if name == "hdbscan":
        size = params.get("min_cluster_size")
        samples = params.get("min_samples")
        samples = f"now {samples}" if samples is not None else "it defaults to min_cluster_size"
        return (lead + f"try a smaller min_cluster_size (now {size}, e.g. --param "
                f"min_cluster_size={max(2, int(size) // 2)}) or a smaller min_samples "
                f"({samples}).")
    if name == "dbscan":
        eps, samples = params.get("eps"), params.get("min_samples")
        return (lead + f"try a larger eps (now {eps}, e.g. --param eps={float(eps) * 2:g}) or a "
                f"smaller min_samples (now {samples}).")
    if name == "optics":
        return (lead + f"try a smaller min_samples (now {params.get('min_samples')}) or "
                f"min_cluster_size (now {params.get('min_cluster_size')}), or a larger max_eps "
                f"(now {params.get('max_eps')}).")
    return lead + "try other parameters (--param KEY=VALUE) or another --algorithm."


def cmd_auto(args):
    """Run the automatic search on INPUT, print the ranking and write OUT."""
    from .candidates import canonical_algorithm_name
    from .inputs import load_labels
    from .scoring import describe_weights
    from .search import search

    if args.n_trials is not None and args.search != "optuna":
        raise ValueError("--n-trials counts the trials of --search optuna; the grid search "
                         "tries the mode's candidates: add --search optuna or leave --n-trials "
                         "out.")
    X, paths = _load(args.input, args.under)
    labels = None
    if args.labels:
        labels = load_labels(args.labels, n_samples=X.shape[0])
    out = os.path.abspath(args.out)
    if os.path.isdir(out) and os.listdir(out) and not args.overwrite:
        # Refuse before the (long) search rather than after it.
        raise FileExistsError(f"{out} is not empty; choose another folder or pass --overwrite.")
    algorithms = [canonical_algorithm_name(name) for name in args.algorithm]
    result = search(X, algorithms=algorithms or None, mode=args.mode,
                    target_cluster_size=args.target_cluster_size,
                    min_clusters=args.min_clusters, max_clusters=args.max_clusters,
                    top=args.top, labels=labels, time_budget=args.time_budget,
                    random_state=args.seed, device=args.device, search=args.search,
                    n_trials=args.n_trials, weights=args.ranking, progress=not args.quiet)
    result.data["source"] = os.path.abspath(args.input)
    print(f"{fmt.counted(X.shape[0], 'row')} x {fmt.counted(X.shape[1], 'feature')}, geometry "
          f"{result.data['metric']}; {fmt.counted(len(result.candidates), 'candidate')} in "
          f"{fmt.duration(result.timings['total'])}"
          + (" (time budget reached)" if result.cut_short else ""))
    print(f"ranked by {describe_weights(result.weights)}")
    print(result.table() if result.ranking else "No candidate was ranked.")
    result.save(out, overwrite=args.overwrite, paths=paths)
    print(f"results: {out}")
    return 0


def _positive_seconds(text):
    """A --time-budget value: a number of seconds > 0, refused by argparse (naming the option)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def _under_arg(parser):
    parser.add_argument("--under", action="append", default=[], metavar="FOLDER",
                        help="cluster only the store's images under FOLDER (repeatable); a "
                             "store holds every collection embedded with the same model")


def _device_arg(parser):
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where the estimators compute (default: auto)")


def register(subparsers):
    """Add the `cluster` and `auto` sub-commands to an argparse subparsers object."""
    from .._arguments import positive_int
    from .candidates import algorithm_names
    from .scoring import MODE_HELP, PRESETS, RANKING_HELP

    cluster = subparsers.add_parser(
        "cluster", help="fit one clustering algorithm on vectors (store, .npy, .csv, .parquet)",
        description="Fit one registered clustering algorithm on the vectors of INPUT and print "
                    "the parameters in effect, the number of clusters, their sizes, the noise "
                    "and a sampled silhouette. With --out, also write labels.npy and info.json "
                    "there.")
    cluster.add_argument("input", help="embedding store folder, .npy, .csv or .parquet")
    cluster.add_argument("--algorithm", required=True,
                         help="a registered algorithm (case and '-'/'_' ignored): "
                              + ", ".join(algorithm_names()))
    cluster.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                         help="an estimator parameter (repeatable), e.g. n_clusters=8")
    cluster.add_argument("--seed", type=int, default=0,
                         help="random_state of an estimator that takes one (a --param "
                              "random_state=... wins); same seed, same result "
                              "(default: %(default)s)")
    cluster.add_argument("--out", help="folder for labels.npy and info.json (default: none, "
                                       "only print)")
    cluster.add_argument("--overwrite", action="store_true",
                         help="replace labels.npy/info.json in --out")
    _under_arg(cluster)
    _device_arg(cluster)
    cluster.set_defaults(func=cmd_cluster)

    auto = subparsers.add_parser(
        "auto", help="search algorithms and settings, rank them and write the results",
        description="Try several clustering algorithms and settings on the vectors of INPUT, "
                    "rank the groupings and print the ranking. The best --top groupings are "
                    "written to --out: summary.json and one rank_* folder each (labels.npy, "
                    "info.json), read by `gpucluster organize` and `gpucluster report`.")
    auto.add_argument("input", help="embedding store folder, .npy, .csv or .parquet")
    auto.add_argument("--out", required=True, help="results folder (summary.json, rank_*/)")
    auto.add_argument("--mode", choices=["fast", "balanced", "thorough"], default="fast",
                      help=MODE_HELP + " (default: %(default)s)")
    auto.add_argument("--top", type=positive_int, default=5,
                      help="how many of the best-ranked results to keep (default: %(default)s)")
    auto.add_argument("--algorithm", action="append", default=[],
                      help="limit the search to this algorithm (repeatable)")
    auto.add_argument("--target-cluster-size", type=int, default=None,
                      help="the group size you expect: centres the k and min_cluster_size grids")
    auto.add_argument("--min-clusters", type=int, default=None,
                      help="skip groupings with fewer clusters")
    auto.add_argument("--max-clusters", type=int, default=None,
                      help="skip groupings with more clusters")
    auto.add_argument("--time-budget", type=_positive_seconds, default=None,
                      help="seconds for the whole search, checked between candidates; the "
                           "candidates not started by then are skipped (default: no limit)")
    auto.add_argument("--seed", type=int, default=0,
                      help="random seed of the search; same seed, same result")
    auto.add_argument("--labels", help="true labels (.npy) for ARI/AMI/V-measure")
    auto.add_argument("--overwrite", action="store_true",
                      help="replace summary.json, paths.json and rank_* folders in --out")
    auto.add_argument("--ranking", choices=list(PRESETS), default="default",
                      help=RANKING_HELP)
    auto.add_argument("--search", choices=["grid", "optuna"], default="grid",
                      help="'grid' tries the mode's candidates; 'optuna' samples settings "
                           "(needs optuna installed)")
    auto.add_argument("--n-trials", type=int, default=None,
                      help="trials of the optuna search (default: 12 fast, 40 balanced, 100 thorough)")
    auto.add_argument("--quiet", action="store_true", help="no progress bar")
    _under_arg(auto)
    _device_arg(auto)
    auto.set_defaults(func=cmd_auto)
    return subparsers


"""Automatic clustering: try many algorithms and settings, score each, rank them.

:func:`search` builds the shared pieces once (:mod:`.shared`), asks every
registered algorithm for its candidate settings (:mod:`.candidates`), fits
them one after another (grid) or lets Optuna choose them (``search="optuna"``),
then runs the partitional methods' follow-ups at the cluster counts that the
density methods found (:func:`suggested_ks`), scores every labelling the same way (:mod:`.scoring`) and returns a
:class:`~gpucluster.auto.results.SearchResult`.

Candidate statuses:

- "ok": fitted, between ``min_clusters`` and ``max_clusters`` clusters, ranked;
- "skipped": fewer than 2 clusters, outside ``[min_clusters, max_clusters]``,
  more than ``FRAGMENTED_FACTOR`` times the central guess of k when
  ``max_clusters`` is not given (too fragmented), a wrapper's
  :class:`~gpucluster.auto.candidates.SkipCandidate`, or not run because the
  time budget was spent; never ranked (scores are reported when computed);
- "failed": the estimator raised; ``error`` holds the message.

Warnings raised while a candidate is fitted (a KMeans that finds fewer
distinct points than clusters, say) are not printed mid-search: they go
into that candidate's record as "warnings", one line each.

A candidate's "seconds" are its own fit and scoring: a piece built once for
several candidates (the PCA, the neighbour graph, the Ward tree, HDBSCAN's
spanning trees, FINCH's partitions) is timed once in ``timings["shared"]``
(:meth:`~gpucluster.auto.shared.SharedData.shared_piece`), not in the row of
the candidate that happened to need it first.
"""

import hashlib
import numbers
import sys
import time
import warnings

import numpy as np

from .. import _format as fmt
from .. import backend
from .._validation import check_input
from . import candidates as registry
from ._kept_warnings import kept_warnings
from .results import SearchResult
from .scoring import check_weights, count_clusters, noise_fraction, score_labels
from .shared import MODES, SharedData

SEARCHES = ("grid", "optuna")
# Below this many rows the search warns that its scores say little.
FEW_ROWS = 50
# Trials of an Optuna search per mode when n_trials is None.
OPTUNA_TRIALS = {"fast": 12, "balanced": 40, "thorough": 100}
# Objective value of a failed or skipped Optuna trial: below every composite (>= 0).
FAILED_TRIAL_VALUE = -1.0
# How many cluster counts found by the methods that choose their own (the best
# scored first) the partitional methods are run at after the first pass.
FOLLOW_UP_KS = {"fast": 2, "balanced": 3, "thorough": 5}


def _check_count(value, name, minimum=1):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum} or None, got {value!r}.")
    return int(value)


def _check_args(X, labels, mode, target_cluster_size, min_clusters, max_clusters, top,
                time_budget, search, n_trials, algorithms):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}.")
    _check_count(target_cluster_size, "target_cluster_size", 1)
    _check_count(min_clusters, "min_clusters", 2)
    _check_count(max_clusters, "max_clusters", 2)
    _check_count(top, "top", 1)
    _check_count(n_trials, "n_trials", 1)
    if min_clusters and max_clusters and min_clusters > max_clusters:
        raise ValueError(f"min_clusters ({min_clusters}) is above max_clusters ({max_clusters}).")
    if time_budget is not None and (isinstance(time_budget, bool)
                                    or not isinstance(time_budget, numbers.Real)
                                    or not time_budget > 0):
        raise ValueError(f"time_budget must be a number of seconds > 0 or None, got "
                         f"{time_budget!r}.")
    if algorithms is None:
        names = registry.algorithm_names()
    else:
        given = [algorithms] if isinstance(algorithms, str) else list(algorithms)
        if not given:
            raise ValueError("algorithms is empty; pass None for every registered algorithm.")
        # Spelt as the command line takes them ("KMeans", "k-means"), each searched once.
        names = list(dict.fromkeys(registry.canonical_algorithm_name(name) for name in given))
    X = np.asarray(backend.to_numpy(check_input(X, min_samples=3)), dtype=np.float32)
    true_labels = None
    if labels is not None:
        true_labels = np.asarray(backend.to_numpy(labels)).reshape(-1)
        if true_labels.shape[0] != X.shape[0]:
            raise ValueError(f"labels has {fmt.counted(true_labels.shape[0], 'entry', 'entries')} "
                             f"but X has {fmt.counted(X.shape[0], 'row')}.")
    return X, true_labels, names


class _Runner:
    """Fits and scores candidates one by one, keeping every record."""

    def __init__(self, context, weights, true_labels, deadline):
        self.context = context
        self.weights = weights
        self.true_labels = true_labels
        self.deadline = deadline
        self.records = []
        self.labels = {}
        self.cut_short = False
        self._seen = {}

    def out_of_time(self):
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def _record(self, name, params, **fields):
        record = {"id": len(self.records), "algorithm": name, "params": params,
                  "status": "ok", "error": None, "n_clusters": 0, "noise_fraction": 0.0,
                  "seconds": 0.0, "scores": {"composite": None, "silhouette": None,
                                             "balance": None, "noise_penalty": None}}
        record.update(fields)
        self.records.append(record)
        return record

    def skip_unrun(self, name, params):
        self.cut_short = True
        return self._record(name, params, status="skipped",
                            error="not run: the time budget was spent")

    def run(self, name, params):
        """Fit and score one candidate; return its record (a repeat returns the first)."""
        key = (name, repr(sorted(params.items())))
        if key in self._seen:
            return self.records[self._seen[key]]
        algorithm = registry.get_algorithm(name)
        context = self.context
        data = context.data_for(algorithm.data)
        start = (time.perf_counter(), context.shared_seconds())
        try:
            with kept_warnings() as raised:
                estimator = algorithm.factory(dict(params), device=context.compute_device,
                                              context=context)
                estimator.fit(data)
            labels = np.asarray(backend.to_numpy(estimator.labels_)).astype(np.int64).reshape(-1)
            if labels.shape[0] != context.n_samples:
                raise ValueError(f"{name} returned {labels.shape[0]} labels for "
                                 f"{context.n_samples} rows.")
        except registry.SkipCandidate as exc:
            record = self._record(name, params, status="skipped", error=str(exc),
                                  seconds=self._own_seconds(start))
        except Exception as exc:  # a failing candidate must not end the search
            record = self._record(name, params, status="failed",
                                  error=f"{type(exc).__name__}: {exc}",
                                  seconds=self._own_seconds(start))
        else:
            record = self._score(name, params, labels, start)
        if raised:
            record["warnings"] = raised
        self._seen[key] = record["id"]
        return record

    def _score(self, name, params, labels, start):
        context = self.context
        n_clusters = count_clusters(labels)
        low, _ = context.k_bounds()
        high = registry.upper_k(context)
        reason = None
        if n_clusters < 2:
            reason = f"{fmt.counted(n_clusters, 'cluster')}; at least 2 are needed"
        elif n_clusters < low:
            reason = f"{n_clusters} clusters, below min_clusters={low}"
        elif n_clusters > high:
            reason = (f"{n_clusters} clusters, above max_clusters={high}" if context.max_clusters
                      else f"{n_clusters} clusters, more than {registry.FRAGMENTED_FACTOR} x "
                           f"the guess of {context.k_center()} (too fragmented; set "
                           "max_clusters to allow it)")
        record = self._record(name, params, n_clusters=n_clusters,
                              noise_fraction=noise_fraction(labels))
        if reason is None:
            record["scores"] = score_labels(labels, context.sample_index,
                                            context.sample_distances, self.weights,
                                            self.true_labels)
        else:
            record["status"] = "skipped"
            record["error"] = reason
        record["seconds"] = self._own_seconds(start)
        self.labels[record["id"]] = labels
        return record

    def _own_seconds(self, start):
        """Seconds since ``start`` (a ``(perf_counter, shared_seconds)`` pair) less those
        spent meanwhile on shared pieces: a Ward tree or a neighbour graph that every
        candidate of its kind reads is in ``timings["shared"]``, not in the row of the
        candidate that happened to build it."""
        clock, shared = start
        shared_since = self.context.shared_seconds() - shared
        return max(0.0, time.perf_counter() - clock - shared_since)


def partition_key(labels):
    """A fingerprint of a partition that ignores label names: two labelings give the
    same key exactly when they group the rows the same way (noise, -1, kept apart)."""
    labels = np.asarray(labels).reshape(-1)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    canonical = np.argsort(np.argsort(first))[inverse]  # labels renamed by first appearance
    noise = labels < 0
    return hashlib.sha1(canonical.astype(np.int64).tobytes() + noise.tobytes()).hexdigest()


def _rank(records, labels_by_id, top):
    """Ids of the best ``top`` scored candidates, best first, one per distinct partition:
    a candidate that groups the rows exactly as a better one did is marked
    ``duplicate_of`` that one and left out of the ranking."""
    ok = sorted((r for r in records if r["status"] == "ok"),
                key=lambda r: (-r["scores"]["composite"], r["id"]))
    ranking, first_of = [], {}
    for record in ok:
        key = partition_key(labels_by_id[record["id"]])
        if key in first_of:
            record["duplicate_of"] = first_of[key]
            continue
        first_of[key] = record["id"]
        if len(ranking) < top:
            ranking.append(record["id"])
    return ranking


def _candidates_of(runner, name):
    """The algorithm's candidate dicts; a generator that raises is recorded as one failed
    candidate (params {}) instead of ending the search."""
    try:
        return list(registry.get_algorithm(name).candidate_fn(runner.context))
    except Exception as exc:  # a registered generator's bug must not end the search
        runner._record(name, {}, status="failed",
                       error=f"candidate generator: {type(exc).__name__}: {exc}")
        return []


def _grid_plan(runner, names):
    """Candidates of every algorithm, interleaved (each algorithm's first, then seconds...)
    so a time budget still sees every algorithm."""
    lists = [[(name, params) for params in _candidates_of(runner, name)] for name in names]
    plan = []
    for i in range(max((len(lst) for lst in lists), default=0)):
        plan.extend(lst[i] for lst in lists if i < len(lst))
    return plan


class _NoBar:
    """Stands in for a tqdm bar when progress is off or tqdm is not installed."""

    def set_postfix_str(self, text):
        pass

    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress_bar(total, desc, unit, progress):
    if not progress:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)


def _run_grid(runner, context, names, progress):
    _run_plan(runner, _grid_plan(runner, names), "auto search", progress)


def _run_plan(runner, plan, desc, progress):
    """Run ``(name, params)`` pairs in order; once the time budget is spent, record the
    rest as skipped."""
    bar = _progress_bar(len(plan), desc, "candidate", progress)
    try:
        for name, params in plan:
            if runner.out_of_time():
                runner.skip_unrun(name, params)
            else:
                bar.set_postfix_str(name)
                runner.run(name, params)
            bar.update(1)
    finally:
        bar.close()


def suggested_ks(records, count):
    """Up to ``count`` distinct cluster counts of the scored candidates that chose their
    own number of clusters (no ``n_clusters`` parameter), best composite first."""
    found = sorted((r for r in records
                    if r["status"] == "ok" and "n_clusters" not in r["params"]),
                   key=lambda r: (-r["scores"]["composite"], r["id"]))
    ks = []
    for record in found:
        if record["n_clusters"] not in ks:
            ks.append(record["n_clusters"])
    return ks[:count]


def _run_follow_ups(runner, context, names, progress):
    """The second pass: each algorithm's ``follow_up`` candidates at the cluster counts
    the first pass suggested (candidates already tried are not run again)."""
    ks = suggested_ks(runner.records, FOLLOW_UP_KS[context.mode])
    if not ks:
        return
    plan = []
    for name in names:
        follow_up = registry.get_algorithm(name).follow_up
        if follow_up is None:
            continue
        try:
            plan.extend((name, params) for params in follow_up(context, ks))
        except Exception as exc:  # a registered generator's bug must not end the search
            runner._record(name, {}, status="failed",
                           error=f"follow-up generator: {type(exc).__name__}: {exc}")
    if plan:
        _run_plan(runner, plan, "follow-ups", progress)


def _import_optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "search='optuna' needs the optuna package: pip install optuna"
        ) from None
    return optuna


def _run_optuna(runner, context, names, n_trials, progress, time_budget_left):
    optuna = _import_optuna()

    grids = {}
    usable = []
    for name in names:
        grid = _candidates_of(runner, name)
        if grid:
            usable.append(name)
            grids[name] = grid
    if not usable:
        return
    if time_budget_left is not None and time_budget_left <= 0:
        runner.cut_short = True
        return
    bar = _progress_bar(n_trials, "auto search (optuna)", "trial", progress)

    def objective(trial):
        name = trial.suggest_categorical("algorithm", usable)
        algorithm = registry.get_algorithm(name)
        if algorithm.space is not None:
            try:
                params = algorithm.space(trial, context)
            except Exception as exc:  # a registered space's bug must not end the study
                runner._record(name, {}, status="failed",
                               error=f"search space: {type(exc).__name__}: {exc}")
                bar.update(1)
                return FAILED_TRIAL_VALUE
        else:
            index = trial.suggest_int(f"{name}.candidate", 0, len(grids[name]) - 1)
            params = grids[name][index]
        bar.set_postfix_str(name)
        record = runner.run(name, params)
        bar.update(1)
        trial.set_user_attr("candidate", record["id"])
        if runner.out_of_time():
            runner.cut_short = True
            trial.study.stop()
        composite = record["scores"]["composite"]
        return FAILED_TRIAL_VALUE if record["status"] != "ok" or composite is None else composite

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        sampler = optuna.samplers.TPESampler(seed=context.seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=n_trials, timeout=time_budget_left)
        if time_budget_left is not None and len(study.trials) < n_trials:
            runner.cut_short = True
    finally:
        optuna.logging.set_verbosity(verbosity)
        bar.close()


def search(X, algorithms=None, mode="fast", target_cluster_size=None, min_clusters=None,
           max_clusters=None, top=10, weights=None, labels=None, time_budget=None,
           random_state=None, device="auto", search="grid", n_trials=None, metric="auto",
           progress=True):
    """Try clustering algorithms and settings on X; score, rank and return them.

    Parameters
    ----------
    X : array (n_samples, n_features), float; NumPy, CuPy, torch or array-API
        Copied to the host as float32 once; shared pieces are computed there.
    algorithms : str, list of str or None
        Registered names (``candidates.algorithm_names()``), case and '-'/'_'
        ignored ("KMeans", "k-means"; :func:`candidates.canonical_algorithm_name`);
        None: all.
    mode : {"fast", "balanced", "thorough"}
        How many candidates each algorithm proposes (see ``candidates``).
    target_cluster_size : int or None
        Wanted average cluster size; the central guess of k is n / it
        (sqrt(n / 2) without it).
    min_clusters, max_clusters : int or None
        Labellings outside these bounds are "skipped", not ranked.
    top : int
        Length of the ranking.
    weights : dict, str or None
        Composite weights (:func:`scoring.check_weights`): a dict, or a preset
        name, "default" (silhouette 0.8, noise 0.2, the default), "balance"
        (silhouette 0.3, balance 0.4, noise 0.3: rewards even group sizes) or
        "legacy" (0.5 / 0.3 / 0.2, the earlier default).
    labels : array (n_samples,) or None
        True labels: ARI, AMI and V-measure are reported (ranked on only when
        ``weights`` names them).
    time_budget : float or None
        Seconds for the whole search. Checked between candidates (a running
        fit is not interrupted) and passed to Optuna's timeout; when it runs
        out the remaining candidates are "skipped" and ``cut_short`` is True.
    random_state : int, RandomState or None
        Seeds the silhouette sample, the PCA subsample and every estimator.
    device : {"auto", "cpu", "cuda"}
        Where the estimators compute.
    search : {"grid", "optuna"}
        Every candidate in turn, or an Optuna TPE study of ``n_trials``.
    n_trials : int or None
        Optuna trials (``OPTUNA_TRIALS[mode]`` when None).
    metric : {"auto", "euclidean", "cosine"}
        Geometry (:func:`shared.resolve_metric`): cosine normalises the rows
        and then uses the Euclidean distance on the unit sphere.
    progress : bool
        A tqdm bar (stderr) over candidates.

    Returns
    -------
    SearchResult

    Raises
    ------
    ValueError
        For a bad argument or unknown algorithm.
    ImportError
        For ``search="optuna"`` without optuna installed.
    """
    began = time.perf_counter()
    settings = {
        "algorithms": None if algorithms is None else (
            [algorithms] if isinstance(algorithms, str) else list(algorithms)),
        "mode": mode, "target_cluster_size": target_cluster_size,
        "min_clusters": min_clusters, "max_clusters": max_clusters, "top": top,
        "weights": weights, "labels_given": labels is not None, "time_budget": time_budget,
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "object",
        "device": device, "search": search, "n_trials": n_trials, "metric": metric,
    }
    X, true_labels, names = _check_args(X, labels, mode, target_cluster_size, min_clusters,
                                        max_clusters, top, time_budget, search, n_trials,
                                        algorithms)
    weights = check_weights(weights, has_labels=true_labels is not None)
    if X.shape[0] < FEW_ROWS:
        warnings.warn(
            f"Searching {X.shape[0]} rows: with fewer than {FEW_ROWS} the scores (silhouette "
            "on a handful of points) say little, and most candidates make one cluster or "
            "one per row.", UserWarning, stacklevel=2)
    if search == "optuna":
        _import_optuna()
    deadline = None if time_budget is None else began + float(time_budget)
    context = SharedData(X, metric=metric, mode=mode, random_state=random_state, device=device,
                         target_cluster_size=target_cluster_size, min_clusters=min_clusters,
                         max_clusters=max_clusters)
    runner = _Runner(context, weights, true_labels, deadline)
    search_start = time.perf_counter()
    shared_before_search = context.shared_seconds()
    if search == "grid":
        _run_grid(runner, context, names, progress)
    else:
        trials = n_trials or OPTUNA_TRIALS[mode]
        left = None if deadline is None else max(0.0, deadline - time.perf_counter())
        _run_optuna(runner, context, names, trials, progress, left)
    _run_follow_ups(runner, context, names, progress)
    search_seconds = time.perf_counter() - search_start
    ranking = _rank(runner.records, runner.labels, top)
    shared_timings = dict(context.timings)
    data = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
            "metric": context.metric, "source": None, **context.describe()}
    # The search's own time: the shared pieces built during it (the PCA, the graph, the
    # trees) are reported under "shared" alone.
    shared_during_search = context.shared_seconds() - shared_before_search
    timings = {"shared": shared_timings,
               "search": max(0.0, search_seconds - shared_during_search),
               "total": time.perf_counter() - began}
    settings["algorithms_searched"] = names
    settings["seed"] = context.seed
    return SearchResult(candidates=runner.records, ranking=ranking, cut_short=runner.cut_short,
                        data=data, settings=settings, timings=timings, weights=weights,
                        labels_by_candidate=runner.labels)


"""Tuning a segmentation: feature sets, segment counts and algorithms, ranked by the search's scores.

``search_segmentation`` segments one image once per setting (``segment_one``
of ``gpucluster.segment.batch``: KMeans on every pixel, DBSCAN/HDBSCAN on a
shrunk copy, SLIC merged to n regions) and ranks the label maps as
``auto.search`` ranks candidates: the composite of ``auto.scoring`` (by
default ``0.8 * (silhouette + 1) / 2 + 0.2 * (1 - noise fraction)``).

Every setting is scored in one space, whatever features it clustered: the
pixels' ``score_features`` (their Lab colour by default, standardised), with
the silhouette on one fixed sample of pixels shared by every setting.
Silhouettes computed in each setting's own feature space could not be
compared: a setting would win by choosing the space it scores in. Colour
alone, not colour and position, because position rewards cutting one region
into pieces: on a generated image of four coloured shapes, scored on Lab + XY
the first rank is a KMeans cut into 6 (ARI 0.55 against the shapes, the
4-segment Lab setting at ARI 1.0 fifth); scored on Lab, that setting is first.

Settings are tried one after another (``search="grid"``: every feature set
with every count and algorithm) or chosen by Optuna (``search="optuna"``,
``n_trials`` settings), as in ``auto.search``.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..segment import pixel_features
from ..segment._image import load_image
from ..segment.batch import ALGORITHMS, segment_one
from ..segment.features import check_features
from ._kept_warnings import kept_warnings
from .candidates import canonical_algorithm_name
from .scoring import check_weights, describe_weights, score_labels
from .search import _import_optuna, _progress_bar
from .shared import euclidean_matrix

# Feature sets tried by default: colour alone, colour with position, and
# colour with edges or texture (the hand-built matrices of pixel-clustering
# notebooks).
DEFAULT_FEATURE_SETS = (("lab",), ("lab", "xy"), ("rgb", "xy"), ("lab", "xy", "sobel"),
                        ("lab", "texture"))
DEFAULT_N_SEGMENTS = (2, 3, 4, 6, 8, 12)
SCORE_FEATURES = ("lab",)
# Pixels in the shared silhouette sample (its distance matrix is this squared).
SCORE_SAMPLE = 3000
SEARCHES = ("grid", "optuna")
DENSITY_ALGORITHMS = ("dbscan", "hdbscan")
BAR_TITLE = "segmentation search"


@dataclass
class SegmentationSearch:
    """What ``search_segmentation`` tried and how it ranked them.

    Attributes
    ----------
    candidates : list of dict
        One per setting tried: "id", "algorithm", "features" (list of str),
        "n_segments" (asked), "status" ("ok" or "failed"), "error",
        "segments" (found), "scores" ("composite", "silhouette", "balance",
        "noise_penalty", the segmentation's own "calinski_harabasz" and
        "davies_bouldin" in its feature space, and "ARI"/"AMI"/"V-measure"
        with a true label map), "seconds", and "warnings" (one line per warning
        its fit raised; only when it raised any).
    ranking : list of int, candidate ids best first (failed ones left out)
    best : Segmentation of rank 1
    criterion : str, the composite's formula
    score_features : tuple of str, the space every setting was scored in
    """

    candidates: list
    ranking: list
    best: object
    criterion: str
    score_features: tuple
    settings: dict = field(default_factory=dict)

    def table(self, top=10):
        """The first ``top`` ranked candidates as JSON-ready dicts (rank added)."""
        by_id = {c["id"]: c for c in self.candidates}
        return [dict(by_id[i], rank=r) for r, i in enumerate(self.ranking[:top], start=1)]

    def summary(self, top=10):
        """JSON-ready dict: criterion, score space, settings, counts and the top of the ranking."""
        return {"criterion": self.criterion, "score_features": list(self.score_features),
                "settings": self.settings, "tried": len(self.candidates),
                "failed": sum(c["status"] != "ok" for c in self.candidates),
                "ranking": self.table(top)}


def _check_grid(feature_sets, n_segments, algorithms):
    feature_sets = DEFAULT_FEATURE_SETS if feature_sets is None else feature_sets
    if isinstance(feature_sets, str) or not feature_sets:
        raise ValueError("feature_sets must be a non-empty list of feature tuples, "
                         "e.g. [('lab',), ('lab', 'xy')].")
    feature_sets = [tuple([fs] if isinstance(fs, str) else fs) for fs in feature_sets]
    for features in feature_sets:
        check_features(features)
    n_segments = DEFAULT_N_SEGMENTS if n_segments is None else n_segments
    n_segments = [n_segments] if isinstance(n_segments, int) else list(n_segments)
    if not n_segments or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2
                             for k in n_segments):
        raise ValueError(f"n_segments must be integers >= 2, got {n_segments!r}.")
    algorithms = [algorithms] if isinstance(algorithms, str) else list(algorithms)
    if not algorithms:
        raise ValueError(f"algorithms must be a non-empty list among {ALGORITHMS}.")
    # Spelt as `auto.search` takes them: case and '-'/'_' ignored, each tried once.
    algorithms = list(dict.fromkeys(canonical_algorithm_name(a, ALGORITHMS) for a in algorithms))
    return feature_sets, [int(k) for k in n_segments], algorithms


class _Scorer:
    """Scores label maps (H, W) in one feature space, on one fixed pixel sample."""

    def __init__(self, image, score_features, weights, true_labels, random_state):
        X = backend.to_numpy(pixel_features(image, score_features)).astype(np.float32)
        rng = np.random.default_rng(random_state)
        m = min(SCORE_SAMPLE, X.shape[0])
        self.sample_index = np.sort(rng.choice(X.shape[0], size=m, replace=False))
        self.sample_distances = euclidean_matrix(X[self.sample_index])
        self.weights = weights
        self.true_labels = None if true_labels is None else np.asarray(
            backend.to_numpy(true_labels)).reshape(-1)

    def __call__(self, label_map):
        labels = np.asarray(backend.to_numpy(label_map)).reshape(-1).astype(np.int64)
        return score_labels(labels, self.sample_index, self.sample_distances, self.weights,
                            self.true_labels)


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class _Runner:
    """Runs one setting, records it, and keeps the best segmentation so far."""

    def __init__(self, image, scorer, options):
        self.image, self.scorer, self.options = image, scorer, options
        self.candidates, self.segmentations = [], {}

    def run(self, algorithm, features, n_segments):
        record = {"id": len(self.candidates), "algorithm": algorithm, "features": list(features),
                  "n_segments": n_segments, "status": "ok", "error": None, "segments": None,
                  "scores": {"composite": None}, "seconds": None}
        self.candidates.append(record)
        start = time.perf_counter()
        try:
            with kept_warnings() as raised:
                result = segment_one(self.image, algorithm=algorithm, features=features,
                                     n_segments=n_segments, **self.options)
            scores = self.scorer(result.labels)
        except (ValueError, ArithmeticError, MemoryError) as error:
            record.update(status="failed", error=f"{type(error).__name__}: {error}")
        else:
            scores.update({k: _clean(result.scores.get(k))
                           for k in ("calinski_harabasz", "davies_bouldin")})
            record.update(segments=result.n_segments, scores=scores)
            self.segmentations[record["id"]] = result
        if raised:
            record["warnings"] = raised
        record["seconds"] = time.perf_counter() - start
        return record

    def ranking(self):
        ok = [c for c in self.candidates if c["status"] == "ok"]
        ok.sort(key=lambda c: (-c["scores"]["composite"], c["id"]))
        return [c["id"] for c in ok]


def _run_grid(runner, plan, progress):
    bar = _progress_bar(len(plan), BAR_TITLE, "setting", progress)
    try:
        for algorithm, features, k in plan:
            runner.run(algorithm, features, k)
            bar.update(1)
    finally:
        bar.close()


def _run_optuna(runner, feature_sets, n_segments, algorithms, n_trials, random_state, progress):
    optuna = _import_optuna()
    names = [" ".join(fs) for fs in feature_sets]
    low, high = min(n_segments), max(n_segments)
    bar = _progress_bar(n_trials, BAR_TITLE, "setting", progress)

    def objective(trial):
        algorithm = trial.suggest_categorical("algorithm", algorithms)
        features = feature_sets[names.index(trial.suggest_categorical("features", names))]
        k = trial.suggest_int("n_segments", low, high) if low < high else low
        record = runner.run(algorithm, features, k)
        bar.update(1)
        composite = record["scores"]["composite"]
        return -1.0 if composite is None else composite

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=random_state))
        study.optimize(objective, n_trials=n_trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
        bar.close()


def search_segmentation(image, *, feature_sets=None, n_segments=None, algorithms=("kmeans",),
                        score_features=SCORE_FEATURES, weights=None, search="grid", n_trials=20,
                        labels=None, random_state=0, device="auto", progress=False, **options):
    """Segment ``image`` with every setting and rank the results, best first.

    Parameters
    ----------
    image : array (H, W) or (H, W, C) of any backend, a path, or a PIL image
    feature_sets : list of tuples of feature names, default ``DEFAULT_FEATURE_SETS``
    n_segments : int or list of int >= 2, default ``DEFAULT_N_SEGMENTS``
        Segments asked of each setting (KMeans clusters, SLIC regions; the
        density algorithms find their own number, so for them it only names
        the setting).
    algorithms : str or list among "kmeans", "dbscan", "hdbscan", "slic"
        (case and '-'/'_' ignored: "KMeans", "HDBSCAN")
    score_features : tuple of feature names
        The space every setting is scored in (see the module docstring).
    weights : None, a preset name or a dict, as ``auto.search``'s ``weights``
        (true-label scores such as "ARI" only with ``labels``).
    search : {"grid", "optuna"}
        Every combination in turn, or ``n_trials`` chosen by Optuna's TPE
        sampler (needs optuna; ``n_segments`` then spans its min..max).
    labels : array (H, W) of int or None
        A true label map: ARI, AMI and V-measure are reported per setting.
    random_state : int, the seed of the score sample, KMeans and Optuna
    device : "auto", "cpu" or "cuda", where each setting computes
    progress : bool, a progress bar on stderr
    **options
        Passed to ``segment_one`` (weights of feature groups as
        ``feature_weights``, scale, downsample, sample, superpixels, ...).

    Returns
    -------
    SegmentationSearch

    Raises
    ------
    ValueError
        A bad grid or option, or no setting succeeded (the errors are named).
    ImportError
        ``search="optuna"`` without optuna.
    """
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}.")
    if search == "optuna" and (isinstance(n_trials, bool) or not isinstance(n_trials, int)
                               or n_trials < 1):
        raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}.")
    feature_sets, n_segments, algorithms = _check_grid(feature_sets, n_segments, algorithms)
    score_features = tuple(score_features)
    check_features(score_features)
    weights = check_weights(weights, has_labels=labels is not None)
    image = load_image(image)
    if labels is not None and tuple(np.shape(backend.to_numpy(labels))) != tuple(image.shape[:2]):
        raise ValueError(f"labels must have the image's shape {tuple(image.shape[:2])}, "
                         f"got {tuple(np.shape(backend.to_numpy(labels)))}.")
    feature_weights = options.pop("feature_weights", None)
    options = dict(options, weights=feature_weights, random_state=random_state, device=device)
    runner = _Runner(image, _Scorer(image, score_features, weights, labels, random_state), options)
    if search == "grid":
        # The density algorithms find their own number of segments: one setting per feature set.
        plan = [(a, fs, k) for a in algorithms for fs in feature_sets
                for k in (n_segments[:1] if a in DENSITY_ALGORITHMS else n_segments)]
        _run_grid(runner, plan, progress)
    else:
        _run_optuna(runner, feature_sets, n_segments, algorithms, n_trials, random_state, progress)
    ranking = runner.ranking()
    if not ranking:
        errors = sorted({c["error"] for c in runner.candidates})
        raise ValueError("no setting could segment the image: " + "; ".join(errors))
    settings = {"search": search, "algorithms": algorithms,
                "feature_sets": [list(fs) for fs in feature_sets], "n_segments": n_segments,
                "random_state": random_state}
    return SegmentationSearch(runner.candidates, ranking, runner.segmentations[ranking[0]],
                              describe_weights(weights), score_features, settings)

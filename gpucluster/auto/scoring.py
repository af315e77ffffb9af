"""The composite score of a candidate labelling: silhouette, size balance and noise.

Every component lies in [0, 1], higher is better:

- silhouette component ``(s + 1) / 2``, where ``s`` is the mean silhouette
  coefficient on the shared sample (:class:`~gpucluster.auto.shared.SharedData`),
  noise points left out (both as points and as a cluster), Euclidean distance
  on the working data (unit rows for the cosine geometry);
- balance component: :func:`gpucluster.metrics.cluster_balance` of all labels,
  the normalised entropy of the cluster sizes, noise left out;
- noise component ``1 - noise_fraction`` (the fraction of rows labelled -1).

``composite = sum_i weights[i] * component_i``. The default weights
(``PRESETS["default"]``) are silhouette 0.8 and noise 0.2, balance 0: on the
search-quality benchmark (``benchmarks/search_quality.py``, twelve labelled
sets) they put a candidate within 0.05 ARI of the best one first on every
set, where the earlier 0.5 / 0.3 / 0.2 weighting with balance did so on 8 of
12, ranking even KMeans splits above the right grouping whenever the true
groups have very unequal sizes. Balance stays available as a preset. The reported scores carry the
raw values: ``silhouette`` (``s`` in [-1, 1]), ``balance`` (in [0, 1]) and
``noise_penalty`` (the noise fraction, in [0, 1], that the noise component
subtracts from 1). With true labels, ``ARI``, ``AMI`` and ``V-measure`` are
reported too; they enter the composite only when ``weights`` names them
(their component is the score itself).
"""

import math
import numbers

import numpy as np

from ..metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    cluster_balance,
    v_measure_score,
)

# Named weightings for ``weights=<name>``: "default" ranks by silhouette with
# noise as its own penalty; "balance" is the 0.3 silhouette / 0.4 balance /
# 0.3 noise weighting of unified image-clustering pipelines, for users who
# want even groups; "legacy" is the weighting the search had until this change.
PRESETS = {
    "default": {"silhouette": 0.8, "balance": 0.0, "noise": 0.2},
    "balance": {"silhouette": 0.3, "balance": 0.4, "noise": 0.3},
    "legacy": {"silhouette": 0.5, "balance": 0.3, "noise": 0.2},
}
DEFAULT_WEIGHTS = PRESETS["default"]
MODE_HELP = ("'fast' tries 15-25 candidates: KMeans (MiniBatchKMeans on large data) at 3 "
             "cluster counts around the central guess (also at 2-10 up to 5,000 rows), Ward "
             "at the guess (up to 20,000 rows), HDBSCAN at 3 cluster sizes with both cluster "
             "selections, DBSCAN, up to 4 FINCH levels, then KMeans and Ward at the cluster "
             "counts the density methods found (about 20 s at 50,000 x 512 on 2 cores); "
             "'balanced' about 3x the candidates; 'thorough' about 10x, adding OPTICS and "
             "3 KMeans restarts")
RANKING_HELP = ("how candidates are ranked: 'default' by silhouette with noise as a penalty; "
                "'balance' also rewards even group sizes (0.3 silhouette, 0.4 balance, "
                "0.3 noise); 'legacy' the earlier 0.5 / 0.3 / 0.2 weighting")
INTERNAL_COMPONENTS = ("silhouette", "balance", "noise")
EXTERNAL_SCORES = ("ARI", "AMI", "V-measure")
_EXTERNAL_FUNCTIONS = {
    "ARI": adjusted_rand_score,
    "AMI": adjusted_mutual_info_score,
    "V-measure": v_measure_score,
}


def check_weights(weights, *, has_labels=False):
    """Validate ``weights`` and return them as a dict of floats.

    None gives :data:`DEFAULT_WEIGHTS`; a name of :data:`PRESETS` ("default",
    "balance", "legacy") gives that weighting. A dict replaces the defaults as a
    whole: components it does not name get weight 0. Keys are "silhouette",
    "balance", "noise" and, when true labels are given, "ARI", "AMI",
    "V-measure". Weights are finite and >= 0, at least one > 0.
    """
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if isinstance(weights, str):
        if weights not in PRESETS:
            raise ValueError(f"weights must be one of the presets {tuple(PRESETS)}, a dict or "
                             f"None, got {weights!r}.")
        return dict(PRESETS[weights])
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a dict, a preset name or None, got "
                        f"{type(weights).__name__}.")
    allowed = INTERNAL_COMPONENTS + EXTERNAL_SCORES
    out = {name: 0.0 for name in INTERNAL_COMPONENTS}
    for key, value in weights.items():
        if key not in allowed:
            raise ValueError(f"weights has an unknown key {key!r}; allowed: {allowed}.")
        if key in EXTERNAL_SCORES and not has_labels:
            raise ValueError(f"weights names {key!r}, which needs the true labels (labels=...).")
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0:
            raise ValueError(f"weights[{key!r}] must be a finite number >= 0, got {value!r}.")
        out[key] = float(value)
    if not any(v > 0 for v in out.values()):
        raise ValueError(f"At least one weight must be > 0, got {weights!r}.")
    return out


_COMPONENT_TEXT = {"silhouette": "(silhouette + 1) / 2", "balance": "balance",
                   "noise": "(1 - noise fraction)"}


def describe_weights(weights):
    """The ranking criterion in words: its formula and preset name, for people.

    ``{"silhouette": 0.8, "balance": 0.0, "noise": 0.2}`` reads
    ``composite = 0.8 x (silhouette + 1) / 2 + 0.2 x (1 - noise fraction) (preset "default")``;
    weights that match no preset are "custom".
    """
    weights = {k: float(v) for k, v in (weights or {}).items()}
    terms = [f"{v:g} x {_COMPONENT_TEXT.get(k, k)}" for k, v in weights.items() if v > 0]
    full = {name: weights.get(name, 0.0) for name in INTERNAL_COMPONENTS}
    full.update({k: v for k, v in weights.items() if k not in full and v > 0})
    preset = next((name for name, values in PRESETS.items() if values == full), None)
    return (f"composite = {' + '.join(terms) or '0'} "
            + (f'(preset "{preset}")' if preset else "(custom weights)"))


def sample_silhouette(distances, labels):
    """Mean silhouette coefficient from a precomputed distance matrix, noise left out.

    Parameters
    ----------
    distances : ndarray (m, m), float32 or float64, NumPy
        Distances between the sample rows, zero diagonal.
    labels : ndarray (m,), int
        Labels of the sample rows; -1 is noise and is left out.

    Returns
    -------
    float in [-1, 1], or None when fewer than two clusters (or fewer than
    three points) remain without noise: the coefficient is undefined there.
    A point alone in its cluster has coefficient 0, as in scikit-learn.
    """
    labels = np.asarray(labels).reshape(-1)
    keep = np.flatnonzero(labels >= 0)
    if keep.size < 3:
        return None
    uniques, codes = np.unique(labels[keep], return_inverse=True)
    n_labels = uniques.shape[0]
    if not 1 < n_labels < keep.size:
        return None
    counts = np.bincount(codes, minlength=n_labels).astype(np.float64)
    # One-hot over all sample rows, zero for noise rows, so noise columns drop
    # out of the sums without copying the kept columns of the matrix. The
    # product runs in the matrix's dtype (float32 for large samples: sums of
    # at most 10,000 distances, relative error ~1e-6) and is kept in float64.
    one_hot = np.zeros((labels.shape[0], n_labels), dtype=distances.dtype)
    one_hot[keep, codes] = 1
    all_kept = keep.size == labels.shape[0]
    sums = np.empty((keep.size, n_labels), dtype=np.float64)
    chunk = max(1, (1 << 26) // max(1, distances.shape[1] * distances.itemsize))
    for start in range(0, keep.size, chunk):
        stop = min(keep.size, start + chunk)
        block = distances[start:stop] if all_kept else distances[keep[start:stop]]
        sums[start:stop] = block @ one_hot
    own = codes[:, None] == np.arange(n_labels)[None, :]
    intra = sums[np.arange(keep.size), codes]
    others = counts[codes] - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(others > 0, intra / np.where(others > 0, others, 1.0), 0.0)
        b = np.min(np.where(own, np.inf, sums / counts[None, :]), axis=1)
        largest = np.maximum(a, b)
        defined = (others > 0) & (largest > 0)
        values = np.where(defined, (b - a) / np.where(defined, largest, 1.0), 0.0)
    return float(np.mean(values))


def noise_fraction(labels):
    """Fraction of labels equal to -1 (float in [0, 1])."""
    labels = np.asarray(labels).reshape(-1)
    return float(np.count_nonzero(labels < 0)) / max(1, labels.shape[0])


def count_clusters(labels):
    """Number of distinct labels >= 0 (noise, -1, not counted)."""
    labels = np.asarray(labels).reshape(-1)
    return int(np.unique(labels[labels >= 0]).shape[0])


def score_labels(labels, sample_index, sample_distances, weights, true_labels=None):
    """Scores of one labelling: the components, the composite and the external indices.

    Parameters
    ----------
    labels : ndarray (n_samples,), int64, -1 = noise (NumPy)
    sample_index : ndarray (m,), int64: the rows of the shared silhouette sample
    sample_distances : ndarray (m, m): distances between those rows
    weights : dict from :func:`check_weights`
    true_labels : ndarray (n_samples,) or None

    Returns
    -------
    dict with "composite", "silhouette", "balance", "noise_penalty" (floats;
    silhouette None when undefined on the sample, counted as -1 in the
    composite) and, with true labels, "ARI", "AMI", "V-measure".
    """
    labels = np.asarray(labels).reshape(-1)
    silhouette = sample_silhouette(sample_distances, labels[sample_index])
    if count_clusters(labels) > 0:
        balance = float(cluster_balance(labels))
    else:
        balance = 0.0
    noise = noise_fraction(labels)
    components = {
        "silhouette": ((silhouette if silhouette is not None else -1.0) + 1.0) / 2.0,
        "balance": balance,
        "noise": 1.0 - noise,
    }
    scores = {"composite": None, "silhouette": silhouette, "balance": balance,
              "noise_penalty": noise}
    if true_labels is not None:
        for name, function in _EXTERNAL_FUNCTIONS.items():
            scores[name] = float(function(true_labels, labels))
            components[name] = scores[name]
    scores["composite"] = float(sum(w * components[name] for name, w in weights.items() if w))
    return scores

"""``segment``: cluster the pixels of one image with any estimator of the scikit-learn API.

The pixels become feature rows (``features.py``); an estimator is fitted on
all of them, on a random sample, or on the pixels of a smaller copy of the
image; then every pixel gets a label, and the result is a ``Segmentation``.
"""

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .. import _format as fmt
from .. import backend, kernels
from ..metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from . import draw
from ._image import float_image, load_image
from ._scaling import GroupScaler
from .features import check_features, check_window, feature_groups
from .labels import compact_labels, segment_means

# Pixels the silhouette is computed on (it costs the square of this).
SCORE_SAMPLE = 10_000


@dataclass
class Segmentation:
    """The result of ``segment`` (or of a label map described by ``describe``).

    Attributes
    ----------
    image : array (H, W) or (H, W, C), the image as loaded
    labels : array (H, W) int32, segments numbered from 0, -1 for noise;
        in the image's namespace and on its device
    mean_colors : array (n_segments, C) float64, each segment's mean colour
        in the image's units (0-255 for uint8)
    sizes : array (n_segments,) int64, pixels per segment
    scores : dict
        "silhouette" (on a sample of ``SCORE_SAMPLE`` pixels),
        "calinski_harabasz" and "davies_bouldin" (on every pixel), computed
        on the scaled features without the noise; NaN with fewer than two
        segments. "calinski_harabasz" is NaN too when no segment has any
        spread (see ``no_spread_within_segments``).
    features : tuple of str, the feature groups
    estimator : the fitted estimator (None for superpixels)
    timings : dict of seconds ("features", "fit", "label", "describe")
    settings : dict, the call's settings, for ``summary``
    no_spread_within_segments : bool
        True when every segment's feature rows are identical, up to the
        features' float rounding (a perfect segmentation of flat regions).
        The Calinski-Harabasz ratio then divides by zero:
        ``gpucluster.metrics`` returns 1.0, scikit-learn's convention, which
        would read as a very poor score, so it is NaN here.
    """

    image: object
    labels: object
    mean_colors: object
    sizes: object
    scores: dict
    features: tuple = ()
    estimator: object = None
    timings: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    no_spread_within_segments: bool = False

    @property
    def n_segments(self):
        """Number of segments (noise not counted)."""
        return int(self.sizes.shape[0])

    def overlay(self, alpha=0.5):
        """Segment colours over the image, uint8 RGB (H, W, 3); see ``draw.overlay``."""
        return draw.overlay(self.image, self.labels, alpha)

    def contours(self):
        """Boundary mask (H, W) bool; see ``draw.contours``."""
        return draw.contours(self.labels)

    def draw_contours(self, color=draw.CONTOUR_COLOR):
        """The image with its boundaries drawn, uint8 RGB (H, W, 3)."""
        return draw.draw_contours(self.image, self.labels, color)

    def quantize(self):
        """Each pixel in its segment's mean colour; the image's shape and dtype."""
        return draw.quantize(self.image, self.labels, self.mean_colors)

    def save(self, out, *, overwrite=False):
        """Write the label map (.npy and PNG), original, overlay, contours, quantised image and
        summary into folder ``out``; see ``draw.save``. Returns {kind: path}."""
        return draw.save(self, out, overwrite=overwrite)

    def summary(self):
        """A JSON-ready dict: shape, segment sizes and mean colours, scores, settings, timings."""
        return {
            "shape": [int(s) for s in self.labels.shape],
            "n_segments": self.n_segments,
            "noise_pixels": int(np.sum(backend.to_numpy(self.labels) < 0)),
            "sizes": backend.to_numpy(self.sizes).astype(int).tolist(),
            "mean_colors": np.round(backend.to_numpy(self.mean_colors), 3).tolist(),
            "scores": {k: (None if math.isnan(v) else v) for k, v in self.scores.items()},
            "no_spread_within_segments": self.no_spread_within_segments,
            "features": list(self.features),
            "estimator": None if self.estimator is None else repr(self.estimator),
            "settings": self.settings,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def scores_text(scores, no_spread_within_segments=False, n_segments=None):
    """The scores as a reader sees them (the command's line, the page's facts):
    "silhouette 0.812, Calinski-Harabasz 1520, Davies-Bouldin 0.431".

    With no spread within segments, Calinski-Harabasz reads
    "n/a (no spread within segments)", not a number. With fewer than two
    segments (``n_segments``) no score is defined, and the text says why.
    """
    if n_segments is not None and n_segments < 2:
        return "no scores (they compare two or more segments)"
    calinski_harabasz = ("n/a (no spread within segments)" if no_spread_within_segments
                         else fmt.number(scores.get("calinski_harabasz")))
    return (f"silhouette {fmt.score(scores.get('silhouette'))}, Calinski-Harabasz "
            f"{calinski_harabasz}, Davies-Bouldin {fmt.score(scores.get('davies_bouldin'))}")


def _no_spread_within(calinski_harabasz, davies_bouldin, n_pixels, n_segments, eps):
    """True when the segments have no spread of their own, beyond the features' rounding.

    Read from the scores, without another pass over the pixels. A within-segment
    dispersion W of exactly zero makes ``calinski_harabasz_score`` return 1.0
    (scikit-learn's convention) and ``davies_bouldin_score`` 0.0 (every spread
    zero); a true ratio of 1 has spread, hence a Davies-Bouldin above 0. Otherwise
    CH gives W's share of the total dispersion,
    ``W / (W + B) = (n - k) / ((n - k) + CH (k - 1))``; identical colours
    whose features differ in the last bits (torch's vectorised loops leave some so)
    give about 1e-17 for float32 features, a single pixel one 8-bit level off in a
    megapixel image about 5e-12: the bound is ``eps ** 2`` of the features' dtype
    (1.4e-14 for float32).
    """
    if calinski_harabasz == 1.0 and davies_bouldin == 0.0:
        return True
    rest = n_pixels - n_segments
    return rest / (rest + calinski_harabasz * (n_segments - 1)) <= eps ** 2


def _scores(X, labels, score_sample, random_state):
    """Silhouette (sampled), Calinski-Harabasz and Davies-Bouldin of the labelled rows of X,
    and whether no segment has any spread (Calinski-Harabasz is then NaN)."""
    xp = backend.namespace(X)
    flat = xp.reshape(labels, (-1,))
    keep = flat >= 0
    nan = {"silhouette": math.nan, "calinski_harabasz": math.nan, "davies_bouldin": math.nan}
    if not bool(xp.all(keep)):
        X, flat = X[keep], flat[keep]
    n = int(flat.shape[0])
    n_labels = int(xp.unique_values(flat).shape[0]) if n else 0
    if not 1 < n_labels < n:
        return nan, False
    try:
        silhouette = float(silhouette_score(X, flat, sample_size=min(score_sample, n),
                                            random_state=random_state))
    except ValueError:  # the sample drew fewer than two segments
        silhouette = math.nan
    calinski_harabasz = float(calinski_harabasz_score(X, flat))
    davies_bouldin = float(davies_bouldin_score(X, flat))
    # With no spread the ratio divides by zero: no number (the metric's 1.0 would read
    # as a very poor score).
    no_spread = _no_spread_within(calinski_harabasz, davies_bouldin, n, n_labels,
                                  float(xp.finfo(X.dtype).eps))
    scores = {"silhouette": silhouette,
              "calinski_harabasz": math.nan if no_spread else calinski_harabasz,
              "davies_bouldin": davies_bouldin}
    return scores, no_spread


def describe(image, labels, X=None, *, features=(), estimator=None, timings=None, settings=None,
             score_sample=SCORE_SAMPLE, random_state=0):
    """A ``Segmentation`` of ``image`` from a label map and the feature rows it was made from.

    Parameters
    ----------
    image : array (H, W) or (H, W, C), loaded (``load_image``)
    labels : array (H, W), integer, -1 for noise; renumbered from 0
    X : array (H * W, n_features) or None
        The features the scores are computed on; None: no scores (NaN).
    """
    start = time.perf_counter()
    labels, n = compact_labels(backend.asarray_like(labels, image))
    values = image if image.ndim == 3 else image[:, :, None]
    if n:
        mean_colors, sizes = segment_means(values, labels, n)
    else:
        xp = backend.namespace(image)
        mean_colors = xp.zeros((0, values.shape[2]), dtype=xp.float64, device=backend.device(image))
        sizes = xp.zeros(0, dtype=xp.int64, device=backend.device(image))
    if X is None:
        scores = {"silhouette": math.nan, "calinski_harabasz": math.nan, "davies_bouldin": math.nan}
        no_spread = False
    else:
        scores, no_spread = _scores(X, labels, score_sample, random_state)
    timings = dict(timings or {})
    timings["describe"] = time.perf_counter() - start
    return Segmentation(image=image, labels=labels, mean_colors=mean_colors, sizes=sizes,
                        scores=scores, features=tuple(features), estimator=estimator,
                        timings=timings, settings=dict(settings or {}),
                        no_spread_within_segments=no_spread)


# --------------------------------------------------------------------------
# Fitting and labelling


def _check_downsample(downsample, shape):
    if downsample is None or downsample == 1:
        return None
    if isinstance(downsample, bool) or not isinstance(downsample, numbers.Integral) or downsample < 1:
        raise ValueError(f"downsample must be an integer factor >= 1 or None, got {downsample!r}.")
    if downsample > min(shape[:2]):
        raise ValueError(
            f"downsample={downsample} is larger than the image's shorter side ({min(shape[:2])})."
        )
    return int(downsample)


def _check_sample(sample, n_pixels):
    """The number of pixels to fit on, or None for all."""
    if sample is None:
        return None
    if isinstance(sample, bool) or not isinstance(sample, numbers.Real):
        raise ValueError(f"sample must be a count >= 1 or a fraction in (0, 1], got {sample!r}.")
    if isinstance(sample, numbers.Integral) and sample >= 1:
        count = int(sample)
    elif 0 < sample <= 1:
        count = int(math.ceil(sample * n_pixels))
    else:
        raise ValueError(f"sample must be a count >= 1 or a fraction in (0, 1], got {sample!r}.")
    return None if count >= n_pixels else count


def block_mean(floats, factor):
    """The image shrunk by ``factor``: the mean of each factor x factor block (the rest cut off)."""
    xp = backend.namespace(floats)
    H, W, C = floats.shape
    h, w = H // factor, W // factor
    blocks = xp.reshape(floats[:h * factor, :w * factor, :], (h, factor, w, factor, C))
    return xp.mean(xp.mean(blocks, axis=3), axis=1)


def _upsample(labels, small_shape, shape, factor):
    """Labels of the shrunk image spread over the full one: each pixel takes its block's label."""
    xp = backend.namespace(labels)
    h, w = small_shape
    labels = xp.reshape(labels, (h, w))
    device = backend.device(labels)
    rows = xp.clip(xp.arange(shape[0], device=device) // factor, 0, h - 1)
    cols = xp.clip(xp.arange(shape[1], device=device) // factor, 0, w - 1)
    return xp.take(xp.take(labels, rows, axis=0), cols, axis=1)


def _is_ours(estimator):
    return type(estimator).__module__.startswith("gpucluster.")


def _for_estimator(X, estimator):
    """gpucluster's estimators take X where it lives; others get NumPy (scikit-learn does not
    read CUDA or array_api_strict arrays without its array-API mode)."""
    return X if _is_ours(estimator) else backend.to_numpy(X)


def _fit_predict(estimator, X):
    if hasattr(estimator, "fit_predict"):
        return estimator.fit_predict(X)
    return estimator.fit(X).labels_


def _label_pixels(estimator, X, X_fit, how, timings):
    """Fit ``estimator`` on X_fit and label every row of X; ``how`` is "all", "sample" or "downsample".

    Fitted on all pixels: the estimator's own labels. Otherwise, in this
    order: ``predict``; the nearest of ``cluster_centers_`` (the ``assign``
    kernel, squared Euclidean); for "downsample", the shrunk image's own
    labels, which the caller spreads over the blocks (the second value
    returned is then True); for "sample", a ValueError (after the fit,
    which is cheap on a sample: ``cluster_centers_`` may only appear there).
    """
    start = time.perf_counter()
    fitted = _for_estimator(X_fit, estimator)
    if how == "all":
        labels = _fit_predict(estimator, fitted)
        timings["fit"] = time.perf_counter() - start
        return labels, False
    can_predict = hasattr(estimator, "predict")
    if can_predict:
        estimator.fit(fitted)
    else:
        fit_labels = _fit_predict(estimator, fitted)
    timings["fit"] = time.perf_counter() - start
    start = time.perf_counter()
    if can_predict:
        labels = estimator.predict(_for_estimator(X, estimator))
    elif hasattr(estimator, "cluster_centers_"):
        xp = backend.namespace(X)
        centers = xp.astype(backend.asarray_like(estimator.cluster_centers_, X), X.dtype)
        labels, _ = kernels.assign(X, centers)
    elif how == "downsample":
        return fit_labels, True
    else:
        raise ValueError(
            f"{type(estimator).__name__} has neither predict nor cluster_centers_, so it cannot "
            "label pixels it was not fitted on: fit it on a downsampled image (downsample=...) "
            "or on every pixel, not on a pixel sample."
        )
    timings["label"] = time.perf_counter() - start
    return labels, False


def segment(image, estimator=None, features=("lab", "xy"), n_segments=8, *, weights=None,
            scale="standard", downsample=None, sample=None, window=7,
            score_sample=SCORE_SAMPLE, random_state=0):
    """Segment an image by clustering its pixels.

    Parameters
    ----------
    image : array (H, W) or (H, W, C), PIL image or path
        uint8, uint16 or float in [0, 1]; NumPy, torch, CuPy or any
        array-API array (see ``load_image``). Work happens where it lives.
    estimator : estimator or None
        Anything with the scikit-learn clustering API (``fit`` with
        ``labels_`` or ``fit_predict``); fitted in place. None:
        ``gpucluster.KMeans(n_segments, random_state=random_state)``.
        gpucluster's estimators receive the features where they live;
        others (scikit-learn's) receive NumPy.
    features : sequence of str
        Feature groups (see ``pixel_features``).
    n_segments : int
        Clusters of the default KMeans; ignored when ``estimator`` is given.
    weights, scale, window
        As in ``pixel_features``; the scaling is fitted on the pixels the
        estimator is fitted on.
    downsample : int or None
        Fit on the image shrunk by this factor (block means). Every pixel
        of the full image is then labelled by ``predict``, else by the
        nearest of ``cluster_centers_``; an estimator with neither (DBSCAN,
        HDBSCAN, AgglomerativeClustering) is fitted on every pixel of the
        shrunk image and each full-size pixel takes the label of its block.
    sample : int, float or None
        Fit on this many pixels (or this fraction), drawn at random; then
        label every pixel as with ``downsample``. Estimators with neither
        ``predict`` nor ``cluster_centers_`` cannot label the rest and are
        refused (ValueError): use ``downsample`` for them.
    score_sample : int
        Pixels the silhouette is computed on.
    random_state : int
        Seed of the default KMeans, the pixel sample and the score sample.

    Returns
    -------
    Segmentation
        Labels (H, W) in the image's namespace and device, mean colours,
        sizes, scores; ``overlay()``, ``contours()``, ``quantize()``, ``save()``.

    Raises
    ------
    ValueError
        For unknown features or scales, a bad ``downsample`` or ``sample``,
        both at once, or an estimator that cannot label unseen pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from gpucluster.segment import segment
    >>> image = np.zeros((20, 30, 3), dtype=np.uint8)
    >>> image[:, 15:] = (230, 40, 40)
    >>> result = segment(image, n_segments=2, features=("lab",))
    >>> result.n_segments, sorted(result.sizes.tolist())
    (2, [300, 300])
    """
    timings = {}
    start = time.perf_counter()
    image = load_image(image)
    features, weights = check_features(features, weights)
    window = check_window(window)
    scaler = GroupScaler(scale)
    H, W = image.shape[:2]
    downsample = _check_downsample(downsample, image.shape)
    sample = _check_sample(sample, H * W)
    if downsample is not None and sample is not None:
        raise ValueError("Pass downsample or sample, not both.")
    settings = {"features": list(features), "weights": weights, "scale": scaler.scale,
                "downsample": downsample, "sample": sample, "window": window,
                "random_state": random_state}
    if estimator is None:
        if isinstance(n_segments, bool) or not isinstance(n_segments, numbers.Integral) or n_segments < 1:
            raise ValueError(f"n_segments must be an integer >= 1, got {n_segments!r}.")
        from ..cluster import KMeans

        estimator = KMeans(int(n_segments), random_state=random_state)
        settings["n_segments"] = int(n_segments)
    floats = float_image(image)
    groups = feature_groups(floats, features, window)
    how, fit_groups = "all", groups
    if downsample is not None:
        how, small = "downsample", block_mean(floats, downsample)
        fit_groups = feature_groups(small, features, window)
    elif sample is not None:
        how = "sample"
        rows = np.sort(np.random.default_rng(random_state).choice(H * W, sample, replace=False))
        xp = backend.namespace(floats)
        rows = xp.asarray(rows, device=backend.device(floats))
        fit_groups = [(name, xp.take(columns, rows, axis=0)) for name, columns in groups]
    scaler.fit(fit_groups, random_state)
    X = scaler.transform(groups, weights, floats.dtype)
    X_fit = X if how == "all" else scaler.transform(fit_groups, weights, floats.dtype)
    timings["features"] = time.perf_counter() - start

    labels, upsample = _label_pixels(estimator, X, X_fit, how, timings)
    xp = backend.namespace(X)
    labels = xp.astype(backend.asarray_like(labels, X), xp.int32)
    labels = (_upsample(labels, small.shape[:2], (H, W), downsample) if upsample
              else xp.reshape(labels, (H, W)))
    return describe(image, labels, X, features=features, estimator=estimator, timings=timings,
                    settings=settings, score_sample=score_sample, random_state=random_state)

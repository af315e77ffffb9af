"""segment(): known regions found, any estimator, fitting on a sample or a smaller image,
outputs where the image lives, and clear errors."""

import numpy as np
import pytest
from sklearn.cluster import DBSCAN as SkDBSCAN
from sklearn.cluster import KMeans as SkKMeans
from sklearn.metrics import adjusted_rand_score

from gpucluster import DBSCAN, KMeans
from gpucluster.segment import Segmentation, segment

from .._helpers import assert_same_kind, to_numpy
from ._images import shapes_image


def ari(truth, labels):
    return adjusted_rand_score(truth.ravel(), to_numpy(labels).ravel())


def test_kmeans_on_lab_xy_finds_the_regions(xp):
    """Four regions of distinct colours, with noise and a brightness gradient. Positions get
    half weight: with full weight, k-means' optimum halves the large background (its spread
    in position) instead of keeping the shapes apart, which is what k-means minimises."""
    image, truth = shapes_image()
    result = segment(xp.asarray(image), n_segments=4, weights={"xy": 0.5})
    assert isinstance(result, Segmentation)
    assert_same_kind(result.labels, xp.asarray(image))
    assert result.labels.shape == truth.shape and result.n_segments == 4
    assert ari(truth, result.labels) >= 0.99
    # Sizes and mean colours are those of the true regions (the regions differ in size).
    order = np.argsort(to_numpy(result.sizes))
    true_sizes = np.bincount(truth.ravel())
    np.testing.assert_array_equal(to_numpy(result.sizes)[order], np.sort(true_sizes))
    true_means = np.array([image[truth == t].mean(axis=0) for t in range(4)])
    np.testing.assert_allclose(to_numpy(result.mean_colors)[order],
                               true_means[np.argsort(true_sizes)], atol=0.5)
    assert result.scores["silhouette"] > 0.5 and result.scores["davies_bouldin"] < 1.0


def test_scores_match_scikit_learn_on_the_features():
    from sklearn import metrics

    from gpucluster.segment import pixel_features

    image, _ = shapes_image(40, 50)
    result = segment(image, n_segments=4, weights={"xy": 0.5}, score_sample=5000)
    X = pixel_features(image, ("lab", "xy"), weights={"xy": 0.5})
    labels = to_numpy(result.labels).ravel()
    assert result.scores["calinski_harabasz"] == pytest.approx(
        metrics.calinski_harabasz_score(X, labels), rel=1e-4)
    assert result.scores["davies_bouldin"] == pytest.approx(metrics.davies_bouldin_score(X, labels), rel=1e-4)
    assert result.scores["silhouette"] == pytest.approx(metrics.silhouette_score(X, labels), rel=1e-4)
    assert result.no_spread_within_segments is False


def test_a_perfect_segmentation_of_flat_colours_has_no_calinski_harabasz(xp):
    """Four flat colours, no noise, segmented on colour alone: every segment's pixels are
    identical. The metric keeps scikit-learn's 1.0 for a zero within-cluster dispersion; the
    segmentation says the ratio is undefined instead of showing that 1.0 as a poor score."""
    from gpucluster import metrics
    from gpucluster.segment import pixel_features
    from gpucluster.segment.segmentation import scores_text

    image, truth = shapes_image(noise=0.0, gradient=0.0)
    result = segment(xp.asarray(image), n_segments=4, features=("lab",))
    assert ari(truth, result.labels) == 1.0
    X = to_numpy(pixel_features(image, ("lab",)))
    assert metrics.calinski_harabasz_score(X, to_numpy(result.labels).ravel()) == 1.0
    assert result.no_spread_within_segments is True
    assert np.isnan(result.scores["calinski_harabasz"])
    assert result.scores["davies_bouldin"] == 0.0 and result.scores["silhouette"] > 0.99
    summary = result.summary()
    assert summary["no_spread_within_segments"] is True
    assert summary["scores"]["calinski_harabasz"] is None
    text = scores_text(result.scores, result.no_spread_within_segments)
    assert "Calinski-Harabasz n/a (no spread within segments)" in text, text


def test_one_pixel_one_level_off_is_spread_and_keeps_its_calinski_harabasz(xp):
    """The bound on 'no spread' is float rounding, not a real difference: one background pixel
    one level off gives a finite (huge) Calinski-Harabasz, equal to the metric's."""
    from gpucluster import metrics
    from gpucluster.segment import pixel_features
    from gpucluster.segment.segmentation import scores_text

    image, _ = shapes_image(noise=0.0, gradient=0.0)
    image[5, 5, 0] += 1
    result = segment(xp.asarray(image), n_segments=4, features=("lab",))
    assert result.no_spread_within_segments is False
    X = to_numpy(pixel_features(image, ("lab",)))
    expected = metrics.calinski_harabasz_score(X, to_numpy(result.labels).ravel())
    assert expected > 1e9
    assert result.scores["calinski_harabasz"] == pytest.approx(expected, rel=1e-4)
    assert "no spread" not in scores_text(result.scores, result.no_spread_within_segments)


def test_any_scikit_learn_estimator_gets_numpy_and_its_labels_come_back(xp):
    image, truth = shapes_image(45, 60)
    result = segment(xp.asarray(image), SkKMeans(4, n_init=4, random_state=0), weights={"xy": 0.5})
    assert_same_kind(result.labels, xp.asarray(image))
    assert ari(truth, result.labels) >= 0.99


def test_fitting_on_a_sample_labels_every_pixel_by_predict():
    image, truth = shapes_image()
    estimator = KMeans(4, n_init=4, random_state=0)  # several starts: no local optimum
    result = segment(image, estimator, weights={"xy": 0.5}, sample=2000)
    assert estimator.n_features_in_ == 5 and result.estimator is estimator
    assert ari(truth, result.labels) >= 0.99
    assert "label" in result.timings


class CentresOnly:
    """An estimator with cluster_centers_ and no predict (labels by nearest centre)."""

    def __init__(self, n_clusters):
        self.n_clusters = n_clusters

    def fit(self, X):
        self._inner = SkKMeans(self.n_clusters, n_init=4, random_state=0).fit(X)
        self.cluster_centers_ = self._inner.cluster_centers_
        self.labels_ = self._inner.labels_
        return self


def test_nearest_centre_labels_estimators_without_predict():
    image, truth = shapes_image()
    estimator = CentresOnly(4)
    result = segment(image, estimator, weights={"xy": 0.5}, downsample=3)
    assert ari(truth, result.labels) >= 0.99
    # The labels are the nearest centres of the full image's features.
    from gpucluster.segment import pixel_features

    X = pixel_features(image, ("lab", "xy"), weights={"xy": 0.5})  # scaled on all pixels
    assert ari(estimator._inner.predict(X), result.labels) >= 0.98


def test_dbscan_is_fitted_on_the_downsampled_image_and_its_blocks_spread():
    image, truth = shapes_image(90, 120, noise=2.0, gradient=0.0)
    factor = 3
    estimator = DBSCAN(eps=0.3, min_samples=5)
    result = segment(image, estimator, features=("lab",), downsample=factor)
    assert estimator.labels_.shape == (30 * 40,)
    labels = to_numpy(result.labels)
    small = np.asarray(to_numpy(estimator.labels_)).reshape(30, 40)
    # Every full-size pixel carries its block's label (renumbered consecutively).
    np.testing.assert_array_equal(labels >= 0, np.repeat(np.repeat(small >= 0, 3, 0), 3, 1))
    # Blocks across an edge average two colours into clusters of their own; the blocks
    # inside one region are segmented exactly.
    blocks = truth.reshape(30, factor, 40, factor)
    pure = (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3))
    inside = np.repeat(np.repeat(pure, factor, 0), factor, 1)
    assert ari(truth[inside], labels[inside]) >= 0.99


def test_scikit_learn_dbscan_on_a_sample_is_refused():
    image, _ = shapes_image(30, 40)
    with pytest.raises(ValueError, match="DBSCAN has neither predict nor cluster_centers_"):
        segment(image, SkDBSCAN(eps=0.3), sample=200)


def test_noise_stays_minus_one_and_is_left_out_of_sizes(xp):
    image, _ = shapes_image(30, 40, noise=2.0)
    image[0, 0] = (255, 255, 255)  # a lone pixel no cluster claims
    result = segment(xp.asarray(image), DBSCAN(eps=0.4, min_samples=4), features=("lab",))
    assert_same_kind(result.labels, xp.asarray(image))
    assert not np.isnan(result.scores["davies_bouldin"])  # scored without the noise
    labels = to_numpy(result.labels)
    assert labels[0, 0] == -1
    assert int(to_numpy(result.sizes).sum()) == int(np.sum(labels >= 0))
    assert result.summary()["noise_pixels"] == int(np.sum(labels < 0))


def test_one_segment_has_no_scores():
    result = segment(np.full((10, 12, 3), 90, np.uint8), n_segments=1)
    assert result.n_segments == 1
    assert set(result.scores) == {"silhouette", "calinski_harabasz", "davies_bouldin"}
    assert all(np.isnan(v) for v in result.scores.values())
    assert result.summary()["scores"] == dict.fromkeys(result.scores)  # NaN written as null
    np.testing.assert_array_equal(to_numpy(result.labels), 0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(downsample=2, sample=100), "downsample or sample, not both"),
    (dict(downsample=0), "downsample must be"),
    (dict(downsample=100), "larger than the image"),
    (dict(sample=-3), "sample must be"),
    (dict(sample=1.5), "sample must be"),
    (dict(n_segments=0), "n_segments must be"),
    (dict(features=("colour",)), "distinct names"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        segment(np.zeros((20, 30, 3), np.uint8), **kwargs)


def test_the_same_seed_gives_the_same_segmentation():
    image, _ = shapes_image(30, 40)
    first = segment(image, n_segments=5, sample=0.5, random_state=3)
    second = segment(image, n_segments=5, sample=0.5, random_state=3)
    np.testing.assert_array_equal(first.labels, second.labels)

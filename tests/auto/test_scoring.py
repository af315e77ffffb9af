"""The composite score and its components, against values worked out by hand."""

import math

import numpy as np
import pytest

from gpucluster.auto import register_algorithm, search
from gpucluster.auto.scoring import check_weights, sample_silhouette, score_labels
from gpucluster.auto.shared import SharedData, euclidean_matrix, resolve_metric
from gpucluster.metrics import adjusted_rand_score, silhouette_score

# Five points on a line (0, 1 | 5, 6, 8) and one noise point far away (100).
TOY_X = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [6.0, 0.0], [8.0, 0.0], [100.0, 0.0]])
TOY_LABELS = np.array([0, 0, 1, 1, 1, -1])


def toy_expected():
    """The toy case's components, worked out by hand (noise point left out).

    Point: a (own cluster) and b (other cluster) mean distances, s = (b - a) / max(a, b)
      0: a = 1,   b = (5 + 6 + 8) / 3 = 19/3  -> s = 16/19
      1: a = 1,   b = (4 + 5 + 7) / 3 = 16/3  -> s = 13/16
      5: a = (1 + 3) / 2 = 2,   b = (5 + 4) / 2 = 9/2  -> s = 5/9
      6: a = (1 + 2) / 2 = 3/2, b = (6 + 5) / 2 = 11/2 -> s = 8/11
      8: a = (3 + 2) / 2 = 5/2, b = (8 + 7) / 2 = 15/2 -> s = 2/3
    balance: sizes 2 and 3, entropy of (0.4, 0.6) over log 2; noise: 1 of 6.
    """
    silhouette = (16 / 19 + 13 / 16 + 5 / 9 + 8 / 11 + 2 / 3) / 5
    balance = -(0.4 * math.log(0.4) + 0.6 * math.log(0.6)) / math.log(2)
    noise = 1 / 6
    composite = 0.8 * (silhouette + 1) / 2 + 0.2 * (1 - noise)
    return silhouette, balance, noise, composite


def test_components_and_composite_match_hand_computed_values():
    silhouette, balance, noise, composite = toy_expected()
    context = SharedData(TOY_X, metric="euclidean", random_state=0)
    scores = score_labels(TOY_LABELS, context.sample_index, context.sample_distances,
                          check_weights(None))
    assert scores["silhouette"] == pytest.approx(silhouette, rel=1e-12)
    assert scores["balance"] == pytest.approx(balance, rel=1e-12)
    assert scores["noise_penalty"] == pytest.approx(noise, rel=1e-12)
    assert scores["composite"] == pytest.approx(composite, rel=1e-12)


@pytest.mark.parametrize("preset, expected", [
    ("legacy", lambda s, b, n: 0.5 * (s + 1) / 2 + 0.3 * b + 0.2 * (1 - n)),
    ("balance", lambda s, b, n: 0.3 * (s + 1) / 2 + 0.4 * b + 0.3 * (1 - n)),
    ("default", lambda s, b, n: 0.8 * (s + 1) / 2 + 0.2 * (1 - n)),
])
def test_presets_give_their_composites(preset, expected):
    # "legacy" reproduces the search's composite before the default changed.
    silhouette, balance, noise, _ = toy_expected()
    context = SharedData(TOY_X, metric="euclidean", random_state=0)
    scores = score_labels(TOY_LABELS, context.sample_index, context.sample_distances,
                          check_weights(preset))
    assert scores["composite"] == pytest.approx(expected(silhouette, balance, noise), rel=1e-12)


class FixedLabels:
    """An 'estimator' returning given labels, to reach the search's scoring with them."""

    def __init__(self, labels):
        self.labels = labels

    def fit(self, X):
        self.labels_ = np.asarray(self.labels)
        return self


def test_search_reports_hand_computed_scores_for_a_registered_algorithm():
    silhouette, balance, noise, composite = toy_expected()
    register_algorithm("toy_fixed", lambda params, *, device, context: FixedLabels(TOY_LABELS),
                       lambda context: [{}], replace=True)
    result = search(TOY_X, algorithms=["toy_fixed"], metric="euclidean", random_state=0,
                    progress=False, labels=np.array([0, 0, 1, 1, 0, 2]))
    (record,) = result.candidates
    assert record["status"] == "ok"
    assert record["n_clusters"] == 2
    assert record["noise_fraction"] == pytest.approx(noise)
    assert record["scores"]["composite"] == pytest.approx(composite, rel=1e-12)
    assert record["scores"]["silhouette"] == pytest.approx(silhouette, rel=1e-12)
    assert record["scores"]["balance"] == pytest.approx(balance, rel=1e-12)
    # External scores are reported but not part of the composite.
    expected_ari = adjusted_rand_score([0, 0, 1, 1, 0, 2], TOY_LABELS)
    assert record["scores"]["ARI"] == pytest.approx(expected_ari) and expected_ari < 1.0
    np.testing.assert_array_equal(result.best_labels(), TOY_LABELS)


def test_weights_replace_defaults_and_external_weights_enter_the_composite():
    context = SharedData(TOY_X, metric="euclidean", random_state=0)
    truth = np.array([0, 0, 1, 1, 1, 1])
    only_ari = score_labels(TOY_LABELS, context.sample_index, context.sample_distances,
                            check_weights({"ARI": 2.0}, has_labels=True), truth)
    assert only_ari["composite"] == pytest.approx(2.0 * only_ari["ARI"])
    balance_only = score_labels(TOY_LABELS, context.sample_index, context.sample_distances,
                                check_weights({"balance": 1.0}))
    assert balance_only["composite"] == pytest.approx(balance_only["balance"])


@pytest.mark.parametrize("weights, message", [
    ({"silhouette": -1}, ">= 0"),
    ({"purity": 1}, "unknown key"),
    ({"ARI": 1}, "true labels"),
    ({"silhouette": 0, "balance": 0}, "At least one"),
    ({"noise": float("nan")}, "finite"),
    ("fair", "presets"),
], ids=["negative", "unknown", "external-without-labels", "all-zero", "nan", "unknown-preset"])
def test_bad_weights_are_rejected(weights, message):
    with pytest.raises(ValueError, match=message):
        check_weights(weights)


def test_sample_silhouette_matches_the_metrics_module_and_leaves_noise_out():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 3)), rng.normal(4, 1, (30, 3)),
                        rng.normal(-4, 1, (30, 3))])
    labels = np.repeat([0, 1, 2], [40, 30, 30])
    D = euclidean_matrix(X)
    assert sample_silhouette(D, labels) == pytest.approx(silhouette_score(X, labels), rel=1e-9)
    noisy = labels.copy()
    noisy[::7] = -1
    keep = noisy >= 0
    assert sample_silhouette(D, noisy) == pytest.approx(
        silhouette_score(X[keep], noisy[keep]), rel=1e-9)
    # Undefined with one cluster left.
    assert sample_silhouette(D, np.where(labels == 0, 0, -1)) is None


def test_metric_auto_takes_cosine_for_unit_rows_or_wide_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 8)).astype(np.float32)
    assert resolve_metric("auto", X) == "euclidean"
    assert resolve_metric("auto", X / np.linalg.norm(X, axis=1, keepdims=True)) == "cosine"
    assert resolve_metric("auto", rng.normal(size=(50, 64))) == "cosine"
    assert resolve_metric("euclidean", rng.normal(size=(50, 64))) == "euclidean"
    wide = rng.normal(size=(50, 64)).astype(np.float32)
    context = SharedData(wide, random_state=0)
    # The unit rows, centred (the same distances).
    unit = wide / np.linalg.norm(wide, axis=1, keepdims=True)
    np.testing.assert_allclose(context.working, unit - unit.mean(axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="metric"):
        resolve_metric("manhattan", X)

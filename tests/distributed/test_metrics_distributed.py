"""Metrics on dask arrays equal the in-memory values to 1e-10."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils._param_validation import InvalidParameterError

from gpucluster import metrics
from gpucluster.distributed import metrics as dmetrics

da = pytest.importorskip("dask.array")

EXTERNAL = ["adjusted_rand_score", "adjusted_mutual_info_score",
            "normalized_mutual_info_score", "v_measure_score", "mutual_info_score"]


@pytest.fixture(scope="module")
def labelled():
    X, y = make_blobs(2000, centers=4, n_features=4, random_state=0)
    pred = np.where(np.arange(2000) % 9 == 0, (y + 1) % 4, y) * 10 + 3  # not 0..k-1
    return X, y, pred


def _dask(a, chunks):
    return da.from_array(a, chunks=(chunks,) + a.shape[1:])


@pytest.mark.parametrize("name", ["calinski_harabasz_score", "davies_bouldin_score"])
@pytest.mark.parametrize("labels_kind", ["dask", "numpy"])
def test_internal_indices(dask_client, labelled, name, labels_kind):
    X, _, pred = labelled
    dX = _dask(X, (600, 0, 900, 500))
    labels = _dask(pred, (1000, 1000)) if labels_kind == "dask" else pred
    expected = getattr(metrics, name)(X, pred)
    assert getattr(dmetrics, name)(dX, labels) == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", EXTERNAL)
def test_external_indices_from_a_chunked_contingency_table(dask_client, labelled, name):
    _, y, pred = labelled
    expected = getattr(metrics, name)(y, pred)
    for true, predicted in [(_dask(y, (700, 0, 1300)), _dask(pred, (500,) * 4)),
                            (y, _dask(pred, (2000,)))]:
        value = getattr(dmetrics, name)(true, predicted)
        assert value == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_silhouette_on_the_rows_sklearn_samples(dask_client, labelled):
    X, _, pred = labelled
    dX = _dask(X, (600, 0, 900, 500))
    expected = metrics.silhouette_score(X, pred, sample_size=300, random_state=0)
    value = dmetrics.silhouette_score(dX, _dask(pred, (1000, 1000)), sample_size=300,
                                      random_state=0)
    assert value == pytest.approx(expected, rel=1e-10)


def test_errors(dask_client, labelled):
    X, y, _ = labelled
    with pytest.raises(ValueError, match="Number of labels is 1"):
        dmetrics.calinski_harabasz_score(_dask(X, (1000, 1000)), np.zeros(2000, dtype=int))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        dmetrics.adjusted_rand_score(_dask(y, (1000, 1000)), y[:10])
    with pytest.raises(ValueError, match="sample_size"):
        dmetrics.silhouette_score(_dask(X, (1000, 1000)), y, sample_size=0)


def test_v_measure_beta_as_on_one_machine(dask_client, labelled):
    """beta takes NumPy scalars and bools (True is 1, as scikit-learn's Interval takes it)
    and refuses infinities on dask labels as in memory."""
    _, y, pred = labelled
    for beta in (np.int64(2), np.float32(0.5), True):
        expected = metrics.homogeneity_completeness_v_measure(y, pred, beta=beta)
        value = dmetrics.homogeneity_completeness_v_measure(_dask(y, (700, 1300)), _dask(pred, (2000,)),
                                                            beta=beta)
        assert value == pytest.approx(expected, rel=1e-10)
    for beta in (float("inf"), -1.0, np.True_):
        with pytest.raises(InvalidParameterError, match="The 'beta' parameter of homogeneity_c"):
            dmetrics.homogeneity_completeness_v_measure(_dask(y, (2000,)), pred, beta=beta)

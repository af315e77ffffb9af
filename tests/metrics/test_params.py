"""Bad parameters of the metric functions raise what scikit-learn's raise: InvalidParameterError.

And the values scikit-learn takes that are not the obvious ones (``beta=True``,
NaN labels in ``contingency_matrix``, a complex NumPy X in
``calinski_harabasz_score``) give its results.
"""

import inspect
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import cluster as skc
from sklearn.tests.test_public_functions import _check_function_param_validation
from sklearn.utils._param_validation import InvalidParameterError

from gpucluster import metrics
from gpucluster.metrics._params import CONSTRAINTS

LABELS_TRUE = [0, 0, 1, 1, 2, 2, 2, 0]
LABELS_PRED = [0, 0, 1, 2, 2, 2, 1, 1]


def _same_message(ours, theirs):
    """The two messages are the same up to the order in which a set of options is listed
    (a set's order changes from one interpreter to the next)."""
    def normalised(message):
        return re.sub(r"\{[^}]*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))),
                      message)

    assert normalised(str(ours)) == normalised(str(theirs))


def _params(function):
    parameters = inspect.signature(function).parameters.values()
    named = [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return [p.name for p in named], [p.name for p in named if p.default is p.empty]


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_bad_parameters_raise_invalid_parameter_error_as_sklearn(name):
    """scikit-learn's own check of its public functions (sklearn/tests/test_public_functions.py)
    on gpucluster's function, with scikit-learn's constraints: for every parameter a value of
    no valid type, and a value of a valid type outside each constraint, must raise
    InvalidParameterError with "The '<param>' parameter of <name> must be ... Got ... instead."."""
    ours = getattr(metrics, name)
    constraints = getattr(skc, name)._skl_parameter_constraints
    assert set(CONSTRAINTS[name]) == set(constraints)
    params, required = _params(ours)
    _check_function_param_validation(ours, name, params, required, constraints)


@pytest.mark.parametrize("name, kwargs", [
    ("adjusted_rand_score", {"labels_true": 1}),
    ("fowlkes_mallows_score", {"labels_pred": None}),
    ("v_measure_score", {"beta": -1.0}),
    ("v_measure_score", {"beta": float("inf")}),
    ("v_measure_score", {"beta": np.True_}),
    ("homogeneity_completeness_v_measure", {"beta": float("nan")}),
    ("contingency_matrix", {"eps": -1.0}),
    ("contingency_matrix", {"sparse": 1}),
    ("mutual_info_score", {"contingency": "table"}),
    ("normalized_mutual_info_score", {"average_method": "median"}),
    ("adjusted_mutual_info_score", {"average_method": 3}),
])
def test_external_bad_parameter_same_error_and_message_as_sklearn(name, kwargs):
    args = {"labels_true": LABELS_TRUE, "labels_pred": LABELS_PRED, **kwargs}
    with pytest.raises(InvalidParameterError) as theirs:
        getattr(skc, name)(**args)
    with pytest.raises(InvalidParameterError) as ours:
        getattr(metrics, name)(**args)
    _same_message(ours.value, theirs.value)


@pytest.mark.parametrize("name, kwargs", [
    ("silhouette_score", {"sample_size": 0}),
    ("silhouette_score", {"sample_size": 2.5}),
    ("silhouette_score", {"random_state": "seed"}),
    ("silhouette_samples", {"labels": 3}),
    ("calinski_harabasz_score", {"X": "data"}),
    ("davies_bouldin_score", {"labels": None}),
])
def test_internal_bad_parameter_same_error_and_message_as_sklearn(name, kwargs):
    args = {"X": np.arange(16.0).reshape(8, 2), "labels": LABELS_PRED, **kwargs}
    with pytest.raises(InvalidParameterError) as theirs:
        getattr(skc, name)(**args)
    with pytest.raises(InvalidParameterError) as ours:
        getattr(metrics, name)(**args)
    _same_message(ours.value, theirs.value)


@pytest.mark.parametrize("metric", ["unknown", 3, "wminkowski"])
def test_unknown_silhouette_metric_is_an_invalid_parameter(metric):
    """scikit-learn's message lists "wminkowski" too, which SciPy removed (scikit-learn
    then fails with a ValueError); gpucluster lists the names it computes."""
    X = np.arange(16.0).reshape(8, 2)
    with pytest.raises(ValueError):
        skc.silhouette_score(X, LABELS_PRED, metric=metric)
    with pytest.raises(InvalidParameterError,
                       match="The 'metric' parameter of silhouette_score must be a str among"
                             f" .* or a callable. Got {metric!r} instead."):
        metrics.silhouette_score(X, LABELS_PRED, metric=metric)


@pytest.mark.parametrize("name", ["calinski_harabasz_score", "davies_bouldin_score"])
def test_sparse_X_is_an_invalid_parameter_of_ch_and_db_as_sklearn(name):
    X = sp.csr_matrix(np.arange(16.0).reshape(8, 2))
    with pytest.raises(InvalidParameterError):
        getattr(skc, name)(X, LABELS_PRED)
    with pytest.raises(InvalidParameterError, match=f"Sparse input is not supported by {name}"):
        getattr(metrics, name)(X, LABELS_PRED)


def test_bad_parameter_is_refused_before_the_data():
    """As with scikit-learn's decorator, a bad parameter is named even when the labels are
    bad too (here 2-D, which alone raises a plain ValueError)."""
    with pytest.raises(InvalidParameterError, match="'beta'"):
        metrics.v_measure_score(np.zeros((4, 2)), [0, 0, 1, 1], beta=-1)
    with pytest.raises(ValueError, match="labels_true must be 1D") as plain:
        metrics.v_measure_score(np.zeros((4, 2)), [0, 0, 1, 1])
    assert not isinstance(plain.value, InvalidParameterError)


# --------------------------------------------------------------------------
# What scikit-learn accepts


@pytest.mark.parametrize("beta", [True, False])
def test_v_measure_takes_bool_beta_as_sklearn(beta):
    """scikit-learn's Interval(Real, 0, None) takes bools (True is 1): same values."""
    expected = skc.homogeneity_completeness_v_measure(LABELS_TRUE, LABELS_PRED, beta=beta)
    assert metrics.homogeneity_completeness_v_measure(LABELS_TRUE, LABELS_PRED,
                                                      beta=beta) == pytest.approx(expected)
    assert metrics.v_measure_score(LABELS_TRUE, LABELS_PRED, beta=beta) == pytest.approx(
        skc.v_measure_score(LABELS_TRUE, LABELS_PRED, beta=beta))


@pytest.mark.parametrize("labels_true, labels_pred", [
    ([np.nan, 0, np.nan, 1, np.inf, 2], [0, 0, 1, 1, 1, 2]),
    ([0, 1, 1, 2, 2, 2], [np.nan, np.nan, -np.inf, 1.5, 1.5, np.inf]),
    (np.array([np.nan, 0, np.nan, 1], dtype=np.float32), [1, 1, 0, 0]),
])
@pytest.mark.parametrize("kwargs", [{}, {"sparse": True}, {"eps": 0.5}])
def test_contingency_matrix_counts_nan_and_inf_labels_as_sklearn(labels_true, labels_pred,
                                                                 kwargs):
    expected = skc.contingency_matrix(labels_true, labels_pred, **kwargs)
    got = metrics.contingency_matrix(labels_true, labels_pred, **kwargs)
    assert type(got) is type(expected)
    if kwargs.get("sparse"):
        got, expected = got.toarray(), expected.toarray()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_scores_still_refuse_nan_labels_as_sklearn():
    with pytest.raises(ValueError, match="NaN"):
        skc.adjusted_rand_score([0, np.nan, 1, 1], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="NaN"):
        metrics.adjusted_rand_score([0, np.nan, 1, 1], [0, 0, 1, 1])


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_calinski_harabasz_takes_complex_numpy_X_as_its_real_part_as_sklearn(dtype):
    """scikit-learn casts a NumPy X to float64 before its checks: the imaginary part goes,
    with NumPy's ComplexWarning."""
    rng = np.random.default_rng(0)
    X = (rng.random((8, 2)) + 1j * rng.random((8, 2))).astype(dtype)
    with pytest.warns(np.exceptions.ComplexWarning):
        expected = skc.calinski_harabasz_score(X, LABELS_PRED)
    with pytest.warns(np.exceptions.ComplexWarning):
        got = metrics.calinski_harabasz_score(X, LABELS_PRED)
    assert got == pytest.approx(expected, rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert got == pytest.approx(metrics.calinski_harabasz_score(X.real, LABELS_PRED),
                                    rel=1e-6)


def test_complex_X_refused_where_sklearn_refuses_it():
    """A complex list (CH) and a complex NumPy X (DB, silhouette) stay refused: ValueError."""
    rng = np.random.default_rng(0)
    X = rng.random((8, 2)) + 1j * rng.random((8, 2))
    cases = [("calinski_harabasz_score", X.tolist()), ("davies_bouldin_score", X),
             ("silhouette_score", X)]
    for name, data in cases:
        with pytest.raises(ValueError, match="Complex data not supported"):
            getattr(skc, name)(data, LABELS_PRED)
        with pytest.raises(ValueError, match="Complex data not supported"):
            getattr(metrics, name)(data, LABELS_PRED)

"""The metric functions' parameter checks: scikit-learn's constraints and its error.

scikit-learn checks the parameters of its metric functions with ``validate_params``
and raises ``InvalidParameterError`` (both a ValueError and a TypeError) naming the
parameter, the function and what it accepts. Every metric function here checks its
parameters through :func:`check_params`, first thing, against the same constraints
(:data:`CONSTRAINTS`, one entry per function as scikit-learn declares it), so that a
caller who swaps the import catches the same error for the same bad parameter, and
data checks (NaN, shapes, label counts) keep their ValueError.

Two differences, both on the side of accepting what gpucluster computes on: an array is
also anything with ``__dlpack__`` (the array kinds gpucluster takes), and the
silhouette's metric names are those gpucluster computes (scikit-learn lists
"wminkowski", which SciPy removed).
"""

from numbers import Integral, Real

from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)

from .._host_distances import PAIRWISE_METRICS
from .._sparse import is_sparse

AVERAGE_METHODS = ("min", "geometric", "arithmetic", "max")

ARRAY = ["array-like", Hidden(HasMethods(["__dlpack__"]))]
LABELS = {"labels_true": ARRAY, "labels_pred": ARRAY}
AVERAGE = [StrOptions(set(AVERAGE_METHODS))]
BETA = [Interval(Real, 0, None, closed="left")]
METRIC = [StrOptions(set(PAIRWISE_METRICS) | {"precomputed"}), callable]

CONSTRAINTS = {
    "adjusted_rand_score": LABELS,
    "rand_score": LABELS,
    "pair_confusion_matrix": LABELS,
    "fowlkes_mallows_score": LABELS,
    "homogeneity_score": LABELS,
    "completeness_score": LABELS,
    "homogeneity_completeness_v_measure": {**LABELS, "beta": BETA},
    "v_measure_score": {**LABELS, "beta": BETA},
    "contingency_matrix": {
        "labels_true": [*ARRAY, None],
        "labels_pred": [*ARRAY, None],
        "eps": [Interval(Real, 0, None, closed="left"), None],
        "sparse": ["boolean"],
        "dtype": "no_validation",
    },
    "mutual_info_score": {
        "labels_true": [*ARRAY, None],
        "labels_pred": [*ARRAY, None],
        "contingency": [*ARRAY, "sparse matrix", None],
    },
    "normalized_mutual_info_score": {**LABELS, "average_method": AVERAGE},
    "adjusted_mutual_info_score": {**LABELS, "average_method": AVERAGE},
    "silhouette_samples": {"X": [*ARRAY, "sparse matrix"], "labels": ARRAY, "metric": METRIC},
    "silhouette_score": {
        "X": [*ARRAY, "sparse matrix"],
        "labels": ARRAY,
        "metric": METRIC,
        "sample_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    "calinski_harabasz_score": {"X": ARRAY, "labels": ARRAY},
    "davies_bouldin_score": {"X": ARRAY, "labels": ARRAY},
}


def check_params(caller, **params):
    """Raise scikit-learn's ``InvalidParameterError`` when a parameter of the metric
    function ``caller`` is one that scikit-learn's function of that name refuses.

    Parameters
    ----------
    caller : str
        The function's name, a key of :data:`CONSTRAINTS`; the message names it.
    **params
        The parameters to check, by name.

    Raises
    ------
    InvalidParameterError
        A ValueError and a TypeError, with scikit-learn's message ("The 'beta'
        parameter of v_measure_score must be a float in the range [0.0, inf). Got -1
        instead."); a sparse matrix where only dense arrays are taken is named as such.
    """
    constraints = CONSTRAINTS[caller]
    for name, value in params.items():
        allowed = constraints[name]
        if allowed != "no_validation" and "sparse matrix" not in allowed and is_sparse(value):
            raise InvalidParameterError(
                f"Sparse input is not supported by {caller} (parameter {name!r}); convert "
                f"it to a dense array, for example with {name}.toarray()."
            )
    validate_parameter_constraints(constraints, params, caller_name=caller)

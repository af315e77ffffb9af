"""What every gpucluster estimator shares: input preparation and output conversion."""

import numpy as np
from sklearn.utils.validation import _check_feature_names

from .. import backend
from .._config import DEVICES, OUTPUT_TYPES
from .._sparse import is_sparse
from .._validation import check_input, check_n_features, check_option, check_sample_weight


def integers_as_float64(X):
    """X with an integer or bool dtype cast to float64; anything else returned for check_input.

    scikit-learn's k-means validates with ``dtype=[np.float64, np.float32]``,
    so integer input is computed (and its centres returned) in float64, where
    ``check_input`` alone would give float32.
    """
    if is_sparse(X):
        return X
    try:
        X = backend.coerce_array(X)
    except TypeError:
        return X  # check_input raises with its own message
    if backend.array_kind(X) == "numpy":
        return X.astype(np.float64) if X.dtype.kind in "biu" else X
    xp = backend.namespace(X)
    return xp.astype(X, xp.float64) if xp.isdtype(X.dtype, ("bool", "integral")) else X


class DeviceEstimatorMixin:
    """Validate and place inputs, and convert outputs, for estimators with ``device`` and ``output_type``.

    ``_prepare_input`` runs before any attribute is set, so a failed check
    leaves a fitted estimator as it was.
    """

    # True where the scikit-learn twin computes integer and bool X in float64
    # rather than check_input's float32.
    _integers_as_float64 = False

    def _check_device_params(self):
        check_option(self.device, "device", DEVICES)
        check_option(self.output_type, "output_type", OUTPUT_TYPES)

    def _prepare_input(self, X, sample_weight=None, *, reset, work=0.0):
        """Validate X (and sample_weight) and move them where the work runs.

        Returns ``(X, sample_weight, like)``: the arrays in their compute
        namespace and device, and the description of the caller's X that
        outputs mirror. With ``reset=False`` the feature count must match fit's.

        Column names (a pandas DataFrame's) are scikit-learn's business too:
        ``reset=True`` records them as ``feature_names_in_``, ``reset=False``
        refuses columns in another order or under other names (scikit-learn's
        ``_check_feature_names``), before X becomes an array and loses them.
        """
        _check_feature_names(self, X, reset=reset)
        if self._integers_as_float64:
            X = integers_as_float64(X)
        X = check_input(X, estimator_name=type(self).__name__)
        if not reset:
            check_n_features(self, X)
        like = backend.describe_input(X)
        n_samples, n_features = X.shape
        if callable(work):
            try:
                work = work(n_samples, n_features)
            except (TypeError, ValueError):
                # The estimate reads parameters the estimator has not checked yet; a bad
                # one (n_clusters="3") must reach that check, whose error names it. The
                # estimate only picks the device, and the check fails right after.
                work = 0.0
        target = backend.resolve_device(self.device, X, work=work)
        X = backend.to_device(X, target)
        return X, check_sample_weight(sample_weight, X), like

    def _to_output(self, arr, like):
        """Return a computed array as the caller's type (see ``output_type``)."""
        return backend.to_output(arr, like, self.output_type)

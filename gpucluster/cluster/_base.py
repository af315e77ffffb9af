"""What every gpucluster estimator shares: input preparation and output conversion."""

from .. import backend
from .._config import DEVICES, OUTPUT_TYPES
from .._validation import check_input, check_n_features, check_option, check_sample_weight


class DeviceEstimatorMixin:
    """Validate and place inputs, and convert outputs, for estimators with ``device`` and ``output_type``.

    ``_prepare_input`` runs before any attribute is set, so a failed check
    leaves a fitted estimator as it was.
    """

    def _check_device_params(self):
        check_option(self.device, "device", DEVICES)
        check_option(self.output_type, "output_type", OUTPUT_TYPES)

    def _prepare_input(self, X, sample_weight=None, *, reset, work=0.0):
        """Validate X (and sample_weight) and move them where the work runs.

        Returns ``(X, sample_weight, like)``: the arrays in their compute
        namespace and device, and the description of the caller's X that
        outputs mirror. With ``reset=False`` the feature count must match fit's.
        """
        X = check_input(X, estimator_name=type(self).__name__)
        if not reset:
            check_n_features(self, X)
        like = backend.describe_input(X)
        n_samples, n_features = X.shape
        if callable(work):
            work = work(n_samples, n_features)
        target = backend.resolve_device(self.device, X, work=work)
        X = backend.to_device(X, target)
        return X, check_sample_weight(sample_weight, X), like

    def _to_output(self, arr, like):
        """Return a computed array as the caller's type (see ``output_type``)."""
        return backend.to_output(arr, like, self.output_type)

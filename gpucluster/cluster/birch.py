"""BIRCH clustering: ``Birch``, scikit-learn's estimator with the CF-tree in compiled code.

Two steps, as scikit-learn's:

1. The CF-tree (clustering features: count, linear sum and squared sum per
   subcluster) is grown one sample at a time. Each insertion reads the tree
   that every earlier sample built, so this step is sequential by nature:
   it runs on the host in Numba (``kernels.cftree_insert``), with CUDA data
   copied to the host, and makes scikit-learn's decisions in scikit-learn's
   order, so both hold the same subclusters in the same order.
2. The global step clusters the leaf subclusters' centres, by default with
   gpucluster's ``AgglomerativeClustering`` (Ward), as scikit-learn does
   with its own; ``labels_``, ``predict`` and ``transform`` then run on X's
   array backend (the GPU for CUDA data): each sample takes the label of its
   nearest subcluster centre through the ``assign`` kernel.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from .. import backend, kernels
from .._sparse import is_sparse
from .._validation import check_scalar
from ..kernels.cftree import CFTree, cftree_insert
from ._base import DeviceEstimatorMixin
from ._cf_nodes import DUMMY, CFNode
from .hierarchy import AgglomerativeClustering
from .kmeans import center_distances


def _is_count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_n_clusters(n_clusters):
    """``n_clusters`` must be None, an int >= 1 or a clusterer with ``fit_predict``."""
    if n_clusters is None or callable(getattr(n_clusters, "fit_predict", None)):
        return
    if not _is_count(n_clusters):
        raise TypeError(
            "n_clusters must be None, an int >= 1 or a clustering estimator with "
            f"fit_predict, got {n_clusters!r}."
        )
    check_scalar(n_clusters, "n_clusters", min_value=1)


def _densified(X):
    """A SciPy or CuPy sparse X as a dense array (scikit-learn's Birch densifies row by row)."""
    return X.toarray() if is_sparse(X) else X


class Birch(ClassNamePrefixFeaturesOutMixin, DeviceEstimatorMixin, ClusterMixin,
            TransformerMixin, BaseEstimator):
    """BIRCH clustering on the CPU and the GPU: scikit-learn's ``Birch``.

    A CF-tree summarises the data in subclusters of radius at most
    ``threshold``, one pass over the samples, in memory that grows with the
    number of subclusters rather than of samples; the subclusters' centres
    are then clustered into ``n_clusters`` groups. ``partial_fit`` grows the
    same tree batch after batch.

    Parameters
    ----------
    threshold : float > 0, default=0.5
        A sample joins its nearest leaf subcluster only if the merged
        subcluster's radius stays at most ``threshold``; otherwise it starts
        a new one. Lower values give more, smaller subclusters.
    branching_factor : int > 1, default=50
        Most subclusters in a node; a node that would hold more is split in
        two, and so on up the tree. A ``partial_fit`` after the first keeps
        the tree's own.
    n_clusters : int, clustering estimator or None, default=3
        The global step. An int clusters the subcluster centres with
        ``AgglomerativeClustering(n_clusters)`` (Ward); an estimator (any
        object with ``fit_predict``, scikit-learn's or gpucluster's) is fit
        on ``subcluster_centers_`` as they are returned; None keeps every
        subcluster as its own cluster. Fewer subclusters than an int keep
        their own labels with a ConvergenceWarning; ``n_clusters=1`` with a
        single subcluster raises ValueError (Ward refuses one sample), as in
        scikit-learn.
    compute_labels : bool, default=True
        Whether ``fit`` and ``partial_fit`` compute ``labels_``.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the global step, ``labels_``, ``predict`` and ``transform``
        run; the tree is always grown on the host.
    output_type : {"input", "numpy", "cupy", "torch"}, default="input"

    Attributes
    ----------
    root_ : CFNode
        The root of the CF-tree: a read-only view with scikit-learn's
        ``_CFNode`` attributes (``subclusters_``, ``is_leaf``,
        ``centroids_``, ...), whose ``subclusters_`` have ``n_samples_``,
        ``linear_sum_``, ``squared_sum_``, ``centroid_``, ``child_`` and
        ``radius`` (NumPy, read from the tree's host arrays).
    dummy_leaf_ : CFNode
        A node before the first leaf: ``dummy_leaf_.next_leaf_`` starts the
        list of leaves.
    subcluster_centers_ : array (n_subclusters, n_features), X's dtype
        Centroids of all the leaf subclusters, leaf by leaf.
    subcluster_labels_ : array (n_subclusters,), int64
        The global step's label of each subcluster.
    labels_ : array (n_samples,), int64
        Label of each sample of the last ``fit`` or ``partial_fit`` batch
        (the label of its nearest subcluster centre); set when ``compute_labels``.
    n_features_in_ : int
        Array attributes have the array type and device of the X given to
        ``fit`` (see ``output_type``).

    Notes
    -----
    Growing the tree costs O(n_samples * height * branching_factor *
    n_features) on one CPU core, whatever the device: every insertion
    depends on all the ones before it. Labelling costs O(n_samples *
    n_subclusters * n_features) on ``device``. scikit-learn's ``copy``
    parameter, deprecated in 1.6 and gone from its signature since 1.8, is
    not taken: X is never modified. Sparse X is densified (all of it at once).

    Examples
    --------
    >>> from gpucluster import Birch
    >>> X = [[0, 1], [0.3, 1], [-0.3, 1], [0, -1], [0.3, -1], [-0.3, -1]]
    >>> brc = Birch(n_clusters=None).fit(X)
    >>> brc.predict(X).tolist()
    [0, 0, 0, 1, 1, 1]
    """

    # Integer and bool X are computed in float64, as scikit-learn's validate_data does.
    _integers_as_float64 = True

    def __init__(self, *, threshold=0.5, branching_factor=50, n_clusters=3, compute_labels=True,
                 device="auto", output_type="input"):
        self.threshold = threshold
        self.branching_factor = branching_factor
        self.n_clusters = n_clusters
        self.compute_labels = compute_labels
        self.device = device
        self.output_type = output_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags

    def _check_params(self):
        check_scalar(self.threshold, "threshold", kind=numbers.Real, min_value=0,
                     include_min=False)
        check_scalar(self.branching_factor, "branching_factor", min_value=1, include_min=False)
        check_n_clusters(self.n_clusters)
        if not isinstance(self.compute_labels, (bool, np.bool_)):
            raise TypeError(f"compute_labels must be a bool, got {self.compute_labels!r}.")
        self._check_device_params()

    def _work(self, n_samples, n_features):
        # Labelling: one pass of the samples against the subcluster centres,
        # of which there are typically a few per branching_factor samples.
        return 2.0 * n_samples * n_features * min(n_samples, 10 * self.branching_factor)

    # ------------------------------------------------------------------
    # Fitting

    def fit(self, X, y=None):
        """Grow a new CF-tree from X and run the global step.

        Parameters
        ----------
        X : array (n_samples, n_features); NumPy, CuPy, torch, any array-API
            array, a list, or a SciPy/CuPy sparse matrix (densified)
        y : ignored

        Returns
        -------
        self : Birch
        """
        return self._fit(X, partial=False)

    def partial_fit(self, X=None, y=None):
        """Grow the tree with one more batch (a new tree on the first call).

        Parameters
        ----------
        X : array (n_samples, n_features) or None
            The batch, as for ``fit``, with the feature count of the first.
            None runs only the global step, on the tree as it stands (for
            instance after ``set_params(n_clusters=...)``).
        y : ignored

        Returns
        -------
        self : Birch
        """
        if X is None:
            self._check_params()
            check_is_fitted(self)
            centers = backend.coerce_array(self.subcluster_centers_)
            self._global_clustering(centers, backend.describe_input(self.subcluster_centers_),
                                    stacklevel=3)
            return self
        return self._fit(X, partial=True)

    def _fit(self, X, partial):
        self._check_params()
        first_call = not (partial and hasattr(self, "_tree"))
        X, _, like = self._prepare_input(_densified(X), reset=first_call, work=self._work)
        xp = backend.namespace(X)
        dtype = np.float64 if X.dtype == xp.float64 else np.float32
        tree = CFTree(X.shape[1], dtype, self.branching_factor) if first_call else self._tree
        centers = cftree_insert(X, tree, self.threshold)

        self._tree = tree
        self.root_ = CFNode(tree, tree.root)
        self.dummy_leaf_ = CFNode(tree, DUMMY)
        self.subcluster_centers_ = self._to_output(centers, like)
        self._n_features_out = int(centers.shape[0])
        self.n_features_in_ = int(X.shape[1])
        self._global_clustering(centers, like, X if self.compute_labels else None)
        return self

    def _get_leaves(self):
        """The leaf nodes, in the order of the leaf list (as scikit-learn's ``_get_leaves``)."""
        leaves, leaf = [], self.dummy_leaf_.next_leaf_
        while leaf is not None:
            leaves.append(leaf)
            leaf = leaf.next_leaf_
        return leaves

    def _global_clustering(self, centers, like, X=None, stacklevel=4):
        """Label the subclusters (``subcluster_labels_``), then the samples of X when given."""
        xp = backend.namespace(centers)
        n_subclusters = int(centers.shape[0])
        clusterer = self.n_clusters
        too_few = _is_count(clusterer) and n_subclusters < clusterer
        # n_clusters=1 with a single subcluster goes to Ward like any other count, which
        # refuses one sample with scikit-learn's ValueError, as scikit-learn's Birch does.
        if clusterer is None or too_few:
            labels = xp.arange(n_subclusters, dtype=xp.int64, device=backend.device(centers))
            if too_few:
                warnings.warn(
                    f"Number of subclusters found ({n_subclusters}) by BIRCH is less than "
                    f"({clusterer}). Decrease the threshold.",
                    ConvergenceWarning,
                    stacklevel=stacklevel,
                )
        else:
            if _is_count(clusterer):
                ward = AgglomerativeClustering(n_clusters=int(clusterer),
                                               device=backend.device_of(centers))
                labels = ward.fit_predict(centers)
            else:
                # As scikit-learn: the given estimator itself is fit, on the centres
                # the caller sees.
                labels = clusterer.fit_predict(self.subcluster_centers_)
            labels = xp.astype(backend.asarray_like(backend.coerce_array(labels), centers),
                               xp.int64)
        self.subcluster_labels_ = self._to_output(labels, like)
        if X is not None:
            self.labels_ = self._to_output(self._labels(X, centers, labels), like)

    # ------------------------------------------------------------------
    # Using the fitted tree

    @staticmethod
    def _labels(X, centers, subcluster_labels):
        """Label of the nearest subcluster centre of every row of X (all in X's namespace)."""
        xp = backend.namespace(X)
        nearest, _ = kernels.assign(X, xp.astype(centers, X.dtype))
        return xp.take(subcluster_labels, xp.astype(nearest, xp.int64), axis=0)

    def _fitted_arrays(self, X):
        """``subcluster_centers_`` and ``subcluster_labels_`` in X's namespace and on its device."""
        centers = backend.asarray_like(backend.coerce_array(self.subcluster_centers_), X)
        labels = backend.asarray_like(backend.coerce_array(self.subcluster_labels_), X)
        return centers, labels

    def predict(self, X):
        """Label of the nearest subcluster centre of each row of X.

        Parameters
        ----------
        X : array (n_samples, n_features); NumPy, CuPy, torch, any array-API
            array, a list, or a sparse matrix (densified)

        Returns
        -------
        labels : array (n_samples,), int64, X's array type and device (see ``output_type``)
        """
        check_is_fitted(self)
        X, _, like = self._prepare_input(_densified(X), reset=False, work=self._work)
        centers, labels = self._fitted_arrays(X)
        return self._to_output(self._labels(X, centers, labels), like)

    def transform(self, X):
        """Euclidean distances (n_samples, n_subclusters) from X's rows to the subcluster centres.

        Computed in float64 by row chunks and returned in X's dtype, array type
        and device (see ``output_type``).
        """
        check_is_fitted(self)
        X, _, like = self._prepare_input(_densified(X), reset=False, work=self._work)
        centers, _ = self._fitted_arrays(X)
        xp = backend.namespace(X)
        return self._to_output(center_distances(X, xp.astype(centers, X.dtype), "euclidean"),
                               like)

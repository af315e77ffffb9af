"""scikit-learn's own tests for the estimators gpucluster replaces, with the import swapped.

Each suite is a test file that scikit-learn ships inside its package. It is
copied into a temporary folder with the import of the objects under test
rewritten to gpucluster's, and run by pytest in a subprocess (with the one
fixture of scikit-learn's conftest that these files use). A suite passes when
every test passes except those listed in its ``expected_failures``, each
with its reason; a listed test that passes is reported too, so the list
only shrinks. This is the drop-in bar: a user who swaps the import meets
what these tests meet.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn

SKLEARN = Path(sklearn.__file__).resolve().parent

CONFTEST = '''
import numpy as np
import pytest


# scikit-learn's own default: one seed, 42, unless SKLEARN_TESTS_GLOBAL_RANDOM_SEED
# asks for more (its CI sweeps 0-99 on a schedule; a sweep here would triple the run).
@pytest.fixture(params=[42])
def global_random_seed(request):
    return request.param


@pytest.fixture(params=[np.float64])
def global_dtype(request):
    return request.param
'''

# name: (test file inside scikit-learn, [(line in it, the line that replaces it)],
#        {test name: why it is expected to fail})
SUITES = {
    "birch": (
        "cluster/tests/test_birch.py",
        [("from sklearn.cluster import AgglomerativeClustering, Birch",
          "from sklearn.cluster import AgglomerativeClustering\nfrom gpucluster.cluster import Birch")],
        {},
    ),
    "affinity_propagation": (
        "cluster/tests/test_affinity_propagation.py",
        [("from sklearn.cluster import AffinityPropagation, affinity_propagation",
          "from gpucluster.cluster import AffinityPropagation, affinity_propagation")],
        {},
    ),
    "mean_shift": (
        "cluster/tests/test_mean_shift.py",
        [("from sklearn.cluster import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift",
          "from gpucluster.cluster import MeanShift, estimate_bandwidth, get_bin_seeds, mean_shift")],
        {},
    ),
    "pca": (
        "decomposition/tests/test_pca.py",
        [("from sklearn.decomposition import PCA", "from gpucluster.decomposition import PCA")],
        {},
    ),
    "mixture_common": (
        # Tests shared with BayesianGaussianMixture, which stays scikit-learn's.
        "mixture/tests/test_mixture.py",
        [("from sklearn.mixture import BayesianGaussianMixture, GaussianMixture",
          "from sklearn.mixture import BayesianGaussianMixture\n"
          "from gpucluster.cluster import GaussianMixture")],
        {},
    ),
    "spectral": (
        "cluster/tests/test_spectral.py",
        # cluster_qr and discretize are swapped too: gpucluster has its own.
        [("from sklearn.cluster import SpectralClustering, spectral_clustering",
          "from gpucluster.cluster import SpectralClustering, spectral_clustering"),
         ("from sklearn.cluster._spectral import cluster_qr, discretize",
          "from gpucluster.cluster.spectral import cluster_qr, discretize")],
        {},
    ),
    "dbscan": (
        "cluster/tests/test_dbscan.py",
        [("from sklearn.cluster import DBSCAN, dbscan",
          "from gpucluster.cluster import DBSCAN, dbscan")],
        {},
    ),
    "k_means": (
        "cluster/tests/test_k_means.py",
        # The private helpers it imports (_labels_inertia, _mini_batch_step,
        # _k_means_common's) stay scikit-learn's: those tests test them.
        [("from sklearn.cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus",
          "from gpucluster.cluster import KMeans, MiniBatchKMeans, k_means, kmeans_plusplus")],
        {
            "test_sample_weight_init": "scikit-learn private helper (KMeans._init_centroids)",
            "test_sample_weight_zero": "scikit-learn private helper (KMeans._init_centroids)",
        },
    ),
    "optics": (
        "cluster/tests/test_optics.py",
        [("from sklearn.cluster import DBSCAN, OPTICS",
          "from sklearn.cluster import DBSCAN\nfrom gpucluster.cluster import OPTICS")],
        {},
    ),
    "hdbscan": (
        "cluster/tests/test_hdbscan.py",
        # The private helpers it imports (_tree's, _OUTLIER_ENCODING) stay scikit-learn's.
        [("from sklearn.cluster import HDBSCAN", "from gpucluster.cluster import HDBSCAN")],
        {
            "test_labelling_distinct": "scikit-learn private helpers (_condense_tree, "
                                       "_do_labelling) on its private _single_linkage_tree_",
            "test_hdbscan_default_copy_warning": "documented difference: X is never modified, "
                                                 "so copy defaults to False with no FutureWarning",
        },
    ),
    "agglomerative": (
        "cluster/tests/test_hierarchical.py",
        [("from sklearn.cluster import AgglomerativeClustering, FeatureAgglomeration, ward_tree",
          "from sklearn.cluster import FeatureAgglomeration, ward_tree\n"
          "from gpucluster.cluster import AgglomerativeClustering")],
        {},
    ),
    # The metrics files import gpucluster's functions after scikit-learn's, so they
    # replace them; scikit-learn's private helpers stay.
    "metrics_supervised": (
        "metrics/cluster/tests/test_supervised.py",
        [("from sklearn.metrics.cluster._supervised import (",
          "from gpucluster.metrics import (adjusted_mutual_info_score, adjusted_rand_score, "
          "completeness_score, contingency_matrix, expected_mutual_information, "
          "fowlkes_mallows_score, homogeneity_completeness_v_measure, homogeneity_score, "
          "mutual_info_score, normalized_mutual_info_score, pair_confusion_matrix, "
          "rand_score, v_measure_score)\n"
          "from sklearn.metrics.cluster._supervised import (")],
        {},
    ),
    "metrics_unsupervised": (
        "metrics/cluster/tests/test_unsupervised.py",
        [("from sklearn.metrics.cluster._unsupervised import _silhouette_reduce",
          "from gpucluster.metrics import (calinski_harabasz_score, davies_bouldin_score, "
          "silhouette_samples, silhouette_score)\n"
          "from sklearn.metrics.cluster._unsupervised import _silhouette_reduce")],
        {},
    ),
    "metrics_common": (
        "metrics/cluster/tests/test_common.py",
        [("from sklearn.metrics.tests.test_common import check_array_api_metric",
          "from gpucluster.metrics import (adjusted_mutual_info_score, adjusted_rand_score, "
          "calinski_harabasz_score, completeness_score, davies_bouldin_score, "
          "fowlkes_mallows_score, homogeneity_score, mutual_info_score, "
          "normalized_mutual_info_score, rand_score, silhouette_score, v_measure_score)\n"
          "from sklearn.metrics.tests.test_common import check_array_api_metric")],
        {},
    ),
    "mixture": (
        "mixture/tests/test_gaussian_mixture.py",
        [("from sklearn.mixture import GaussianMixture",
          "from gpucluster.cluster import GaussianMixture")],
        {
            "test_gaussian_mixture_precisions_init": "scikit-learn private helper (calls the "
                                                     "estimator's _initialize and _set_parameters)",
            "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters":
                "scikit-learn private helper (counts calls of sklearn.mixture's "
                "_estimate_gaussian_parameters, which gpucluster does not call)",
        },
    ),
}

REPORT_PLUGIN = '''
import json

OUTCOMES = {}


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        name = report.nodeid.split("::", 1)[1].split("[", 1)[0]
        if report.outcome == "failed" or OUTCOMES.get(name) != "failed":
            OUTCOMES[name] = report.outcome


def pytest_sessionfinish(session):
    with open("outcomes.json", "w") as f:
        json.dump(OUTCOMES, f)
'''


def _swapped(source, swaps):
    text = source.read_text(encoding="utf-8")
    for old, new in swaps:
        if old not in text.splitlines():
            raise AssertionError(f"{source.name} no longer has the line {old!r}")
        text = re.sub(rf"^{re.escape(old)}$", new, text, flags=re.MULTILINE)
    return text


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_sklearn_suite_passes_with_the_import_swapped(suite, tmp_path):
    relative, swaps, expected_failures = SUITES[suite]
    source = SKLEARN / relative
    (tmp_path / f"test_swapped_{suite}.py").write_text(_swapped(source, swaps), encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "outcomes_plugin.py").write_text(REPORT_PLUGIN, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "outcomes_plugin",
         f"test_swapped_{suite}.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(tmp_path)})
    outcomes = json.loads((tmp_path / "outcomes.json").read_text())
    assert outcomes, done.stdout[-3000:] + done.stderr[-3000:]
    failed = {name for name, outcome in outcomes.items() if outcome == "failed"}
    unexpected = failed - set(expected_failures)
    fixed = set(expected_failures) - failed
    assert not unexpected, f"failed: {sorted(unexpected)}\n{done.stdout[-6000:]}"
    assert not fixed, f"listed as failing but passed (remove them from the list): {sorted(fixed)}"

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


@pytest.fixture(params=[0, 1, 42])
def global_random_seed(request):
    return request.param


@pytest.fixture(params=[np.float64])
def global_dtype(request):
    return request.param
'''

SPARSE = "sparse input (features or a precomputed graph) is refused (issue 15, part 1)"
BOOLEAN_METRICS = "boolean metrics (rogerstanimoto...) are refused (issue 15, part 2)"

# name: (test file inside scikit-learn, [(line in it, the line that replaces it)],
#        {test name: why it is expected to fail})
SUITES = {
    "dbscan": (
        "cluster/tests/test_dbscan.py",
        [("from sklearn.cluster import DBSCAN, dbscan",
          "from gpucluster.cluster import DBSCAN, dbscan")],
        {},
    ),
    "optics": (
        "cluster/tests/test_optics.py",
        [("from sklearn.cluster import DBSCAN, OPTICS",
          "from sklearn.cluster import DBSCAN\nfrom gpucluster.cluster import OPTICS")],
        {
            "test_correct_number_of_clusters": SPARSE,
            "test_dbscan_optics_parity": SPARSE,
            "test_min_cluster_size_invalid2": SPARSE,
            "test_optics_input_not_modified_precomputed_sparse_nodiag": SPARSE,
            "test_optics_precomputed_sparse_no_warning": SPARSE,
            "test_precomputed_dists": "metric='precomputed' is refused (issue 15, part 2)",
            "test_nowarn_if_metric_bool_data_bool": BOOLEAN_METRICS,
            "test_warn_if_metric_bool_data_no_bool": BOOLEAN_METRICS,
            "test_minimum_number_of_sample_check": "the error says 'must be no greater than the "
                                                   "number of samples' in other words",
        },
    ),
    "agglomerative": (
        "cluster/tests/test_hierarchical.py",
        [("from sklearn.cluster import AgglomerativeClustering, FeatureAgglomeration, ward_tree",
          "from sklearn.cluster import FeatureAgglomeration, ward_tree\n"
          "from gpucluster.cluster import AgglomerativeClustering")],
        {
            "test_agglomerative_clustering": "the alias 'cityblock' and metric='precomputed' "
                                             "with average/complete/single linkage are "
                                             "refused (issue 15, part 2)",
            "test_invalid_shape_precomputed_dist_matrix": "metric='precomputed' is refused, "
                                                          "with another message",
            "test_precomputed_connectivity_metric_with_2_connected_components":
                "no UserWarning when a precomputed connectivity has several components",
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

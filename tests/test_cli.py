"""The `gpucluster` command: info and the digits check, run as a user would."""

import json
import re
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "gpucluster.cli"]


@pytest.mark.slow
def test_info_reports_versions_backends_and_devices():
    out = subprocess.run(CLI + ["info", "--json"], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    assert info["gpucluster"]
    assert info["packages"]["numpy"] and info["packages"]["numba"]
    assert set(info["backends"]) >= {"cupy", "torch", "array_api_strict"}
    assert isinstance(info["cuda_devices"], list)
    text = subprocess.run(CLI + ["info"], capture_output=True, text=True, check=True).stdout
    assert "CUDA device" in text and "backends:" in text


def test_digits_clusters_beside_sklearn():
    out = subprocess.run(CLI + ["digits"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        match = re.match(r"^((?:gpucluster|scikit-learn) \S+(?: \(cosine\))?)\s+(.*)$", line)
        if match:
            rows[match.group(1)] = [float(v) for v in match.group(2).split()]
    assert {"gpucluster KMeans", "scikit-learn KMeans", "gpucluster MiniBatchKMeans",
            "scikit-learn MiniBatchKMeans", "gpucluster KMeans (cosine)"} <= set(rows)
    ari = 3  # columns: seconds, n_iter, inertia, ARI, ...
    assert abs(rows["gpucluster KMeans"][ari] - rows["scikit-learn KMeans"][ari]) <= 0.02
    assert rows["gpucluster KMeans"][ari] > 0.5


def test_unknown_command_fails_with_usage():
    out = subprocess.run(CLI + ["frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_every_option_of_every_command_has_help_text():
    import argparse

    from gpucluster.cli import build_parser

    missing = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, path + [name])
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(" ".join(path + [action.option_strings[0] if action.option_strings
                                                else action.dest]))

    walk(build_parser(), ["gpucluster"])
    assert missing == []

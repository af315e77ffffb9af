"""The wheel installs kernels/ as gpucluster.kernels and puts no top-level `kernels` in site-packages."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (path,) = out.glob("gpucluster-*.whl")
    return path


def test_wheel_contains_kernels_under_gpucluster(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("__init__.py", "_numba.py", "cpu/assign.py", "cpu/centroids.py", "cuda/assign.py"):
        assert f"gpucluster/kernels/{module}" in names, module
    assert not any(name.startswith("kernels/") for name in names)
    assert "gpucluster/cluster/kmeans.py" in names


def test_installed_wheel_imports_kernels_outside_the_repository(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )
    assert not (site / "kernels").exists()
    code = (
        "import gpucluster.kernels as k, numpy as np\n"
        "print(k.__file__)\n"
        "print(k.assign(np.eye(3), np.eye(3))[0].tolist())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first.startswith(str(site))
    assert second == "[0, 1, 2]"

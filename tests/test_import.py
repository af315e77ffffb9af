"""`import gpucluster` works without GPU libraries and does not load them."""

import subprocess
import sys

HEAVY = ["cupy", "torch", "torchvision", "numba.cuda", "open_clip", "dask", "numba_cuda", "PIL"]


def test_import_loads_no_gpu_or_heavy_library():
    code = (
        "import sys, gpucluster\n"
        "from gpucluster import KMeans, MiniBatchKMeans, metrics\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_import_and_fit_work_when_cupy_and_torch_are_missing():
    """Block cupy and torch at import time: the CPU path still fits."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('cupy', 'torch'):\n"
        "            raise ImportError(name + ' is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np, gpucluster\n"
        "from gpucluster import backend\n"
        "assert not backend.gpu_available()\n"
        "km = gpucluster.KMeans(2, random_state=0).fit(np.array([[0.], [0.1], [5.], [5.1]]))\n"
        "print(sorted(km.labels_.tolist()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 0, 1, 1]"


def test_auto_and_report_import_without_torch():
    """The search and the report need neither torch nor open_clip to load."""
    code = (
        "import sys, gpucluster\n"
        "gpucluster.auto.search, gpucluster.report.write_report\n"
        "print(sorted(m for m in ('torch', 'open_clip', 'cupy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error():
    import gpucluster

    try:
        gpucluster.no_such_thing
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("gpucluster.no_such_thing did not raise")

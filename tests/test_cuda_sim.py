"""Run tests/cuda_sim in a separate process under Numba's CUDA simulator.

NUMBA_ENABLE_CUDASIM is read when numba is first imported, so the simulated
tests cannot share this process, which has numba loaded for real.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cuda_kernels_pass_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/cuda_sim", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", output)
    assert result.returncode == 0, output
    assert passed and int(passed.group(1)) > 0, output

"""The one-line notice that kernels compile once: shown until a command has finished,
then never again for the same versions; never under --quiet."""

import numpy as np
import pytest

from gpucluster import _compile_notice
from gpucluster.cli import main

NOTICE = "[gpucluster] compiling kernels once (up to about"


@pytest.fixture
def vectors(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUCLUSTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_compile_notice, "NUMBA_CACHE", True)
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    X[30:] += 8
    np.save(tmp_path / "x.npy", X)
    return tmp_path / "x.npy"


def _cluster(path, *extra):
    return main(["cluster", str(path), "--algorithm", "kmeans", "--param", "n_clusters=2",
                 "--device", "cpu", *extra])


def test_notice_shows_until_the_command_has_finished_once(vectors, capsys):
    assert _cluster(vectors.parent / "missing.npy") == 1  # a failed run records nothing
    assert NOTICE in capsys.readouterr().err
    assert _cluster(vectors) == 0
    err = capsys.readouterr().err
    assert err.count(NOTICE) == 1 and "cached for later runs)" in err
    assert _cluster(vectors) == 0
    assert NOTICE not in capsys.readouterr().err
    # Another command compiles its own kernels: its first run still says so.
    assert _compile_notice.compile_notice("auto")
    assert NOTICE in capsys.readouterr().err


def test_notice_respects_quiet_and_names_a_disabled_cache(vectors, capsys, monkeypatch):
    assert main(["auto", str(vectors), "--out", str(vectors.parent / "out"), "--quiet",
                 "--algorithm", "kmeans", "--device", "cpu"]) == 0
    assert "compiling kernels" not in capsys.readouterr().err
    monkeypatch.setattr(_compile_notice, "NUMBA_CACHE", False)
    assert _compile_notice.compile_notice("auto")
    assert "GPUCLUSTER_NUMBA_CACHE=0" in capsys.readouterr().err

"""`gpucluster embed --workers N` and `--scheduler ADDRESS`: the same store as a run in one process.

The cluster comes from the same helper as `gpucluster run`'s
(``gpucluster.embed._dask_client.job_client``); the workers load the
random-weight test model, so nothing is downloaded.
"""

import json
import re
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

from gpucluster import cli  # noqa: E402
from gpucluster.embed.store import load_store  # noqa: E402

TINY = ["--model", "gpucluster-tiny", "--pretrained", "none", "--num-workers", "0",
        "--device", "cpu", "--quiet"]


def embed(args, capsys):
    status = cli.main(["embed", *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.slow
def test_embed_with_workers_writes_the_store_of_a_plain_run(folder, tmp_path, capsys):
    status, out, err = embed([str(folder), "--out", str(tmp_path / "plain"), *TINY], capsys)
    assert status == 0, err[-3000:]
    status, out, err = embed([str(folder), "--out", str(tmp_path / "dask"), "--workers", "2",
                              *TINY], capsys)
    assert status == 0, err[-3000:]
    assert re.search(r"12 selected, 12 embedded, 0 reused", out), out
    assert "on cpu on 2 Dask workers" in out
    plain_paths, plain = load_store(str(tmp_path / "plain"))
    dask_paths, on_dask = load_store(str(tmp_path / "dask"))
    assert dask_paths == plain_paths and len(plain_paths) == 12
    for store in ("plain", "dask"):
        [config] = (tmp_path / store).glob("*/config.json")
        with open(config, encoding="utf-8") as f:
            assert json.load(f)["dtype"] == "float16"
    # The same model and images: equal up to the float16 rounding of the store.
    np.testing.assert_allclose(on_dask, plain, rtol=0, atol=2e-3)


def test_a_scheduler_nobody_answers_is_one_line_and_exit_1(folder, tmp_path, capsys):
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status, out, err = embed([str(folder), "--out", str(tmp_path / "s"), "--scheduler",
                                  "tcp://127.0.0.1:9", *TINY], capsys)
    assert status == 1
    assert err.startswith("gpucluster embed: error: cannot reach the Dask scheduler "
                          "tcp://127.0.0.1:9"), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_a_malformed_scheduler_address_is_named(folder, tmp_path, capsys):
    status, out, err = embed([str(folder), "--out", str(tmp_path / "s"), "--scheduler",
                              "no-port-here", *TINY], capsys)
    assert status == 1
    assert "gpucluster embed: error: 'no-port-here' is not a Dask scheduler address" in err
    assert "Traceback" not in err


def test_scheduler_and_workers_exclude_each_other_and_workers_must_be_positive(folder, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["embed", str(folder), "--out", "x", "--scheduler", "tcp://127.0.0.1:1",
                  "--workers", "2"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    for bad, said in (("0", "must be an integer >= 1, got 0"),
                      ("-1", "must be an integer >= 1, got -1"),
                      ("two", "expected an integer >= 1, got 'two'")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["embed", str(folder), "--out", "x", "--workers", bad])
        assert exit_.value.code == 2
        assert f"argument --workers: {said}" in capsys.readouterr().err


def test_missing_dask_names_the_extra(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    status, out, err = embed([str(folder), "--out", str(tmp_path / "s"), "--workers", "2",
                              *TINY], capsys)
    assert status == 1
    assert "gpucluster embed: error:" in err and "pip install 'gpucluster[dask]'" in err
    assert not (tmp_path / "s").exists()


def test_the_job_client_is_the_one_helper_of_run_and_embed():
    """No cluster without --scheduler or --workers; both given is refused; the public
    gpucluster.distributed.client is the same code."""
    from gpucluster.distributed import client
    from gpucluster.embed import _dask_client

    assert client.connect is _dask_client.connect and client.job_client is _dask_client.job_client
    with _dask_client.job_client(None, None, device="cuda") as none:
        assert none is None
    with pytest.raises(ValueError, match="not both"):
        with _dask_client.job_client("tcp://127.0.0.1:1", 2):
            pass
    assert [_dask_client.cluster_kind(d) for d in ("cpu", "cuda", "auto", "cuda:1")] == \
        ["cpu", "cuda", "auto", "auto"]


def test_more_workers_than_the_one_gpu_are_refused_in_the_singular(monkeypatch):
    from gpucluster.embed import _dask_client

    monkeypatch.setattr(_dask_client, "cuda_worker_count", lambda: 1)
    with pytest.raises(ValueError, match=r"^n_workers=2 is more than the 1 GPU of this machine"):
        _dask_client.local_cluster(2, device="cuda")

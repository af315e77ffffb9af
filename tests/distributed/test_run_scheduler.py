"""`gpucluster run --workers N` and `--scheduler ADDRESS`: embedding on Dask, the search here."""

import json
import re
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")
distributed = pytest.importorskip("distributed")

from gpucluster import cli  # noqa: E402
from gpucluster.distributed.client import connect, local_cluster  # noqa: E402

TINY = ["--model", "gpucluster-tiny", "--pretrained", "none", "--num-workers", "0",
        "--device", "cpu", "--top", "2"]


def run(args, capsys):
    status = cli.main(["run", *args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_run_outputs(out_dir, n):
    with open(out_dir / "results" / "summary.json", encoding="utf-8") as f:
        summary = json.load(f)
    assert summary["data"]["n_samples"] == n
    labels = np.load(out_dir / "results" / summary["ranking"][0]["folder"] / "labels.npy",
                     allow_pickle=False)
    assert labels.shape == (n,)
    assert (out_dir / "report.html").is_file()
    assert (out_dir / "gallery").is_dir()


@pytest.mark.filterwarnings("ignore:Searching 12 rows")
@pytest.mark.slow
def test_run_with_workers_embeds_on_a_local_cluster_and_writes_everything(folder, tmp_path,
                                                                          capsys):
    out = tmp_path / "out"
    status, stdout, stderr = run([str(folder), "--out", str(out), "--workers", "2", *TINY],
                                 capsys)
    assert status == 0, stderr[-3000:]
    assert "a local Dask cluster of 2 workers" in stdout
    assert re.search(r"12 selected, 12 embedded, 0 reused", stdout), stdout
    assert "on cpu on 2 Dask workers" in stdout
    assert_run_outputs(out, 12)

    # The store is shared with runs in one process: nothing is embedded again.
    status, stdout, stderr = run([str(folder), "--out", str(out), "--overwrite", *TINY], capsys)
    assert status == 0, stderr[-3000:]
    assert re.search(r"12 selected, 0 embedded, 12 reused", stdout), stdout


@pytest.mark.filterwarnings("ignore:Searching 12 rows")
@pytest.mark.slow
def test_run_with_scheduler_uses_the_cluster_and_leaves_it_running(folder, tmp_path, capsys):
    with local_cluster(2, device="cpu") as cluster:
        out = tmp_path / "out"
        status, stdout, stderr = run([str(folder), "--out", str(out), "--scheduler",
                                      cluster.scheduler_address, *TINY], capsys)
        assert status == 0, stderr[-3000:]
        assert f"the Dask cluster at {cluster.scheduler_address}" in stdout
        assert "on cpu on 2 Dask workers" in stdout
        assert_run_outputs(out, 12)
        with distributed.Client(cluster, set_as_default=False) as client:
            assert len(client.scheduler_info()["workers"]) == 2


def test_missing_dask_names_the_extra(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=re.escape("pip install 'gpucluster[dask]'")):
        with connect(n_workers=2):
            pass
    status, stdout, stderr = run([str(folder), "--out", str(tmp_path / "out"), "--workers", "2",
                                  *TINY], capsys)
    assert status == 1
    assert "gpucluster run: error:" in stderr and "pip install 'gpucluster[dask]'" in stderr
    assert not (tmp_path / "out" / "results").exists()


def test_scheduler_and_workers_exclude_each_other(folder, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", str(folder), "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not both"):
        with connect("tcp://127.0.0.1:1", 2):
            pass
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", str(folder), "--workers", "0"])
    assert exit_.value.code == 2
    assert "argument --workers: must be an integer >= 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("n_workers", [0, -1, 1.5, True, "2"])
def test_bad_worker_counts_are_refused(n_workers):
    with pytest.raises(ValueError, match="n_workers must be None or an integer >= 1"):
        local_cluster(n_workers)


def test_an_unreachable_scheduler_is_a_connection_error():
    with pytest.raises(ConnectionError, match="cannot reach the Dask scheduler"):
        with connect("tcp://127.0.0.1:9", timeout=1):
            pass

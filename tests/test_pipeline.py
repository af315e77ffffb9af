"""`run_images` (what `gpucluster run` calls): what it says and what work it skips."""

import functools
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")

from gpucluster import datasets, embed, pipeline  # noqa: E402
from gpucluster.embed import models  # noqa: E402

from .embed.imagegen import write_image_set  # noqa: E402

CLI = [sys.executable, "-m", "gpucluster.cli"]
TINY = {"model": "gpucluster-tiny", "pretrained": None, "device": "cpu", "num_workers": 0}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GPUCLUSTER_CACHE", str(tmp_path / "cache"))


class _Stop(Exception):
    pass


@pytest.mark.filterwarnings("ignore:Searching 12 rows")
def test_run_loads_no_model_when_every_image_is_reused(tmp_path, monkeypatch, capsys):
    write_image_set(tmp_path / "images", n=12, groups=3, seed=1)
    args = ([str(tmp_path / "images")], str(tmp_path / "out"))
    kwargs = dict(TINY, store=str(tmp_path / "store"), overwrite=True)
    pipeline.run_images(*args, **kwargs)
    assert "12 embedded" in capsys.readouterr().out

    def no_load(*a, **k):
        raise AssertionError("the model was loaded with nothing to embed")

    monkeypatch.setattr(models, "load_model", no_load)
    summary = pipeline.run_images(*args, **kwargs)
    out = capsys.readouterr().out
    assert summary["embedded"]["reused"] == 12 and summary["n_images"] == 12
    assert "nothing to embed: all 12 images reused from the store" in out
    assert "images/s" not in out


@pytest.mark.parametrize("model", ["efficientnet-lite0", "auto"])
def test_names_without_a_text_tower_are_refused_before_any_work(tmp_path, monkeypatch, model):
    monkeypatch.setattr(models, "clip_weights_available", lambda *a, **k: False)
    monkeypatch.setattr(embed, "embed_images", lambda *a, **k: pytest.fail("work was done"))
    with pytest.raises(ValueError, match="text tower") as info:
        pipeline.run_images([str(tmp_path)], str(tmp_path / "out"), model=model,
                            candidate_labels=["cat", "dog"])
    message = str(info.value)
    assert "efficientnet-lite0" in message and "--names" in message
    assert ("--model auto took it" in message) == (model == "auto")
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_run_command_refuses_names_with_efficientnet(tmp_path):
    write_image_set(tmp_path / "images", n=3, groups=1, seed=0)
    env = {**os.environ, "GPUCLUSTER_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(CLI + ["run", str(tmp_path / "images"), "--out", str(tmp_path / "out"),
                                 "--model", "efficientnet-lite0", "--names", "cat", "dog"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1
    assert "gpucluster run: error:" in done.stderr and "text tower" in done.stderr
    assert not (tmp_path / "out").exists()


def test_builtin_collection_is_written_once_then_used(tmp_path, monkeypatch, capsys):
    small = {"crops_per_photo": 1, "digits_per_class": 1}
    monkeypatch.setattr(datasets, "write_builtin_collection",
                        functools.partial(datasets.write_builtin_collection, **small))
    monkeypatch.setattr(datasets, "read_builtin_collection",
                        functools.partial(datasets.read_builtin_collection, **small))

    def stop(*a, **k):
        raise _Stop

    monkeypatch.setattr(embed, "embed_images", stop)
    folder = os.path.join(str(tmp_path / "cache"), "builtin-images")
    for expected in (f"writing the built-in image collection to {folder}",
                     f"using the built-in image collection in {folder}"):
        with pytest.raises(_Stop):
            pipeline.run_images(out=str(tmp_path / "out"), model="efficientnet-lite0")
        out = capsys.readouterr().out
        assert expected in out
        assert ("writing" in out) == expected.startswith("writing")


def test_a_local_cluster_of_one_worker_is_counted_in_the_singular(monkeypatch, capsys):
    from gpucluster.embed import _dask_client

    monkeypatch.setattr(_dask_client, "job_client", lambda *args, **kwargs: None)
    pipeline._dask_client(None, 1, "cpu", progress=True)
    assert "embedding on a local Dask cluster of 1 worker; the search runs here" in (
        capsys.readouterr().out)


def test_a_single_readable_image_is_refused_in_the_singular(tmp_path):
    write_image_set(tmp_path / "images", n=1, groups=1, seed=0)
    with pytest.raises(ValueError, match="^only 1 readable image: clustering needs at least 3"):
        pipeline.run_images([str(tmp_path / "images")], str(tmp_path / "out"),
                            store=str(tmp_path / "store"), **TINY)

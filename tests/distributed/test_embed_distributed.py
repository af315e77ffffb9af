"""embed_images on a Dask LocalCluster: the same store as one process, failures and kills resume.

The cluster (two worker processes, one thread each) is started once for the
module; each worker loads the random-weight test model, so nothing is downloaded.
"""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
distributed = pytest.importorskip("distributed")
from PIL import Image  # noqa: E402

from gpucluster.distributed.embed import embed_images as embed_on_dask  # noqa: E402
from gpucluster.embed import _shards  # noqa: E402
from gpucluster.embed.extract import embed_images  # noqa: E402
from gpucluster.embed.models import TINY_MODEL, from_module  # noqa: E402
from gpucluster.embed.store import EmbeddingStore, load_store  # noqa: E402

from ..embed.imagegen import write_image_set  # noqa: E402

N_IMAGES = 12
# A colour no generated image comes near: the Flaky model below acts on it.
POISON = (255, 0, 255)
LOCAL = {"device": "cpu", "num_workers": 0, "progress": False}


@pytest.fixture(scope="module")
def client():
    """Two worker processes on this machine, offline like every embedding test."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")  # the spawned workers inherit it
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c
    cluster.close()


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    write_image_set(folder, n=N_IMAGES, groups=3, seed=0)
    return folder


def write_poison(folder):
    """A solid POISON image, sorted after the generated ones (so in the last task)."""
    path = folder / "zz_poison.png"
    Image.new("RGB", (40, 30), POISON).save(path)
    return path


class Flaky(torch.nn.Module):
    """A small conv net that raises, or kills its process, on seeing a POISON image.

    ``on_poison``: None (embeds it like any image), "raise" (RuntimeError) or
    "exit" (``os._exit(1)`` once: it first deletes ``marker``, and does nothing
    when ``marker`` is gone, so Dask's retry of the task succeeds). The weights are
    seeded, so every Flaky has the same store configuration.
    """

    def __init__(self, on_poison=None, marker=None):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(3, 16, 5, stride=4)
        self.on_poison = on_poison
        self.marker = None if marker is None else str(marker)

    def forward(self, x):
        # mean 0, std 1: x holds the pixels scaled to [0, 1]
        poison = ((x[:, 0] > 0.9) & (x[:, 1] < 0.1) & (x[:, 2] > 0.9)).float().mean((1, 2)) > 0.2
        if bool(poison.any()):
            if self.on_poison == "raise":
                raise RuntimeError("poison image")
            if self.on_poison == "exit" and self.marker and os.path.exists(self.marker):
                os.remove(self.marker)
                os._exit(1)
        return torch.relu(self.conv(x)).mean((2, 3))


def flaky_model(**kwargs):
    return from_module(Flaky(**kwargs), image_size=32, mean=(0, 0, 0), std=(1, 1, 1))


def assert_consistent(store_path, expected_paths):
    """Each expected path once, every shard file referenced, nothing else."""
    store = EmbeddingStore.from_folder(store_path)
    with store.lock():  # sweeps what a killed or cancelled task left
        pass
    assert store.paths() == sorted(expected_paths)
    # every referenced shard loads (load_store), and there is no other shard file
    assert len(_shards.shard_files(os.path.join(store_path, "shards"))) == store.info()["n_shards"]


def assert_same_store(first, second):
    paths_a, X_a = load_store(first)
    paths_b, X_b = load_store(second)
    assert paths_a == paths_b
    # float16 storage: both runs round the same float32 values, up to batch-order noise
    np.testing.assert_allclose(X_a, X_b, atol=1e-3)


def test_cluster_run_gives_the_single_process_store(client, images, tmp_path):
    kwargs = dict(model=TINY_MODEL, pretrained=None, **LOCAL)
    local = embed_images([images], tmp_path / "local", **kwargs)
    report = embed_on_dask([images], tmp_path / "dask", client=client, **kwargs)
    assert (report.embedded, report.reused, report.skipped) == (N_IMAGES, 0, [])
    assert report.device == "cpu on 2 Dask workers"
    assert report.paths == local.paths
    assert_same_store(local.store, report.store)
    # 12 files on 2 workers: 4 tasks per worker of 2 files, one shard each
    assert EmbeddingStore.from_folder(report.store).info()["n_shards"] == 6
    assert_consistent(report.store, local.paths)

    # The store is the same store: nothing new on the cluster, nor in this process.
    again = embed_images([images], tmp_path / "dask", client=client, **kwargs)
    assert (again.embedded, again.reused) == (0, N_IMAGES)
    here = embed_images([images], tmp_path / "dask", **kwargs)
    assert (here.embedded, here.reused) == (0, N_IMAGES)


def test_failed_task_keeps_finished_work_and_the_rerun_embeds_the_rest(client, images, tmp_path):
    poison = write_poison(images)
    # 14 files, tasks of 2: the last task holds the poison and this plain image.
    plain = images / "zz_z_plain.png"
    Image.new("RGB", (40, 30), (90, 90, 90)).save(plain)
    model = flaky_model(on_poison="raise")
    with pytest.raises(RuntimeError, match="poison image") as failure:
        embed_images([images], tmp_path / "dask", model=model, client=client, **LOCAL)
    assert "run again to embed the rest" in "".join(getattr(failure.value, "__notes__", []))
    store = EmbeddingStore.from_folder(os.path.join(
        tmp_path / "dask", os.listdir(tmp_path / "dask")[0]))
    kept = store.paths()
    # Tasks run in submission order, so the tasks before the failed one have
    # finished and are kept; nothing of the failed task is.
    assert 0 < len(kept) <= N_IMAGES
    assert str(poison) not in kept and str(plain) not in kept

    poison.unlink()
    again = embed_images([images], tmp_path / "dask", model=model, client=client, **LOCAL)
    assert (again.embedded, again.reused) == (N_IMAGES + 1 - len(kept), len(kept))
    local = embed_images([images], tmp_path / "local", model=flaky_model(), **LOCAL)
    assert_same_store(local.store, again.store)
    assert_consistent(again.store, local.paths)


def test_one_worker_and_one_kept_image_are_counted_in_the_singular(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (40, 30), (90, 90, 90)).save(folder / "a_plain.png")
    write_poison(folder)  # sorted last: one task of one file each, the plain one first
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as one:
        with pytest.raises(RuntimeError, match="poison image") as failure:
            embed_images([folder], tmp_path / "failed", model=flaky_model(on_poison="raise"),
                         client=one, **LOCAL)
        report = embed_images([folder], tmp_path / "dask", model=flaky_model(), client=one,
                              **LOCAL)
    note = "".join(getattr(failure.value, "__notes__", []))
    assert "the 1 image embedded by the tasks that finished is kept in " in note
    assert report.device == "cpu on 1 Dask worker"


def test_a_worker_killed_mid_run_loses_nothing(client, images, tmp_path):
    write_poison(images)
    local = embed_images([images], tmp_path / "local", model=flaky_model(), **LOCAL)
    marker = tmp_path / "kill-once"
    marker.touch()
    model = flaky_model(on_poison="exit", marker=marker)
    report = embed_images([images], tmp_path / "dask", model=model, client=client, **LOCAL)
    assert not marker.exists()  # a worker did die on the poison image
    assert (report.embedded, report.reused) == (N_IMAGES + 1, 0)
    assert_same_store(local.store, report.store)
    assert_consistent(report.store, local.paths)
    client.wait_for_workers(2, timeout=60)  # the nanny's new worker, for later tests


def test_a_worker_that_cannot_see_the_images_is_refused_before_any_task(client, images, tmp_path,
                                                                       monkeypatch):
    from gpucluster.embed import _dask

    monkeypatch.setattr(_dask, "worker_facts", _blind_facts)
    with pytest.raises(FileNotFoundError, match="not visible on Dask worker"):
        embed_images([images], tmp_path / "dask", model=TINY_MODEL, pretrained=None,
                     client=client, **LOCAL)
    store = os.path.join(tmp_path / "dask", os.listdir(tmp_path / "dask")[0])
    assert EmbeddingStore.from_folder(store).paths() == []


def _blind_facts(shard_dir, probe_path, device):
    """worker_facts of a worker on another machine, without the image folder."""
    return {"host": "elsewhere", "cpus": 1, "daemon": True, "store": True, "images": False,
            "device": "cpu", "decoders": 1}


def test_decoding_processes_share_each_host():
    from gpucluster.embed._dask import decoding_processes, files_per_task

    def fact(host, cpus):
        return {"host": host, "cpus": cpus, "decoders": 4}

    two_on_a = {"w1": fact("a", 16), "w2": fact("a", 16), "w3": fact("b", 4)}
    assert decoding_processes(two_on_a, None) == 4  # a: 16 // 2 = 8, capped at 4; b: 4
    assert decoding_processes({"w1": fact("a", 2), "w2": fact("a", 2)}, None) == 0
    assert decoding_processes(two_on_a, 3) == 3
    assert files_per_task(12, 2) == 2
    assert files_per_task(10 ** 6, 2) == 2048
    assert files_per_task(1, 8) == 1


def test_adopt_shard_checks_the_file_and_a_stray_temporary_is_swept(tmp_path):
    store = EmbeddingStore(tmp_path / "store", {"model": "m", "dtype": "float32"})
    shard_dir = os.path.join(store.path, "shards")
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    paths = ["/x/a.png", "/x/b.png"]
    with store.lock():
        good = _shards.write_temporary(shard_dir, _shards.encode(values))
        half = _shards.write_temporary(shard_dir, _shards.encode(values.astype(np.float16)))
        with pytest.raises(ValueError, match="Got 1 path but .* holds 2 rows"):
            store.adopt_shard(good, paths[:1], [None])
        with pytest.raises(ValueError, match="float16"):
            store.adopt_shard(half, paths, [None, None])
        with pytest.raises(ValueError, match="not in the store's shard folder"):
            store.adopt_shard(tmp_path / "elsewhere.tmp", paths[:1], [None])
        with pytest.raises(FileNotFoundError, match="does not share"):
            store.adopt_shard(os.path.join(shard_dir, ".gone.tmp"), paths[:1], [None])
        store.adopt_shard(good, paths, [(1, 2), (3, 4)])
    found, X = store.load()
    assert found == paths
    np.testing.assert_array_equal(X, values)
    with pytest.raises(RuntimeError, match="under the store's lock"):
        store.adopt_shard(half, paths, [None, None])
    with store.lock():  # the next writer deletes the temporary nobody adopted
        pass
    assert not os.path.exists(half)
    assert list(_shards.shard_files(shard_dir)) == [1]

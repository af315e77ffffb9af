"""The embedding store: round trips, incremental runs, configurations, crashes, writers."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from gpucluster.embed.store import (
    EmbeddingStore,
    StoreConfigError,
    file_stats,
    load_store,
    open_store,
)

from ._store_worker import embedding_of, store_config

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_store_worker.py")
DIM = 8


def make_files(folder, n, prefix="img"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{prefix}_{i:03d}.jpg"
        path.write_bytes(b"x" * (i + 1))
        paths.append(str(path))
    return paths


def expected(paths, dtype, dim=DIM):
    """What the store must give back: the embeddings rounded to the shard dtype, as float32."""
    return np.stack([embedding_of(p, dim) for p in paths]).astype(dtype).astype(np.float32)


def embed(store, paths, batch=3, dim=DIM):
    with store.lock():
        for start in range(0, len(paths), batch):
            chunk = paths[start : start + batch]
            X = np.stack([embedding_of(p, dim) for p in chunk])
            store.write_batch(chunk, file_stats(chunk), X)


def manifest_rows(store):
    with sqlite3.connect(os.path.join(store.path, "manifest.sqlite")) as conn:
        return conn.execute("SELECT path, shard, row, status FROM images").fetchall()


def shard_numbers(store):
    folder = os.path.join(store.path, "shards")
    return sorted(int(name[:-4]) for name in os.listdir(folder) if name[:-4].isdigit())


def leftovers(store):
    """Temporary files and unreferenced shards in the store folder."""
    folder = os.path.join(store.path, "shards")
    temps = [n for n in os.listdir(folder) if n.endswith(".tmp")]
    referenced = {shard for _, shard, _, status in manifest_rows(store) if status == "ok"}
    orphans = [n for n in shard_numbers(store) if n not in referenced]
    return temps, orphans


def assert_consistent(store, dtype):
    """Every manifest row points into an existing shard and holds its path's embedding."""
    rows = manifest_rows(store)
    paths = [p for p, _, _, status in rows if status == "ok"]
    assert len(paths) == len(set(paths))
    for _, shard, row, status in rows:
        if status == "ok":
            shard_file = os.path.join(store.path, "shards", f"{shard:06d}.npy")
            data = np.load(shard_file, allow_pickle=False)
            assert row < data.shape[0]
    loaded, X = store.load()
    assert loaded == sorted(paths)
    if loaded:
        np.testing.assert_array_equal(X, expected(loaded, dtype))
    return loaded


# --------------------------------------------------------------------------
# Round trips and views


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_round_trip_gives_float32_by_default_and_native_on_request(tmp_path, dtype):
    paths = make_files(tmp_path / "images", 7)
    store = EmbeddingStore(tmp_path / "store", store_config(dtype, DIM))
    embed(store, paths)

    loaded, X = store.load()
    assert loaded == sorted(paths)
    assert X.dtype == np.float32 and X.shape == (7, DIM) and X.flags.c_contiguous
    np.testing.assert_array_equal(X, expected(loaded, dtype))

    _, native = store.load(dtype="native")
    assert native.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(native.astype(np.float32), X)

    shard = np.load(os.path.join(store.path, "shards", "000001.npy"), allow_pickle=False)
    assert shard.dtype == np.dtype(dtype) and shard.shape == (3, DIM)
    assert store.info()["counts"] == {"ok": 7, "failed": 0}
    assert store.info()["n_shards"] == 3


def test_load_follows_the_requested_order_and_names_missing_paths(tmp_path):
    paths = make_files(tmp_path / "images", 6)
    store = EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    embed(store, paths)
    wanted = [paths[4], paths[0], paths[5]]
    loaded, X = store.load(wanted)
    assert loaded == wanted
    np.testing.assert_array_equal(X, expected(wanted, "float32"))

    with pytest.raises(KeyError, match="nowhere.jpg"):
        store.load([paths[0], str(tmp_path / "nowhere.jpg")])


def test_load_store_returns_torch_when_asked(tmp_path):
    torch = pytest.importorskip("torch")
    paths = make_files(tmp_path / "images", 3)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    loaded, X = load_store(tmp_path / "store", array="torch")
    assert isinstance(X, torch.Tensor) and X.dtype == torch.float32
    np.testing.assert_array_equal(X.numpy(), expected(loaded, "float16"))
    with pytest.raises(ValueError, match="array must be one of"):
        store.load(array="jax")


def test_large_requests_and_small_requests_read_the_same_rows(tmp_path):
    # A request of most paths scans the table, a small one looks paths up.
    paths = [str(tmp_path / f"p{i:04d}.jpg") for i in range(400)]
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    with store.lock():
        for start in range(0, 400, 50):
            chunk = paths[start : start + 50]
            X = np.stack([embedding_of(p, DIM) for p in chunk])
            store.write_batch(chunk, [(1, 1)] * 50, X)
    order = list(np.random.default_rng(0).permutation(paths))
    _, big = store.load(order)
    _, small = store.load(order[:10])
    np.testing.assert_array_equal(big, expected(order, "float16"))
    np.testing.assert_array_equal(small, big[:10])


# --------------------------------------------------------------------------
# Incremental runs


def test_plan_after_writing_has_nothing_to_do(tmp_path):
    paths = make_files(tmp_path / "images", 5)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    assert store.plan(paths) == (paths, [])
    embed(store, paths)
    assert store.plan(paths) == ([], paths)
    # A fresh object on the same folder sees the same.
    again = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    assert again.plan(paths) == ([], paths)


def test_touching_a_file_makes_exactly_it_todo(tmp_path):
    paths = make_files(tmp_path / "images", 5)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    st = os.stat(paths[2])
    os.utime(paths[2], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    todo, reused = store.plan(paths)
    assert todo == [paths[2]]
    assert reused == paths[:2] + paths[3:]


def test_a_changed_size_with_the_same_mtime_makes_it_todo(tmp_path):
    paths = make_files(tmp_path / "images", 4)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    st = os.stat(paths[1])
    with open(paths[1], "ab") as f:
        f.write(b"more")
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(paths[1]).st_mtime_ns == st.st_mtime_ns
    assert store.plan(paths)[0] == [paths[1]]


def test_re_embedding_a_path_replaces_its_row(tmp_path):
    paths = make_files(tmp_path / "images", 4)
    store = EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    embed(store, paths)
    new = np.full((1, DIM), 0.5, dtype=np.float32)
    store.write_batch([paths[1]], file_stats([paths[1]]), new)
    loaded, X = store.load()
    assert loaded == paths
    np.testing.assert_array_equal(X[1], new[0])
    others = [paths[0], paths[2], paths[3]]
    np.testing.assert_array_equal(X[[0, 2, 3]], expected(others, "float32"))


def test_removed_files_leave_the_view_and_prune_drops_them(tmp_path):
    paths = make_files(tmp_path / "images", 6)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    os.remove(paths[0])
    os.remove(paths[4])
    current = [p for p in paths if os.path.exists(p)]

    assert store.plan(current) == ([], current)
    loaded, X = store.load(current)
    assert loaded == current
    np.testing.assert_array_equal(X, expected(current, "float16"))

    assert store.prune(current) == 2
    assert store.load()[0] == current
    assert store.info()["counts"]["ok"] == 4
    assert store.prune(current) == 0


def test_failures_are_recorded_retried_by_default_and_not_loaded(tmp_path):
    paths = make_files(tmp_path / "images", 3)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths[:2])
    store.write_failures([(paths[2], "truncated")], file_stats([paths[2]]))
    assert store.failures() == [(paths[2], "truncated")]
    assert store.failures([paths[0], paths[2]]) == [(paths[2], "truncated")]
    assert store.plan(paths) == ([paths[2]], paths[:2])
    assert store.plan(paths, retry_failed=False) == ([], paths[:2])
    assert store.load()[0] == paths[:2]
    with pytest.raises(KeyError, match="img_002"):
        store.load(paths)
    assert store.info()["counts"] == {"ok": 2, "failed": 1}
    assert store.paths() == paths
    assert store.paths("ok") == paths[:2] and store.paths("failed") == paths[2:]


def test_clear_forgets_everything_for_a_forced_run(tmp_path):
    paths = make_files(tmp_path / "images", 4)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    store.clear()
    assert store.plan(paths) == (paths, [])
    assert store.load()[0] == []
    assert shard_numbers(store) == []
    embed(store, paths)
    # Numbers of cleared shards are not reused.
    assert min(shard_numbers(store)) > 2
    assert_consistent(store, "float16")


def test_compact_rewrites_shards_without_changing_the_view(tmp_path):
    paths = make_files(tmp_path / "images", 6)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths, batch=2)
    os.remove(paths[0])
    store.prune(paths[1:])
    before = store.load()
    result = store.compact()
    assert result["rewritten"]
    assert result["after"]["n_shards"] == 1
    after = store.load()
    assert after[0] == before[0]
    np.testing.assert_array_equal(after[1], before[1])
    assert store.compact()["rewritten"] is False


# --------------------------------------------------------------------------
# Configurations


def test_another_configuration_gets_another_folder(tmp_path):
    a = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    b = EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    c = EmbeddingStore(tmp_path / "store", {**store_config("float16", DIM), "normalize": False})
    assert len({a.path, b.path, c.path}) == 3
    assert os.path.dirname(a.path) == str(tmp_path / "store")
    assert os.path.basename(a.path).startswith("worker-model-")
    # The same configuration, keys in another order, is the same folder.
    same = EmbeddingStore(tmp_path / "store", dict(reversed(store_config("float16", DIM).items())))
    assert same.path == a.path


def test_a_folder_with_another_config_json_is_refused(tmp_path):
    paths = make_files(tmp_path / "images", 2)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    with pytest.raises(StoreConfigError, match="dtype"):
        EmbeddingStore(store.path, store_config("float32", DIM))
    with pytest.raises(StoreConfigError, match="keys that differ: dim"):
        open_store(store.path, store_config("float16", DIM + 1))

    with open(os.path.join(store.path, "config.json"), "w") as f:
        json.dump({**store_config("float16", DIM), "normalize": True}, f)
    with pytest.raises(StoreConfigError, match="normalize"):
        EmbeddingStore(tmp_path / "store", store_config("float16", DIM))


def test_open_store_finds_the_only_configuration(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        open_store(tmp_path / "store")
    paths = make_files(tmp_path / "images", 2)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    for where in (tmp_path / "store", store.path):
        opened = open_store(where)
        assert opened.path == store.path and opened.config == store.config
        assert opened.load()[0] == paths
    EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    with pytest.raises(ValueError, match="holds 2 embedding stores"):
        open_store(tmp_path / "store")
    with pytest.raises(FileNotFoundError, match="No embedding store for this configuration"):
        open_store(tmp_path / "other", store_config("float16", DIM))


def test_bad_configurations_and_batches_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="dtype"):
        EmbeddingStore(tmp_path / "store", {"model": "m", "dtype": "int8"})
    with pytest.raises(TypeError, match="JSON"):
        EmbeddingStore(tmp_path / "store", {"model": object()})
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    one = [str(tmp_path / "a.jpg")]
    with pytest.raises(ValueError, match="must match"):
        store.write_batch(one, [(1, 1)], np.zeros((2, DIM)))
    with pytest.raises(ValueError, match="dim"):
        store.write_batch(one, [(1, 1)], np.zeros((1, DIM + 1)))
    with pytest.raises(ValueError, match="NaN or inf"):
        store.write_batch(one, [(1, 1)], np.full((1, DIM), 70000.0))
    with pytest.raises(ValueError, match="numeric"):
        store.write_batch(one, [(1, 1)], np.array([[object()] * DIM]))
    assert store.load()[0] == []


# --------------------------------------------------------------------------
# Crashes, leftovers, locking


def test_temp_files_and_orphan_shards_are_ignored_then_cleaned(tmp_path):
    paths = make_files(tmp_path / "images", 3)
    store = EmbeddingStore(tmp_path / "store", store_config("float16", DIM))
    embed(store, paths)
    shards = os.path.join(store.path, "shards")
    np.save(os.path.join(shards, "000007.npy"), np.ones((2, DIM), np.float16))
    with open(os.path.join(shards, ".000008.npy.123.abcd.tmp"), "wb") as f:
        f.write(b"\x93NUMPY half")
    loaded, X = store.load()
    np.testing.assert_array_equal(X, expected(loaded, "float16"))
    assert leftovers(store) == ([".000008.npy.123.abcd.tmp"], [7])
    with store.lock():
        pass
    assert leftovers(store) == ([], [])
    store.write_batch([paths[0]], file_stats([paths[0]]), embedding_of(paths[0], DIM)[None])
    assert assert_consistent(store, "float16") == paths


def run_worker(root, paths_json, *args):
    return subprocess.run(
        [sys.executable, WORKER, str(root), str(paths_json), "--dim", str(DIM), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def summary_of(completed):
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture
def collection(tmp_path):
    paths = make_files(tmp_path / "images", 12)
    paths_json = tmp_path / "paths.json"
    paths_json.write_text(json.dumps(paths))
    return paths, paths_json


@pytest.mark.parametrize(
    ("point", "committed"),
    [
        ("shard_partial", 4),
        ("shard_written", 4),
        ("shard_renamed", 4),
        ("manifest_pending", 4),
        ("manifest_committed", 6),
    ],
)
def test_a_writer_killed_at_any_point_resumes_to_the_same_store(
    tmp_path, collection, point, committed
):
    paths, paths_json = collection
    root = tmp_path / "store"
    crashed = run_worker(root, paths_json, "--crash", point, "--crash-at", "3")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    store = open_store(root)
    # Killed during the third batch of two: the first two batches (or three once the
    # third committed) are there, nothing else, and every value is right.
    assert assert_consistent(store, "float16") == paths[:committed]
    temps, orphans = leftovers(store)
    assert len(temps) == (point in ("shard_partial", "shard_written"))
    assert len(orphans) == (point in ("shard_renamed", "manifest_pending"))

    summary = summary_of(run_worker(root, paths_json))
    assert summary == {"embedded": len(paths) - committed, "reused": committed}
    assert assert_consistent(store, "float16") == paths
    assert leftovers(store) == ([], [])


def start_worker(root, paths_json, *args):
    worker = subprocess.Popen(
        [sys.executable, WORKER, str(root), str(paths_json), "--dim", str(DIM), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout.readline().strip() == "started"
    return worker


def test_writers_killed_after_random_delays_end_as_an_uninterrupted_run(tmp_path, collection):
    paths, paths_json = collection
    reference_root = tmp_path / "reference"
    worker = start_worker(reference_root, paths_json, "--batch", "1")
    started = time.monotonic()
    worker.communicate(timeout=60)
    run_seconds = time.monotonic() - started
    assert worker.returncode == 0
    _, reference = open_store(reference_root).load()

    # Kill at random moments of a run (measured above, so that most kills land
    # inside it on a fast or a slow machine); each leaves a consistent store.
    root = tmp_path / "store"
    rng = np.random.default_rng(0)
    for fraction in rng.uniform(0.05, 0.6, size=3):
        worker = start_worker(root, paths_json, "--batch", "1")
        time.sleep(fraction * run_seconds)
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=60)
        assert_consistent(open_store(root), "float16")
    summary_of(run_worker(root, paths_json, "--batch", "1"))
    loaded, X = open_store(root).load()
    assert loaded == paths
    np.testing.assert_array_equal(X, reference)


@pytest.mark.parametrize("lock", ["run", "batch"])
def test_two_concurrent_writers_leave_a_consistent_store(tmp_path, collection, lock):
    paths, paths_json = collection
    root = tmp_path / "store"
    EmbeddingStore(root, store_config("float16", DIM))
    command = [sys.executable, WORKER, str(root), str(paths_json), "--dim", str(DIM)]
    command += ["--lock", lock]
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=60) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    store = open_store(root)
    assert assert_consistent(store, "float16") == paths
    assert store.info()["counts"]["ok"] == len(paths)
    if lock == "run":
        # Held for the whole run, the lock makes the second writer find everything done.
        assert sorted(s["embedded"] for s in summaries) == [0, len(paths)]
    with store.lock():
        pass
    assert leftovers(store) == ([], [])


def test_lock_waits_for_another_process(tmp_path, collection):
    _, paths_json = collection
    root = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, WORKER, str(root), str(paths_json), "--dim", str(DIM), "--hold"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        store = open_store(root)
        with pytest.raises(TimeoutError, match="lock"):
            with store.lock(timeout=0.2):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    with store.lock(timeout=30):
        with store.lock():  # reentrant in the thread that holds it
            pass


def test_store_module_imports_without_torch():
    code = "import sys; import gpucluster.embed.store; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------
# File names that are not valid UTF-8


def non_utf8_file(folder, name=b"x\xe9.jpg", data=b"odd"):
    """A file whose name is not valid UTF-8, as the str os.listdir gives (skip where refused)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = os.path.join(os.fsencode(folder), name)
    try:
        with open(raw, "wb") as f:
            f.write(data)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not valid UTF-8")
    listed = [n for n in os.listdir(folder) if os.fsencode(n) == name]
    if not listed:
        pytest.skip("this file system rewrites file names that are not valid UTF-8")
    return os.path.join(str(folder), listed[0])


def test_a_non_utf8_file_name_round_trips_through_the_store(tmp_path):
    paths = make_files(tmp_path / "images", 24)
    odd = non_utf8_file(tmp_path / "images")
    assert "\udce9" in odd
    store = EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    embed(store, [*paths, odd], batch=25)

    # One batch holding the odd name: nothing of it is lost.
    everything = sorted([*paths, odd])
    assert store.paths() == everything
    found, X = store.load()
    assert found == everything
    np.testing.assert_array_equal(X, expected(everything, "float32"))
    # A small request looks paths up one by one; a large one scans the table.
    for wanted in ([odd], [odd, *paths[:3]], [*paths, odd]):
        found, X = store.load(wanted)
        assert found == wanted
        np.testing.assert_array_equal(X, expected(wanted, "float32"))
    assert store.plan([*paths, odd]) == ([], [*paths, odd])
    embed(store, [odd])  # its first row is superseded: compact rewrites the shards
    assert store.compact()["rewritten"]
    found, X = store.load()
    assert found == everything
    np.testing.assert_array_equal(X, expected(everything, "float32"))
    # Valid names stay TEXT, as in every store written before; the odd one is its bytes.
    kinds = {path: type(path) for path, *_ in manifest_rows(store)}
    assert kinds[paths[0]] is str
    assert kinds[os.fsencode(odd)] is bytes

    os.utime(odd, ns=(1, 1))
    assert store.plan([odd, paths[0]]) == ([odd], [paths[0]])
    assert store.prune(paths) == 1
    assert store.paths() == paths


def test_a_failure_with_a_non_utf8_name_and_reason_is_recorded(tmp_path):
    odd = non_utf8_file(tmp_path / "images")
    store = EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    store.write_failures([(odd, f"cannot identify image file {odd!s}")], file_stats([odd]))
    ((path, reason),) = store.failures()
    assert path == odd
    assert reason.endswith("x\\xe9.jpg")
    assert store.failures([odd]) == [(odd, reason)]


def test_errors_count_one_path_in_the_singular(tmp_path):
    store = EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    one = [str(tmp_path / "a.jpg")]
    with pytest.raises(ValueError, match="^Got 1 path but 2 embeddings;"):
        store.write_batch(one, [(1, 1)], np.zeros((2, DIM)))
    with pytest.raises(ValueError, match="^Got 1 path but 2 stats;"):
        store.write_batch(one, [(1, 1), (2, 2)], np.zeros((1, DIM)))
    with pytest.raises(ValueError, match=r"^1 path cannot be stored \(no file name decodes to it\)"):
        store.write_batch([str(tmp_path / "lone\ud800.jpg")], [None], np.ones((1, DIM)))
    with pytest.raises(KeyError, match="1 path has no embedding"):
        store.load(one)


def test_a_path_no_file_name_decodes_to_is_refused_by_name(tmp_path):
    from gpucluster.embed.store import storable_path

    paths = make_files(tmp_path / "images", 2)
    bad = str(tmp_path / "images" / "lone\ud800.jpg")
    assert storable_path(paths[0]) and not storable_path(bad)
    store = EmbeddingStore(tmp_path / "store", store_config("float32", DIM))
    with pytest.raises(ValueError, match=r"lone\\ud800\.jpg"):
        store.write_batch([paths[0], bad], [None, None], np.ones((2, DIM), np.float32))
    assert store.paths() == []

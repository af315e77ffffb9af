"""load_vectors: .npy, .csv, .parquet and an embedding store; clear errors otherwise."""

import numpy as np
import pytest

from gpucluster.auto import load_labels, load_vectors


def test_npy_is_read_as_float32(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "x.npy", X)
    loaded, paths = load_vectors(tmp_path / "x.npy")
    assert loaded.dtype == np.float32 and paths is None
    np.testing.assert_array_equal(loaded, X)


def test_npy_with_objects_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="obj.npy"):
        load_vectors(tmp_path / "obj.npy")


@pytest.mark.parametrize("content, shape", [
    ("a,b,c\n1,2,3\n4,5,6.5\n", (2, 3)),
    ("1,2,3\n4,5,6.5\n\n", (2, 3)),
], ids=["header", "no-header"])
def test_csv_with_or_without_header(tmp_path, content, shape):
    (tmp_path / "x.csv").write_text(content)
    X, paths = load_vectors(tmp_path / "x.csv")
    assert X.shape == shape and paths is None
    assert X[1, 2] == pytest.approx(6.5)


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,x\n", "not a number"),
    ("1,2\n3\n", "row 2 of the data has 1 column, the first has 2"),
    ("a,b\n", "no data rows"),
    ("1,nan\n2,3\n", "NaN"),
], ids=["text-cell", "ragged", "header-only", "nan"])
def test_bad_csv_raises_value_error(tmp_path, content, message):
    (tmp_path / "x.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        load_vectors(tmp_path / "x.csv")


def test_wrong_rank_unknown_extension_and_missing_file(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros(5))
    with pytest.raises(ValueError, match="2-D"):
        load_vectors(tmp_path / "v.npy")
    (tmp_path / "x.txt").write_text("1 2")
    with pytest.raises(ValueError, match="unknown input type"):
        load_vectors(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        load_vectors(tmp_path / "missing.npy")


def test_parquet_numeric_and_list_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": [4, 5, 6]}), tmp_path / "cols.parquet")
    X, _ = load_vectors(tmp_path / "cols.parquet")
    np.testing.assert_array_equal(X, [[1, 4], [2, 5], [3, 6]])
    pq.write_table(pa.table({"embedding": [[1.0, 2.0], [3.0, 4.0]]}), tmp_path / "list.parquet")
    X, _ = load_vectors(tmp_path / "list.parquet")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    pq.write_table(pa.table({"name": ["a", "b"]}), tmp_path / "text.parquet")
    with pytest.raises(ValueError, match="name"):
        load_vectors(tmp_path / "text.parquet")


def test_parquet_without_pyarrow_names_the_package(tmp_path, monkeypatch):
    import sys

    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        load_vectors(tmp_path / "x.parquet")


def test_store_folder_goes_through_load_store(tmp_path, monkeypatch):
    store = pytest.importorskip("gpucluster.embed.store")
    calls = []

    def fake_load_store(root, **kwargs):
        calls.append(root)
        return ["/a.jpg", "/b.jpg"], np.ones((2, 4), dtype=np.float16)

    monkeypatch.setattr(store, "load_store", fake_load_store)
    X, paths = load_vectors(tmp_path)
    assert calls == [str(tmp_path)]
    assert X.dtype == np.float32 and X.shape == (2, 4)
    assert paths == ["/a.jpg", "/b.jpg"]


def test_a_real_embedding_store_round_trips(tmp_path):
    store_module = pytest.importorskip("gpucluster.embed.store")
    files = []
    for name in ("b.jpg", "a.jpg", "c.jpg"):
        (tmp_path / name).write_bytes(name.encode())
        files.append(str(tmp_path / name))
    embeddings = np.arange(12, dtype=np.float32).reshape(3, 4)
    store = store_module.EmbeddingStore(tmp_path / "store",
                                        {"model": "test", "dtype": "float32", "dim": 4})
    with store.lock():
        store.write_batch(files, store_module.file_stats(files), embeddings)
    X, paths = load_vectors(tmp_path / "store")
    assert paths == sorted(files)
    np.testing.assert_array_equal(X, embeddings[[1, 0, 2]])


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b""), "not a plain numeric .npy"),
    (lambda p: p.write_bytes(b"label,1\n"), "not a plain numeric .npy"),
    (lambda p: np.save(p, np.array([["a", "b"]])), "real numbers"),
    (lambda p: np.save(p, np.zeros((2, 0))), "empty"),
], ids=["empty-file", "not-npy", "strings", "no-columns"])
def test_bad_npy_vectors_raise_value_error_naming_the_file(tmp_path, write, message):
    write(tmp_path / "x.npy")
    with pytest.raises(ValueError, match=message) as info:
        load_vectors(tmp_path / "x.npy")
    assert "x.npy" in str(info.value)


def test_labels_are_read_as_int64(tmp_path):
    np.save(tmp_path / "y.npy", np.array([0, 2, 1], dtype=np.int32))
    labels = load_labels(tmp_path / "y.npy", n_samples=3)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [0, 2, 1])


class _Unpickled:
    """Records being unpickled, which a loader must never do."""

    loaded = False

    def __reduce__(self):
        return (_Unpickled._mark, ())

    @staticmethod
    def _mark():
        _Unpickled.loaded = True
        return _Unpickled()


@pytest.mark.parametrize("write, message", [
    (lambda p: np.save(p, np.zeros((3, 1), dtype=np.int64)), "1-D"),
    (lambda p: np.save(p, np.array([0.0, 1.5, 1.0])), "integer"),
    (lambda p: np.save(p, np.array(["a", "b", "c"])), "integer"),
    (lambda p: np.save(p, np.array([_Unpickled()] * 3, dtype=object), allow_pickle=True),
     "not a plain numeric .npy"),
    (lambda p: p.write_bytes(b"\x93NUMPY"), "not a plain numeric .npy"),
    (lambda p: np.save(p, np.arange(4)), "4 labels for 3 rows"),
    (lambda p: np.save(p, np.arange(1)), "1 label for 3 rows"),
], ids=["2-D", "float", "strings", "pickle", "truncated", "length", "one-label"])
def test_bad_labels_raise_value_error_naming_the_file(tmp_path, write, message):
    write(tmp_path / "y.npy")
    with pytest.raises(ValueError, match=message) as info:
        load_labels(tmp_path / "y.npy", n_samples=3)
    assert "y.npy" in str(info.value)
    assert not _Unpickled.loaded


def test_labels_must_be_an_existing_npy_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_labels(tmp_path / "missing.npy")
    (tmp_path / "y.csv").write_text("0\n1\n")
    with pytest.raises(ValueError, match=r"\.npy"):
        load_labels(tmp_path / "y.csv")

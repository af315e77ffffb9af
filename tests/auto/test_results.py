"""Results on disk: summary.json and its schema, labels.npy, info.json, overwrite rules."""

import json
import os

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster.auto import load_result, search, validate_summary
from gpucluster.auto.schema import SCHEMA_ID, SUMMARY_SCHEMA


@pytest.fixture(scope="module")
def result():
    X, y = make_blobs(n_samples=300, n_features=4, centers=3, random_state=0)
    return search(X, algorithms=["kmeans", "hdbscan", "finch"], mode="fast", labels=y,
                  random_state=0, progress=False, top=3)


def test_saved_folder_follows_the_layout_and_validates(result, tmp_path):
    out = result.save(tmp_path / "out", paths=[f"img_{i}.jpg" for i in range(300)])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["schema"] == SCHEMA_ID
    assert validate_summary(summary) is summary
    assert len(summary["ranking"]) == len(result.ranking) >= 1
    first = summary["ranking"][0]
    algorithm = result.candidates[result.ranking[0]]["algorithm"]
    assert first["folder"] == f"rank_01_{algorithm}"
    labels = np.load(os.path.join(out, first["folder"], "labels.npy"), allow_pickle=False)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, result.best_labels())
    info = json.loads((tmp_path / "out" / first["folder"] / "info.json").read_text())
    assert info["rank"] == 1 and info["candidate"] == result.ranking[0]
    assert sum(info["sizes"].values()) + info["noise"] == 300
    assert json.loads((tmp_path / "out" / "paths.json").read_text())[5] == "img_5.jpg"
    # The fixed pieces, and the trees of the algorithms searched (HDBSCAN, FINCH), once each.
    assert set(summary["timings"]["shared"]) == {"normalize", "pca", "knn", "silhouette_sample",
                                                 "hdbscan_trees", "finch_partitions"}
    assert {"ARI", "AMI", "V-measure"} <= set(summary["candidates"][first["candidate"]]["scores"])


def test_load_result_reads_back_labels_and_info(result, tmp_path):
    result.save(tmp_path / "out")
    loaded = load_result(tmp_path / "out")
    assert loaded["ranking"][0]["candidate"] == result.ranking[0]
    for rank in range(1, len(result.ranking) + 1):
        np.testing.assert_array_equal(loaded.labels(rank), result.labels(rank))
    assert loaded.info(1)["algorithm"] == result.candidate(1)["algorithm"]
    assert loaded.paths() is None
    with pytest.raises(ValueError, match="rank"):
        loaded.labels(len(result.ranking) + 1)


@pytest.mark.parametrize("corrupt, field", [
    (lambda s: s.pop("ranking"), r"ranking: missing"),
    (lambda s: s.__setitem__("schema", "other/2"), r"schema"),
    (lambda s: s["candidates"][0].__setitem__("status", "great"), r"candidates\[0\]\.status"),
    (lambda s: s["candidates"][0]["scores"].__setitem__("balance", "high"),
     r"candidates\[0\]\.scores\.balance"),
    (lambda s: s["ranking"][0].__setitem__("candidate", 9999), r"ranking\[0\]\.candidate"),
    (lambda s: s["ranking"][0].__setitem__("folder", "../x"), r"ranking\[0\]\.folder"),
    (lambda s: s["data"].__setitem__("n_samples", -1), r"data\.n_samples"),
    (lambda s: s["timings"]["shared"].pop("knn"), r"timings\.shared\.knn"),
    (lambda s: s["timings"]["shared"].__setitem__("hdbscan_trees", -1.0),
     r"timings\.shared\.hdbscan_trees"),
    (lambda s: s.__setitem__("cut_short", "no"), r"cut_short"),
    (lambda s: s["candidates"][0].__setitem__("warnings", "one line"),
     r"candidates\[0\]\.warnings"),
], ids=["no-ranking", "schema-id", "status", "score-type", "rank-target", "folder",
        "n_samples", "timing", "shared-tree-timing", "cut_short", "warnings"])
def test_corrupted_summary_fails_validation_naming_the_field(result, tmp_path, corrupt, field):
    result.save(tmp_path / "out")
    path = tmp_path / "out" / "summary.json"
    summary = json.loads(path.read_text())
    corrupt(summary)
    with pytest.raises(ValueError, match=field):
        validate_summary(summary)
    path.write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=field):
        load_result(tmp_path / "out")


def test_a_summary_written_before_the_shared_tree_timings_still_loads(result, tmp_path):
    """Older summaries have only the four fixed shared pieces; the trees are optional."""
    from gpucluster.auto.schema import OPTIONAL_SHARED_TIMINGS

    result.save(tmp_path / "out")
    path = tmp_path / "out" / "summary.json"
    summary = json.loads(path.read_text())
    assert set(OPTIONAL_SHARED_TIMINGS) & set(summary["timings"]["shared"])
    for key in OPTIONAL_SHARED_TIMINGS:
        summary["timings"]["shared"].pop(key, None)
    path.write_text(json.dumps(summary))
    loaded = load_result(tmp_path / "out")
    assert set(loaded["timings"]["shared"]) == {"normalize", "pca", "knn", "silhouette_sample"}
    np.testing.assert_array_equal(loaded.labels(1), result.labels(1))


def test_schema_documents_every_required_top_level_field():
    assert set(SUMMARY_SCHEMA["required"]) == set(SUMMARY_SCHEMA["properties"])


def test_existing_folder_is_refused_unless_overwrite(result, tmp_path):
    out = tmp_path / "out"
    result.save(out)
    with pytest.raises(FileExistsError, match="overwrite"):
        result.save(out)
    (out / "notes.txt").write_text("mine")
    (out / "rank_99_stale").mkdir()
    (out / "paths.json").write_text("[]")
    result.save(out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "rank_99_stale").exists()
    assert not (out / "paths.json").exists()
    load_result(out)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("x")
    with pytest.raises(FileExistsError):
        result.save(other)


def test_save_rejects_paths_of_the_wrong_length(result, tmp_path):
    with pytest.raises(ValueError, match="300 strings"):
        result.save(tmp_path / "out", paths=["a.jpg"])


def test_load_result_without_summary_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="summary.json"):
        load_result(tmp_path)


def test_table_names_the_runners_up_nearly_tied_with_rank_one():
    from gpucluster.auto.results import TIE_MARGIN, SearchResult

    def candidate(i, composite):
        return {"id": i, "algorithm": "kmeans", "params": {"n_clusters": i + 2},
                "n_clusters": i + 2, "noise_fraction": 0.0, "seconds": 0.1,
                "scores": {"composite": composite, "silhouette": 0.2, "balance": 0.9}}

    composites = [0.70, 0.70 - TIE_MARGIN / 2, 0.70 - 2 * TIE_MARGIN, 0.699]
    result = SearchResult(candidates=[candidate(i, c) for i, c in enumerate(composites)],
                          ranking=[0, 1, 3, 2], cut_short=False, data={}, settings={},
                          timings={}, weights={}, labels_by_candidate={})
    assert result.near_ties() == [2, 3]
    assert "Nearly tied: ranks 2, 3" in result.table()
    alone = SearchResult(candidates=[candidate(0, 0.7), candidate(1, 0.6)], ranking=[0, 1],
                         cut_short=False, data={}, settings={}, timings={}, weights={},
                         labels_by_candidate={})
    assert alone.near_ties() == [] and "Nearly tied" not in alone.table()


def test_one_candidate_and_one_path_are_counted_in_the_singular(result, tmp_path):
    from gpucluster.auto.results import SearchResult

    one = SearchResult(candidates=[result.candidates[result.ranking[0]]], ranking=[0],
                       cut_short=False, data={}, settings={}, timings={}, weights={},
                       labels_by_candidate={})
    assert repr(one).startswith("SearchResult(1 candidate, 1 ranked, best ")
    with pytest.raises(ValueError, match=r"paths must be 300 strings \(one per row\), got 1 entry\."):
        result.save(tmp_path / "out", paths=["a.jpg"])


# A damaged results folder: every problem raises ResultsError (a ValueError) with a
# one-line message naming the file, and nothing is read from outside the folder.

def _first_labels(out):
    summary = json.loads((out / "summary.json").read_text())
    return out / summary["ranking"][0]["folder"] / "labels.npy"


def _write_labels(array):
    def corrupt(out):
        np.save(_first_labels(out), array, allow_pickle=True)
    return corrupt


@pytest.mark.parametrize("corrupt, problem", [
    (lambda out: _first_labels(out).write_bytes(b""), "the file is empty"),
    (lambda out: _first_labels(out).write_text("0\n1\n2\n"), "no NumPy header"),
    (_write_labels(np.array([None] * 300, dtype=object)), "Python objects"),
    (_write_labels(np.zeros(300, dtype=np.float64)), "integer labels"),
    (_write_labels(np.array(["0"] * 300)), "integer labels"),
    (_write_labels(np.zeros(300, dtype=bool)), "integer labels"),
    (_write_labels(np.zeros((300, 1), dtype=np.int64)), "1-D"),
    (_write_labels(np.zeros(299, dtype=np.int64)), "299 labels for 300 rows"),
    (_write_labels(np.full(300, -2, dtype=np.int64)), ">= -1"),
    (lambda out: _first_labels(out).unlink(), "missing"),
], ids=["zero-bytes", "text", "pickle", "float", "string", "bool", "2-D", "short", "below-noise",
        "missing"])
def test_damaged_labels_raise_one_line_naming_the_file(result, tmp_path, corrupt, problem):
    from gpucluster.auto import ResultsError

    out = tmp_path / "out"
    result.save(out)
    corrupt(out)
    loaded = load_result(out)
    with pytest.raises(ResultsError, match=problem) as info:
        loaded.labels(1)
    message = str(info.value)
    assert str(_first_labels(out)) in message
    assert "\n" not in message and "allow_pickle" not in message


@pytest.mark.parametrize("content, problem", [
    (bytes(range(256)) * 4, "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"schema": NaN}', "NaN is not allowed"),
    (b"{not json", "not valid JSON"),
], ids=["random-bytes", "deeply-nested", "nan", "truncated"])
def test_unreadable_summary_raises_one_line_naming_the_file(result, tmp_path, content, problem):
    from gpucluster.auto import ResultsError

    out = tmp_path / "out"
    result.save(out)
    (out / "summary.json").write_bytes(content)
    with pytest.raises(ResultsError, match=problem) as info:
        load_result(out)
    assert str(out / "summary.json") in str(info.value) and "\n" not in str(info.value)


def test_schema_error_names_the_summary_file_by_its_path(result, tmp_path):
    out = tmp_path / "out"
    result.save(out)
    summary = json.loads((out / "summary.json").read_text())
    summary["data"]["n_samples"] = "many"
    (out / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ValueError, match=r"data\.n_samples") as info:
        load_result(out)
    assert str(info.value).startswith(f"{out / 'summary.json'}: data.n_samples: ")


def test_algorithm_name_cannot_lead_outside_the_folder(result, tmp_path):
    from gpucluster.auto import ResultsError

    out = tmp_path / "out"
    result.save(out)
    outside = tmp_path / "outside"
    outside.mkdir()
    np.save(outside / "labels.npy", np.zeros(300, dtype=np.int64))
    (out / "rank_01_x").mkdir()
    summary = json.loads((out / "summary.json").read_text())
    entry = summary["ranking"][0]
    summary["candidates"][entry["candidate"]]["algorithm"] = "x/../../outside"
    entry["folder"] = "rank_01_x/../../outside"
    (out / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ResultsError, match=r"algorithm: expected letters, digits and '_'"):
        load_result(out)


def test_loaded_result_refuses_a_folder_name_edited_after_loading(result, tmp_path):
    from gpucluster.auto import ResultsError

    out = tmp_path / "out"
    result.save(out)
    loaded = load_result(out)
    loaded["ranking"][0]["folder"] = "../outside"
    with pytest.raises(ResultsError, match="not a folder name inside the results folder"):
        loaded.labels(1)
    with pytest.raises(ResultsError, match="not a folder name inside the results folder"):
        loaded.info(1)


@pytest.mark.parametrize("name, content, problem", [
    ("paths.json", json.dumps(["a.jpg"]), "1 path for 300 rows"),
    ("paths.json", "\x00\xff garbage", "not valid JSON"),
    ("info.json", "[" * 100_000, "nested too deeply"),
    ("info.json", "[1, 2]", "expected a JSON object"),
], ids=["paths-length", "paths-garbage", "info-nested", "info-list"])
def test_damaged_side_files_raise_naming_the_file(result, tmp_path, name, content, problem):
    from gpucluster.auto import ResultsError

    out = tmp_path / "out"
    result.save(out, paths=[f"img_{i}.jpg" for i in range(300)])
    loaded = load_result(out)
    path = out / name if name == "paths.json" else _first_labels(out).parent / name
    path.write_text(content, encoding="latin-1")
    with pytest.raises(ResultsError, match=problem) as info:
        loaded.paths() if name == "paths.json" else loaded.info(1)
    assert str(path) in str(info.value)

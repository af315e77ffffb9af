"""`gpucluster cluster` and `gpucluster auto` through a parser built from register()."""

import argparse
import json
import os

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster.auto import load_result
from gpucluster.auto._command import parse_params, parse_value, register
from gpucluster.metrics import adjusted_rand_score


def parser():
    p = argparse.ArgumentParser(prog="gpucluster")
    register(p.add_subparsers(dest="command", required=True))
    return p


def run(argv):
    args = parser().parse_args(argv)
    return args.func(args)


@pytest.fixture
def blobs_npy(tmp_path):
    X, y = make_blobs(n_samples=240, n_features=5, centers=3, random_state=1)
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    np.save(tmp_path / "y.npy", y)
    return tmp_path / "x.npy", tmp_path / "y.npy"


@pytest.mark.parametrize("text, value", [
    ("8", 8), ("0.5", 0.5), ("true", True), ("False", False), ("none", None), ("ward", "ward"),
    ("1e-3", 1e-3),
])
def test_param_values_are_parsed(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_param_without_equals_is_an_error():
    assert parse_params(["n_clusters=3", "linkage=ward"]) == {"n_clusters": 3, "linkage": "ward"}
    with pytest.raises(ValueError, match="key=value"):
        parse_params(["n_clusters"])


def test_cluster_command_prints_and_writes_labels(blobs_npy, tmp_path, capsys):
    x_path, _ = blobs_npy
    out = tmp_path / "one"
    assert run(["cluster", str(x_path), "--algorithm", "kmeans", "--param", "n_clusters=3",
                "--param", "random_state=0", "--out", str(out), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "n_clusters: 3" in text and "silhouette" in text and "time: " in text
    assert "noise: 0 (0 %)" in text
    labels = np.load(out / "labels.npy", allow_pickle=False)
    assert labels.shape == (240,) and np.unique(labels).size == 3
    info = json.loads((out / "info.json").read_text())
    assert info["params"] == {"n_clusters": 3, "random_state": 0}
    assert sum(info["sizes"].values()) == 240
    with pytest.raises(FileExistsError):
        run(["cluster", str(x_path), "--algorithm", "kmeans", "--param", "n_clusters=3",
             "--out", str(out)])


@pytest.mark.parametrize("param, named", [("nosuch=1", "nosuch"), ("n_clusters=abc", "n_clusters")],
                         ids=["unknown-name", "wrong-type"])
def test_cluster_command_reports_a_bad_param_as_a_value_error(blobs_npy, param, named):
    """A --param the estimator does not take, or of the wrong type, is the user's error:
    a ValueError naming it (one line from `gpucluster`), not a TypeError traceback."""
    with pytest.raises(ValueError, match=named):
        run(["cluster", str(blobs_npy[0]), "--algorithm", "kmeans", "--param", param])


def test_cluster_command_refuses_existing_out_before_fitting(blobs_npy, tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "labels.npy").write_bytes(b"")
    with pytest.raises(FileExistsError, match="--overwrite"):
        run(["cluster", str(blobs_npy[0]), "--algorithm", "kmeans", "--out", str(out)])
    assert "n_clusters:" not in capsys.readouterr().out


def test_cluster_help_names_every_registered_algorithm(capsys):
    from gpucluster.auto.candidates import algorithm_names

    with pytest.raises(SystemExit) as info:
        run(["cluster", "--help"])
    assert info.value.code == 0  # help printed, not a usage error
    text = " ".join(capsys.readouterr().out.split())
    assert len(algorithm_names()) >= 7
    for name in algorithm_names():
        assert name in text, name


def test_cluster_command_rejects_unknown_algorithm(blobs_npy):
    with pytest.raises(ValueError, match="Unknown algorithm"):
        run(["cluster", str(blobs_npy[0]), "--algorithm", "nope"])


def test_auto_command_prints_ranking_and_writes_results(blobs_npy, tmp_path, capsys):
    x_path, y_path = blobs_npy
    out = tmp_path / "auto"
    assert run(["auto", str(x_path), "--out", str(out), "--top", "3", "--seed", "0",
                "--labels", str(y_path), "--quiet", "--algorithm", "kmeans",
                "--algorithm", "finch", "--min-clusters", "2", "--max-clusters", "8"]) == 0
    text = capsys.readouterr().out
    assert "composite" in text and str(out) in text
    assert 'ranked by composite = 0.8 x (silhouette + 1) / 2 + 0.2 x (1 - noise fraction) ' \
        '(preset "default")' in text
    result = load_result(out)
    # Eight k-means counts and FINCH levels give far more than 3 distinct partitions:
    # exactly the top 3 are written, each as a rank folder with its labels and info.
    assert [entry["rank"] for entry in result["ranking"]] == [1, 2, 3]
    for rank, entry in enumerate(result["ranking"], start=1):
        assert (out / entry["folder"] / "labels.npy").is_file()
        assert result.info(rank)["rank"] == rank
        assert result.labels(rank).shape == (240,)
    # Three well-separated blobs: rank 1 is the true grouping, and its ARI is reported.
    best = result["candidates"][result["ranking"][0]["candidate"]]
    assert best["n_clusters"] == 3 and best["scores"]["ARI"] == pytest.approx(1.0)
    assert adjusted_rand_score(np.load(y_path), result.labels(1)) == pytest.approx(1.0)
    assert result["data"]["source"] == str(x_path)
    assert result["settings"]["max_clusters"] == 8
    assert all(c["n_clusters"] <= 8 for c in result["candidates"] if c["status"] == "ok")
    with pytest.raises(FileExistsError):
        run(["auto", str(x_path), "--out", str(out), "--quiet"])
    assert run(["auto", str(x_path), "--out", str(out), "--quiet", "--overwrite",
                "--algorithm", "kmeans"]) == 0
    assert {c["algorithm"] for c in load_result(out)["candidates"]} == {"kmeans"}


@pytest.mark.parametrize("ranking", ["default", "balance", "legacy"])
def test_auto_command_ranking_preset_is_written_into_the_summary(blobs_npy, tmp_path, ranking):
    from gpucluster.auto.scoring import PRESETS

    out = tmp_path / ranking
    assert run(["auto", str(blobs_npy[0]), "--out", str(out), "--quiet", "--ranking", ranking,
                "--algorithm", "kmeans"]) == 0
    result = load_result(out)
    assert result["weights"] == PRESETS[ranking]
    composites = [c["scores"]["composite"] for c in result["candidates"] if c["status"] == "ok"]
    assert len(composites) >= 2  # several k-means counts were scored, not an empty comparison
    expected = [PRESETS[ranking]["silhouette"] * (c["scores"]["silhouette"] + 1) / 2
                + PRESETS[ranking]["balance"] * c["scores"]["balance"]
                + PRESETS[ranking]["noise"] * (1 - c["scores"]["noise_penalty"])
                for c in result["candidates"] if c["status"] == "ok"]
    np.testing.assert_allclose(composites, expected, rtol=1e-9)
    ranked = [result["candidates"][entry["candidate"]]["scores"]["composite"]
              for entry in result["ranking"]]
    assert ranked == sorted(ranked, reverse=True) and ranked[0] == max(composites)


@pytest.mark.parametrize("labels, message", [
    (np.zeros(239, dtype=np.int64), "239 labels for 240 rows"),
    (np.zeros((240, 2), dtype=np.int64), "1-D"),
    (np.zeros(240), "integer"),
    (np.array([None] * 240, dtype=object), "not a plain numeric .npy"),
], ids=["length", "2-D", "float", "pickle"])
def test_auto_command_refuses_bad_labels_before_searching(blobs_npy, tmp_path, labels, message):
    x_path, _ = blobs_npy
    np.save(tmp_path / "bad.npy", labels, allow_pickle=True)
    with pytest.raises(ValueError, match=message) as info:
        run(["auto", str(x_path), "--out", str(tmp_path / "auto"), "--labels",
             str(tmp_path / "bad.npy"), "--quiet"])
    assert "bad.npy" in str(info.value)
    assert not (tmp_path / "auto").exists()


@pytest.fixture
def shared_store(tmp_path):
    """One embedding store holding two collections, as the user cache's store does:
    60 images under photos/ (two sub-folders), 40 under scans/."""
    store_module = pytest.importorskip("gpucluster.embed.store")
    X, _ = make_blobs(n_samples=100, n_features=8, centers=4, random_state=0)
    files = ([str(tmp_path / "photos" / sub / f"p{i}.jpg") for sub, n in (("2019", 30), ("2020", 30))
              for i in range(n)] + [str(tmp_path / "scans" / f"s{i}.png") for i in range(40)])
    store = store_module.EmbeddingStore(tmp_path / "store",
                                        {"model": "test", "dtype": "float32", "dim": 8})
    with store.lock():
        store.write_batch(files, [None] * len(files), X.astype(np.float32))
    return tmp_path / "store", files


def _clustering_line(out):
    return next(line for line in out.splitlines() if line.startswith("clustering "))


def test_auto_on_a_shared_store_says_what_it_clusters_and_under_scopes_it(
        shared_store, tmp_path, capsys):
    store, files = shared_store
    out = tmp_path / "all"
    assert run(["auto", str(store), "--out", str(out), "--quiet", "--algorithm", "kmeans"]) == 0
    line = _clustering_line(capsys.readouterr().out)
    assert line.startswith("clustering 100 images from the embedding store ")
    assert f"every image it holds, under {tmp_path} (2 folders: photos{os.sep} 60, " \
        f"scans{os.sep} 40)" in line
    assert "--under FOLDER" in line
    assert len(json.loads((out / "paths.json").read_text())) == 100

    # --under keeps the images of one collection, as `gpucluster run photos/` would.
    out = tmp_path / "photos-only"
    assert run(["auto", str(store), "--under", str(tmp_path / "photos"), "--out", str(out),
                "--quiet", "--algorithm", "kmeans"]) == 0
    line = _clustering_line(capsys.readouterr().out)
    assert line.startswith("clustering 60 images from the embedding store ")
    assert f"those under {tmp_path / 'photos'} (40 other images of the store left out)" in line
    assert sorted(json.loads((out / "paths.json").read_text())) == sorted(files[:60])

    # The same option on `cluster`; a folder with no stored image is an error naming where
    # the images are.
    assert run(["cluster", str(store), "--under", str(tmp_path / "scans"), "--algorithm",
                "kmeans", "--param", "n_clusters=2"]) == 0
    assert "clustering 40 images" in capsys.readouterr().out
    with pytest.raises(ValueError, match=f"no image .* lies under {tmp_path / 'phot'}; its 100 "
                                         f"images lie under {tmp_path}"):
        run(["cluster", str(store), "--under", str(tmp_path / "phot"), "--algorithm", "kmeans"])


def test_under_with_a_file_of_vectors_is_an_error(blobs_npy, tmp_path):
    with pytest.raises(ValueError, match="--under selects images of an embedding store"):
        run(["auto", str(blobs_npy[0]), "--under", str(tmp_path), "--out", str(tmp_path / "a")])


@pytest.mark.parametrize("algorithm, params, hint", [
    ("hdbscan", ["min_cluster_size=200"],
     "try a smaller min_cluster_size (now 200, e.g. --param min_cluster_size=100) or a smaller "
     "min_samples (it defaults to min_cluster_size)"),
    ("dbscan", ["eps=0.001"], "try a larger eps (now 0.001, e.g. --param eps=0.002) or a "
                              "smaller min_samples (now 5)"),
], ids=["hdbscan", "dbscan"])
def test_cluster_command_hints_when_every_point_is_noise(tmp_path, capsys, algorithm, params,
                                                         hint):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(240, 5)).astype(np.float32))
    argv = ["cluster", str(tmp_path / "x.npy"), "--algorithm", algorithm, "--device", "cpu"]
    assert run(argv + [a for p in params for a in ("--param", p)]) == 0
    text = capsys.readouterr().out
    assert "n_clusters: 0" in text
    assert "every point was labelled noise, so there are no clusters: " + hint in text


def test_cluster_command_gives_no_noise_hint_when_clusters_are_found(blobs_npy, capsys):
    assert run(["cluster", str(blobs_npy[0]), "--algorithm", "hdbscan", "--device", "cpu"]) == 0
    assert "labelled noise" not in capsys.readouterr().out


class _Warner:
    """Labels the rows in ``k`` stripes; with ``warn`` set, raises two warnings as it fits,
    the first far longer than a terminal line."""

    LONG = ("Number of distinct clusters (2) found smaller than n_clusters (3). Possibly due "
            "to duplicate points in X, which the rest of this sentence only makes longer.")

    def __init__(self, k, warn):
        self.k, self.warn = k, warn

    def fit(self, X):
        import warnings

        if self.warn:
            warnings.warn(self.LONG, RuntimeWarning)
            warnings.warn("a second one", UserWarning)
        self.labels_ = (np.arange(X.shape[0]) * self.k // X.shape[0]).astype(np.int64)
        return self


def test_auto_command_names_the_printed_ranks_that_warned(blobs_npy, tmp_path, capsys):
    from gpucluster.auto import register_algorithm

    register_algorithm("warner", lambda p, *, device, context: _Warner(**p),
                       lambda context: [{"k": 2, "warn": False}, {"k": 3, "warn": True},
                                        {"k": 4, "warn": True}])
    out = tmp_path / "auto"
    assert run(["auto", str(blobs_npy[0]), "--out", str(out), "--quiet", "--algorithm", "warner",
                "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    result = load_result(out)
    ranked = [result["candidates"][entry["candidate"]] for entry in result["ranking"]]
    warned_ranks = [rank for rank, c in enumerate(ranked, start=1) if c["params"]["warn"]]
    # Two of the three candidates warned; one line for each such rank printed (top 2), none
    # for the rank that did not warn nor for the candidate left off the table.
    assert len(ranked) == 2 and len(warned_ranks) == 1
    notes = [line for line in lines if " warned: " in line]
    rank = warned_ranks[0]
    assert len(notes) == 1
    # Short: the first warning cut at a word near WARNING_CHARS, the others counted.
    assert notes[0].startswith(f"Rank {rank} (warner) warned: RuntimeWarning: Number of "
                               "distinct clusters (2) found smaller than n_clusters (3).")
    assert notes[0].endswith(" ... (+1 more in summary.json)")
    assert "only makes longer" not in notes[0] and "a second one" not in notes[0]
    # The table comes first, the note after it; summary.json keeps every line whole.
    assert lines.index(notes[0]) > next(i for i, line in enumerate(lines)
                                        if line.lstrip().startswith(f"{rank}  warner"))
    assert ranked[rank - 1]["warnings"] == [f"RuntimeWarning: {_Warner.LONG}",
                                            "UserWarning: a second one"]


def test_auto_command_prints_the_shared_pieces_once(blobs_npy, tmp_path, capsys):
    out = tmp_path / "auto"
    assert run(["auto", str(blobs_npy[0]), "--out", str(out), "--quiet", "--algorithm",
                "agglomerative", "--mode", "balanced"]) == 0
    shared = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("Shared (built once, in no row's time): ")]
    assert len(shared) == 1 and "agglomerative tree " in shared[0]
    assert load_result(out)["timings"]["shared"]["agglomerative_tree"] > 0

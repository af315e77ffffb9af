"""`gpucluster cluster` and `gpucluster auto` through a parser built from register()."""

import argparse
import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gpucluster.auto import load_result
from gpucluster.auto._command import parse_params, parse_value, register


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
    assert "n_clusters: 3" in text and "silhouette" in text and "seconds" in text
    labels = np.load(out / "labels.npy", allow_pickle=False)
    assert labels.shape == (240,) and np.unique(labels).size == 3
    info = json.loads((out / "info.json").read_text())
    assert info["params"] == {"n_clusters": 3, "random_state": 0}
    assert sum(info["sizes"].values()) == 240
    with pytest.raises(FileExistsError):
        run(["cluster", str(x_path), "--algorithm", "kmeans", "--param", "n_clusters=3",
             "--out", str(out)])


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
    result = load_result(out)
    assert 1 <= len(result["ranking"]) <= 3
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
    expected = [PRESETS[ranking]["silhouette"] * (c["scores"]["silhouette"] + 1) / 2
                + PRESETS[ranking]["balance"] * c["scores"]["balance"]
                + PRESETS[ranking]["noise"] * (1 - c["scores"]["noise_penalty"])
                for c in result["candidates"] if c["status"] == "ok"]
    np.testing.assert_allclose(composites, expected, rtol=1e-9)


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

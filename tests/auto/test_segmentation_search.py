"""Tuning a segmentation (``auto.search_segmentation`` and `gpucluster segment --auto`): the
setting ranked first finds known regions, settings are scored in one space, Optuna runs the
asked number of trials, bad grids are refused, and the command writes the ranking."""

import json

import numpy as np
import pytest
from PIL import Image

from gpucluster.auto.segmentation import SCORE_FEATURES, search_segmentation
from gpucluster.metrics import adjusted_rand_score

from ..segment._images import shapes_image


@pytest.fixture(scope="module")
def shapes():
    return shapes_image(48, 64)


def test_rank_one_finds_the_coloured_regions(shapes):
    image, truth = shapes
    found = search_segmentation(image, feature_sets=[("lab",), ("lab", "xy")],
                                n_segments=[2, 3, 4, 6], labels=truth, device="cpu")
    assert len(found.candidates) == 8 and len(found.ranking) == 8
    composites = [found.candidates[i]["scores"]["composite"] for i in found.ranking]
    assert composites == sorted(composites, reverse=True)
    best = found.candidates[found.ranking[0]]
    assert best["n_segments"] == 4 and best["scores"]["ARI"] >= 0.99
    assert adjusted_rand_score(truth.ravel(), np.asarray(found.best.labels).ravel()) >= 0.99
    # A 2-segment cut is ranked below the 4 regions.
    two = [c for c in found.candidates if c["n_segments"] == 2]
    assert len(two) == 2  # one per feature set
    assert all(found.ranking.index(c["id"]) > 0 for c in two)
    summary = found.summary(top=3)
    assert summary["score_features"] == list(SCORE_FEATURES) and len(summary["ranking"]) == 3
    assert "silhouette" in summary["criterion"]
    json.dumps(summary)


def test_density_algorithms_get_one_setting_per_feature_set(shapes):
    image, _ = shapes
    found = search_segmentation(image, feature_sets=[("lab",)], n_segments=[3, 4],
                                algorithms=["kmeans", "hdbscan"], device="cpu")
    assert sorted(c["algorithm"] for c in found.candidates) == ["hdbscan", "kmeans", "kmeans"]


def test_algorithm_names_are_read_as_auto_search_reads_them(shapes):
    image, _ = shapes
    found = search_segmentation(image, feature_sets=[("lab",)], n_segments=[3],
                                algorithms=["KMeans", "HDBSCAN", "k-means"], device="cpu")
    assert found.settings["algorithms"] == ["kmeans", "hdbscan"]
    assert sorted(c["algorithm"] for c in found.candidates) == ["hdbscan", "kmeans"]


def test_optuna_runs_the_asked_number_of_trials(shapes):
    pytest.importorskip("optuna")
    image, _ = shapes
    found = search_segmentation(image, feature_sets=[("lab",), ("rgb",)], n_segments=[2, 5],
                                search="optuna", n_trials=4, device="cpu")
    assert len(found.candidates) == 4
    assert all(2 <= c["n_segments"] <= 5 for c in found.candidates)
    assert found.settings["search"] == "optuna"


@pytest.mark.parametrize("kwargs, message", [
    ({"search": "random"}, "search must be"),
    ({"n_segments": [1, 4]}, "n_segments"),
    ({"feature_sets": []}, "feature_sets"),
    ({"feature_sets": [("colour",)]}, "colour"),
    ({"algorithms": ["kmeans", "ward"]},
     "Unknown algorithm 'ward'; known: dbscan, hdbscan, kmeans, slic."),
    ({"algorithms": []}, "algorithms"),
    ({"labels": np.zeros((3, 3), dtype=int)}, "shape"),
    ({"search": "optuna", "n_trials": 0}, "n_trials"),
], ids=["search", "n_segments", "no-feature-sets", "feature-name", "algorithm-name",
        "no-algorithms", "labels", "n_trials"])
def test_bad_settings_are_refused(shapes, kwargs, message):
    image, _ = shapes
    with pytest.raises(ValueError, match=message):
        search_segmentation(image, **kwargs)


def test_every_failed_setting_is_named(shapes):
    image, _ = shapes
    with pytest.raises(ValueError, match="no setting could segment"):
        search_segmentation(image[:2, :2], feature_sets=[("lab",)], n_segments=[6], device="cpu")


def test_segment_auto_writes_the_ranking_and_the_choice(shapes, tmp_path, capsys):
    from gpucluster.cli import main

    image, truth = shapes
    Image.fromarray(image).save(tmp_path / "shapes.png")
    out = tmp_path / "out"
    status = main(["segment", str(tmp_path / "shapes.png"), "--out", str(out), "--auto",
                   "--try-features", "lab", "lab xy", "--try-n-segments", "2", "4", "--quiet",
                   "--device", "cpu"])
    printed = capsys.readouterr().out
    assert status == 0
    assert "chosen: kmeans on lab, n_segments=4" in printed and "4 settings tried" in printed
    summary = json.loads((out / "shapes" / "segmentation.json").read_text())
    ranking = summary["settings"]["search"]["ranking"]
    assert [r["rank"] for r in ranking] == [1, 2, 3, 4]
    assert ranking[0]["features"] == ["lab"] and ranking[0]["n_segments"] == 4
    labels = np.load(out / "shapes" / "labels.npy")
    assert adjusted_rand_score(truth.ravel(), labels.ravel()) >= 0.99
    assert (out / "index.html").is_file()


def test_segment_auto_takes_a_plain_n_segments_and_features_as_the_one_value_tried(
        shapes, tmp_path, capsys):
    from gpucluster.cli import main

    image, _ = shapes
    Image.fromarray(image).save(tmp_path / "shapes.png")
    out = tmp_path / "out"
    status = main(["segment", str(tmp_path / "shapes.png"), "--out", str(out), "--auto",
                   "--features", "lab", "--n-segments", "3", "--quiet", "--device", "cpu"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "1 setting tried)" in printed.out
    ranking = json.loads((out / "shapes" / "segmentation.json").read_text())[
        "settings"]["search"]["ranking"]
    assert {(tuple(r["features"]), r["n_segments"]) for r in ranking} == {(("lab",), 3)}


def test_segment_auto_tries_the_algorithms_named_in_any_spelling(shapes, tmp_path, capsys):
    from gpucluster.cli import main

    image, _ = shapes
    Image.fromarray(image).save(tmp_path / "shapes.png")
    out = tmp_path / "out"
    status = main(["segment", str(tmp_path / "shapes.png"), "--out", str(out), "--auto",
                   "--try-algorithms", "KMeans", "SLIC", "--features", "lab", "--n-segments", "4",
                   "--quiet", "--device", "cpu"])
    assert status == 0, capsys.readouterr().err
    ranking = json.loads((out / "shapes" / "segmentation.json").read_text())[
        "settings"]["search"]["ranking"]
    assert {r["algorithm"] for r in ranking} == {"kmeans", "slic"}


@pytest.mark.parametrize("extra", [["--n-segments", "3", "--try-n-segments", "2", "4"],
                                   ["--features", "lab", "--try-features", "lab xy"]])
def test_segment_auto_refuses_a_value_and_a_list_of_the_same_setting(
        shapes, tmp_path, capsys, extra):
    from gpucluster.cli import main

    image, _ = shapes
    Image.fromarray(image).save(tmp_path / "shapes.png")
    status = main(["segment", str(tmp_path / "shapes.png"), "--out", str(tmp_path / "out"),
                   "--auto", *extra, "--quiet", "--device", "cpu"])
    assert status != 0
    assert "give one of them" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_warnings_of_a_setting_go_into_its_record(shapes):
    """Asking KMeans for more segments than the image has colours warns; the warning is kept
    in that setting's record, not printed."""
    import warnings

    image, _ = shapes
    flat = np.zeros_like(image)
    flat[:, : image.shape[1] // 2] = 200  # two colours
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        found = search_segmentation(flat, feature_sets=[("lab",)], n_segments=[2, 5],
                                    device="cpu")
    assert not [w for w in escaped if "distinct clusters" in str(w.message)]
    by_count = {c["n_segments"]: c for c in found.candidates}
    assert "warnings" not in by_count[2]
    assert any("ConvergenceWarning" in line for line in by_count[5]["warnings"])

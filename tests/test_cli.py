"""The `gpucluster` command: info and the digits check, run as a user would."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

CLI = [sys.executable, "-m", "gpucluster.cli"]


@pytest.mark.slow
def test_info_reports_versions_backends_and_devices():
    out = subprocess.run(CLI + ["info", "--json"], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    assert info["gpucluster"]
    assert info["packages"]["numpy"] and info["packages"]["numba"]
    assert set(info["backends"]) >= {"cupy", "torch", "array_api_strict"}
    assert isinstance(info["cuda_devices"], list)
    text = subprocess.run(CLI + ["info"], capture_output=True, text=True, check=True).stdout
    assert "CUDA device" in text and "backends:" in text


def test_digits_clusters_beside_sklearn():
    out = subprocess.run(CLI + ["digits"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        match = re.match(r"^((?:gpucluster|scikit-learn) \S+(?: \(cosine\))?)\s+(.*)$", line)
        if match:
            rows[match.group(1)] = [float(v) for v in match.group(2).split()]
    assert {"gpucluster KMeans", "scikit-learn KMeans", "gpucluster MiniBatchKMeans",
            "scikit-learn MiniBatchKMeans", "gpucluster KMeans (cosine)"} <= set(rows)
    ari = 3  # columns: seconds, n_iter, inertia, ARI, ...
    assert abs(rows["gpucluster KMeans"][ari] - rows["scikit-learn KMeans"][ari]) <= 0.02
    assert rows["gpucluster KMeans"][ari] > 0.5


def test_unknown_command_fails_with_usage():
    out = subprocess.run(CLI + ["frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_every_option_of_every_command_has_help_text():
    import argparse

    from gpucluster.cli import build_parser

    missing = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, path + [name])
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(" ".join(path + [action.option_strings[0] if action.option_strings
                                                else action.dest]))

    walk(build_parser(), ["gpucluster"])
    assert missing == []


def _blobs_npy(path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.3, size=(40, 3)) for c in (0, 5, 10)]).astype(np.float32)
    np.save(path, X)
    return path


def _tiny_png(path):
    from PIL import Image

    pixels = np.zeros((24, 24, 3), np.uint8)
    pixels[:12] = (255, 0, 0)
    pixels[12:] = (0, 0, 255)
    Image.fromarray(pixels).save(path)
    return path


def test_cluster_with_every_row_noise_says_so_instead_of_an_empty_sizes_line(tmp_path, capsys):
    from gpucluster.cli import main

    status = main(["cluster", str(_blobs_npy(tmp_path / "X.npy")), "--algorithm", "dbscan",
                   "--param", "eps=1e-6"])
    out = capsys.readouterr().out
    assert status == 0
    assert "sizes: none (no clusters)" in out.splitlines()
    assert re.search(r"silhouette .*: n/a \(undefined", out)
    assert "every point was labelled noise" in out


def test_auto_refuses_n_trials_without_optuna_before_any_work(tmp_path, capsys):
    from gpucluster.cli import main

    out = tmp_path / "results"
    status = main(["auto", str(_blobs_npy(tmp_path / "X.npy")), "--out", str(out),
                   "--n-trials", "5", "--quiet"])
    assert status == 1
    assert "--search optuna" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("options, named", [
    (["--try-n-segments", "3", "4"], "--try-n-segments"),
    (["--search", "optuna", "--ranking", "balance"], "--search, --ranking"),
    (["--auto", "--n-trials", "5"], "--search optuna"),
])
def test_segment_refuses_tuning_options_that_would_do_nothing(tmp_path, capsys, options, named):
    from gpucluster.cli import main

    out = tmp_path / "seg"
    status = main(["segment", str(_tiny_png(tmp_path / "a.png")), "--out", str(out), "--quiet",
                   *options])
    assert status == 1
    assert named in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("option", ["--superpixels", "--n-segments", "--downsample",
                                    "--min-samples", "--try-n-segments"])
def test_segment_names_the_option_of_a_count_below_one(tmp_path, capsys, option):
    from gpucluster.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["segment", str(tmp_path / "a.png"), "--out", str(tmp_path / "seg"), option, "0"])
    assert exit_.value.code == 2
    assert f"argument {option}: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_segment_counts_one_image_in_the_singular(tmp_path, capsys):
    from gpucluster.cli import main

    out = tmp_path / "seg"
    status = main(["segment", str(_tiny_png(tmp_path / "a.png")), "--out", str(out), "--quiet",
                   "--n-segments", "2", "--device", "cpu"])
    assert status == 0
    assert f"1 image segmented into {out}" in capsys.readouterr().out
    assert "<p class=facts>1 image segmented" in (out / "index.html").read_text()


def _run_lines(monkeypatch, capsys, n_images):
    """The lines `gpucluster run` prints for a run (stubbed) over ``n_images`` images."""
    import gpucluster.pipeline
    from gpucluster.cli import main

    best = {"algorithm": "kmeans", "params": {"n_clusters": 3}, "n_clusters": 3,
            "noise_fraction": 0.0, "scores": {"composite": 0.8}}
    summary = {"n_images": n_images, "model": "efficientnet-lite0", "seconds": 1.5,
               "best": best, "embedded": {}, "gallery": "/o/gallery",
               "report": "/o/report.html", "results": "/o/results",
               "store": "/cache/embeddings/efficientnet-lite0-x"}
    monkeypatch.setattr(gpucluster.pipeline, "run_images", lambda *a, **k: summary)
    assert main(["run", "--model", "efficientnet-lite0", "--quiet"]) == 0
    return capsys.readouterr().out.splitlines()


def test_run_prints_where_its_results_and_embedding_store_are(monkeypatch, capsys):
    lines = _run_lines(monkeypatch, capsys, 30)
    assert lines[0].startswith("30 images, model efficientnet-lite0")  # no blank line first
    assert "results: /o/results" in lines
    assert "embedding store: /cache/embeddings/efficientnet-lite0-x" in lines
    assert lines[-1] == "report: /o/report.html"  # the report stays the last line


def test_run_counts_one_image_in_the_singular(monkeypatch, capsys):
    assert _run_lines(monkeypatch, capsys, 1)[0].startswith("1 image, model efficientnet-lite0")


def _cluster_labels(tmp_path, name, *options):
    from gpucluster.cli import main

    out = tmp_path / name
    assert main(["cluster", str(_blobs_npy(tmp_path / "X.npy")), "--out", str(out),
                 *options]) == 0
    return np.load(out / "labels.npy"), json.loads((out / "info.json").read_text())


def test_cluster_seed_sets_random_state_and_the_parameters_in_effect_are_printed(tmp_path,
                                                                                  capsys):
    first, info = _cluster_labels(tmp_path, "a", "--algorithm", "kmeans", "--seed", "3",
                                  "--param", "n_clusters=3")
    again, _ = _cluster_labels(tmp_path, "b", "--algorithm", "kmeans", "--seed", "3",
                               "--param", "n_clusters=3")
    assert np.array_equal(first, again)
    assert info["params"] == {"n_clusters": 3, "random_state": 3}
    lines = capsys.readouterr().out.splitlines()
    shown = [line for line in lines if line.startswith("parameters: ")]
    assert len(shown) == 2 and "n_clusters=3" in shown[0] and "random_state=3" in shown[0]
    assert "device=" not in shown[0]


def test_cluster_prints_defaults_and_leaves_estimators_without_random_state_alone(tmp_path,
                                                                                   capsys):
    _, info = _cluster_labels(tmp_path, "d", "--algorithm", "dbscan")
    assert info["params"] == {}  # DBSCAN takes no random_state
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("parameters: "))
    assert "eps=0.5" in line and "min_samples=5" in line and "random_state" not in line


@pytest.mark.parametrize("spelling", ["KMeans", "K-Means", "MiniBatch_KMeans"])
def test_cluster_algorithm_names_ignore_case_and_dashes(tmp_path, capsys, spelling):
    from gpucluster.cli import main

    assert main(["cluster", str(_blobs_npy(tmp_path / "X.npy")), "--algorithm", spelling,
                 "--param", "n_clusters=3"]) == 0
    assert "kmeans on " in capsys.readouterr().out


def test_unknown_algorithm_lists_the_registered_names_comma_separated(tmp_path, capsys):
    from gpucluster.cli import main

    assert main(["cluster", str(_blobs_npy(tmp_path / "X.npy")), "--algorithm", "nope"]) == 1
    err = capsys.readouterr().err
    assert "Unknown algorithm 'nope'; registered: affinity_propagation, agglomerative, " in err
    assert "[" not in err


@pytest.mark.parametrize("option, message", [
    ("--top", "argument --top: must be an integer >= 1, got 0"),
    ("--time-budget", "argument --time-budget: must be a number of seconds > 0, got 0"),
])
def test_auto_names_the_option_of_a_bad_top_or_time_budget(tmp_path, capsys, option, message):
    from gpucluster.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["auto", str(tmp_path / "X.npy"), "--out", str(tmp_path / "r"), option, "0"])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_info_lists_each_blas_once_with_its_copies():
    from gpucluster._info import blas_libraries

    openblas = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
                "num_threads": 2}
    mkl = dict(openblas, internal_api="mkl", version="2024.1", num_threads=4)
    openmp = {"user_api": "openmp", "internal_api": "openmp", "version": None, "num_threads": 2}
    assert blas_libraries([openblas, openmp, dict(openblas), mkl]) == [
        "openblas 0.3.30 (2 threads; 2 copies loaded)", "mkl 2024.1 (4 threads)"]


def test_info_counts_one_blas_thread_in_the_singular():
    from gpucluster._info import blas_libraries

    openblas = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
                "num_threads": 1}
    assert blas_libraries([openblas]) == ["openblas 0.3.30 (1 thread)"]


def _digits_lines(monkeypatch, capsys, n_clusters=10):
    """The lines `gpucluster digits` prints for a (stubbed) run into ``n_clusters``."""
    import gpucluster.demo
    from gpucluster.cli import main

    row = {"seconds": 0.01234, "n_iter": 12, "inertia": 1171234.5, "ARI": 0.6712, "AMI": 0.7,
           "V-measure": 0.7, "silhouette": 0.18, "Calinski-Harabasz": 180.44,
           "Davies-Bouldin": 1.9, "balance": 0.9}
    report = {"shape": (1797, 64), "n_clusters": n_clusters, "device": "cpu",
              "compile_seconds": 1.5, "results": {"gpucluster KMeans": row}}
    monkeypatch.setattr(gpucluster.demo, "run_digits", lambda **kwargs: report)
    assert main(["digits", "--n-clusters", str(n_clusters)]) == 0
    return capsys.readouterr().out.splitlines()


def test_digits_counts_one_cluster_in_the_singular(monkeypatch, capsys):
    assert _digits_lines(monkeypatch, capsys, n_clusters=1)[0] == (
        "Clustering the digits data set (1797 images of 8x8 pixels, 64 features) into "
        "1 cluster on device: cpu")


def test_digits_table_reads_numbers_without_exponents(monkeypatch, capsys):
    line = next(l for l in _digits_lines(monkeypatch, capsys) if l.startswith("gpucluster KMeans"))
    assert line.split()[2:] == ["0.0123", "12", "1170000", "0.671", "0.7", "0.7", "0.18",
                                "180", "1.9", "0.9"]


def test_organize_on_a_result_without_image_paths_says_what_to_do(tmp_path, monkeypatch,
                                                                  capsys):
    import gpucluster.report._results as results
    from gpucluster.cli import main

    monkeypatch.setattr(results, "resolve_result",
                        lambda result, rank=1: (np.zeros(5, np.int64), {}, None))
    assert main(["organize", str(tmp_path / "res"), "--out", str(tmp_path / "g")]) == 1
    err = capsys.readouterr().err
    assert "without image paths" in err and "gpucluster embed" in err
    assert not (tmp_path / "g").exists()


def _subparser(name):
    import argparse

    from gpucluster.cli import build_parser

    action = next(a for a in build_parser()._actions
                  if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize("command", ["info", "digits", "cluster", "auto", "organize", "report",
                                     "animate"])
def test_commands_have_a_description_in_their_help(command):
    assert len(_subparser(command).description or "") > 40


@pytest.mark.parametrize("command, option", [
    ("auto", "--top"), ("auto", "--mode"), ("organize", "--rank"), ("report", "--rank"),
    ("report", "--max-thumbnails"), ("cluster", "--out"), ("cluster", "--seed"),
    ("animate", "--max-iter"),
])
def test_help_states_the_default(command, option):
    action = next(a for a in _subparser(command)._actions if option in a.option_strings)
    assert "(default: " in action.help or "default: " in action.help

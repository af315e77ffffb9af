"""The projection choice on the command line and through the pipeline: pca, umap, tsne, auto."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gpucluster import cli, pipeline
from gpucluster.report import write_report
from gpucluster.report._command import add_projection_argument
from gpucluster.report.projection import PROJECTION_METHODS

from ._results import make_images


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    """The t-SNEs here have tens of points: OpenMP threads only spin against the
    other xdist worker (2,000 points: 10 s on one thread, 34 s on two busy cores)."""
    with threadpool_limits(1, user_api="openmp"):
        yield


class _Captured(Exception):
    """Raised by the fake run_images, carrying the keyword arguments it was given."""


def _capture_run_images(monkeypatch):
    def fake(*args, **kwargs):
        raise _Captured(kwargs)

    monkeypatch.setattr(pipeline, "run_images", fake)


def _choices(parser):
    return next(a.choices for a in parser._actions if "--projection" in a.option_strings)


@pytest.mark.parametrize("command", [["run"], ["report", "results", "--out", "gallery"]],
                         ids=["run", "report"])
def test_both_commands_offer_every_projection(command, capsys):
    parser = cli.build_parser()
    for method in PROJECTION_METHODS:
        assert parser.parse_args(command + ["--projection", method]).projection == method
    assert parser.parse_args(command).projection == "pca"
    with pytest.raises(SystemExit) as info:
        parser.parse_args(command + ["--projection", "lda"])
    assert info.value.code == 2  # argparse's usage error
    assert "invalid choice: 'lda'" in capsys.readouterr().err


def test_the_option_lists_exactly_the_library_methods():
    import argparse

    parser = argparse.ArgumentParser()
    add_projection_argument(parser)
    assert tuple(_choices(parser)) == PROJECTION_METHODS == ("pca", "umap", "tsne", "auto")


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_run_passes_the_projection_to_run_images(monkeypatch, tmp_path, method):
    _capture_run_images(monkeypatch)
    args = cli.build_parser().parse_args(["run", str(tmp_path), "--projection", method, "--quiet"])
    with pytest.raises(_Captured) as info:
        args.func(args)
    assert info.value.args[0]["projection"] == method


def test_run_images_refuses_an_unknown_projection_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="projection must be one of"):
        pipeline.run_images([str(tmp_path)], str(out), projection="lda")
    assert not out.exists()


def test_report_draws_a_tsne_projection(tmp_path):
    labels = np.repeat([0, 1, 2], 8)
    X = np.random.default_rng(0).normal(size=(24, 6)) * 0.2 + labels[:, None] * 3.0
    photos = make_images(str(tmp_path / "photos"), 24)
    page = open(write_report(str(tmp_path / "gallery"), labels=labels, paths=photos, embeddings=X,
                             projection="tsne"), encoding="utf-8").read()
    assert "2-D projection (tsne) of 24 of 24 embeddings" in page
    with pytest.raises(ValueError, match="projection must be one of"):
        write_report(str(tmp_path / "other"), labels=labels, embeddings=X, projection="lda")

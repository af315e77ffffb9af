"""`gpucluster embed` through a parser built from embed._command.register."""

import argparse
import json
import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("open_clip")
from PIL import Image  # noqa: E402

from gpucluster.embed import _command  # noqa: E402
from gpucluster.embed.store import load_store  # noqa: E402

TINY = ["--model", "gpucluster-tiny", "--pretrained", "none", "--device", "cpu",
        "--num-workers", "0", "--quiet"]


def parser():
    p = argparse.ArgumentParser(prog="gpucluster")
    _command.register(p.add_subparsers(dest="command", required=True))
    return p


def main(argv):
    args = parser().parse_args(argv)
    return args.func(args)


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photos"
    (path / "sub").mkdir(parents=True)
    for i in range(4):
        pixels = rng.integers(0, 256, size=(20 + i, 30, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / ("sub" if i % 2 else "") / f"p{i}.png")
    (path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return path


def test_embed_prints_a_summary_and_reuses_on_the_second_run(folder, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["embed", str(folder), "--out", str(store)] + TINY) == 0
    out = capsys.readouterr().out
    assert "5 selected, 4 embedded, 0 reused, 1 skipped" in out
    assert "broken.jpg" in out and "images/s" in out and f"store: {store}" in out

    assert main(["embed", str(folder), "--out", str(store)] + TINY) == 0
    assert "0 embedded, 4 reused" in capsys.readouterr().out
    paths, X = load_store(str(store))
    assert len(paths) == 4 and X.shape == (4, 64)


def test_embed_json_report_and_options(folder, tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["embed", str(folder), "--out", str(store), "--json", "--sample", "50%", "--seed", "3",
            "--dtype", "float32", "--no-normalize", "--preprocessing", "resize", "--batch-size", "2"]
    assert main(argv + TINY) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_images"] == 3 and report["batch_size"] == 2
    config = json.load(open(os.path.join(report["store"], "config.json")))
    assert config["dtype"] == "float32" and config["normalize"] is False
    assert config["preprocessing"]["mode"] == "resize"
    assert main(argv + TINY + ["--force"]) == 0
    assert json.loads(capsys.readouterr().out)["reused"] == 0


def test_embed_errors_are_one_line_and_exit_1(folder, tmp_path, capsys):
    assert main(["embed", str(tmp_path / "missing"), "--out", str(tmp_path / "s")] + TINY) == 1
    assert "gpucluster embed: error:" in capsys.readouterr().err
    # CLIP weights are not on this machine: the message says what to do, and names
    # the model that works offline.
    code = main(["embed", str(folder), "--out", str(tmp_path / "s"), "--model", "ViT-B-32",
                 "--device", "cpu", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "--checkpoint" in err and "--model efficientnet-lite0" in err
    assert "ship with the package" in err


def test_default_model_is_runs_auto_choice_and_works_offline(folder, tmp_path, capsys,
                                                             monkeypatch):
    from gpucluster.embed import models

    assert parser().parse_args(["embed", "a", "--out", "s"]).model == "auto"
    # No CLIP weights on disk (whatever this machine's cache holds): auto is efficientnet-lite0.
    monkeypatch.setattr(models, "clip_weights_available", lambda *a, **k: False)
    store = tmp_path / "store"
    argv = ["embed", str(folder), "--out", str(store), "--device", "cpu", "--num-workers", "0",
            "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 embedded" in out and f"store: {store}{os.sep}efficientnet-lite0-" in out

    # Nothing new: the second run reuses every image without loading the model, and says
    # so instead of printing a speed of 0 images/s.
    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded with nothing to embed")

    monkeypatch.setattr(models, "load_model", no_load)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "0 embedded, 4 reused, 1 skipped" in out and "broken.jpg" in out
    assert "nothing to embed: all 4 images reused from the store" in out
    assert "images/s" not in out

    # A deleted file: the summary says what happened to its row.
    os.remove(folder / "p0.png")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1 no longer found on disk (their embeddings were dropped from the store)" in out
    assert len(load_store(str(store))[0]) == 3


@pytest.mark.parametrize("argv", [["--batch-size", "zero"], ["--batch-size", "0"],
                                  ["--sample", "lots"], ["--preprocessing", "squash"]])
def test_bad_option_values_exit_2(folder, tmp_path, argv):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["embed", str(folder), "--out", str(tmp_path)] + argv)
    assert info.value.code == 2


def test_out_is_required(folder, capsys):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["embed", str(folder)])
    assert info.value.code == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_option_parsing():
    args = parser().parse_args(["embed", "a", "b", "--out", "s", "--sample", "0.25", "--include", "x",
                                "--include", "y", "--batch-size", "64"])
    assert (args.images, args.sample, args.include, args.batch_size) == (["a", "b"], 0.25, ["x", "y"], 64)
    assert parser().parse_args(["embed", "a", "--out", "s", "--sample", "100"]).sample == 100
    assert _command.resolve_pretrained("ViT-B-32", None) == "openai"
    assert _command.resolve_pretrained("gpucluster-tiny", None) is None
    assert _command.resolve_pretrained("ViT-L-14", "None") is None
    assert _command.resolve_pretrained("ViT-L-14", "laion2b_s32b_b82k") == "laion2b_s32b_b82k"


def test_non_utf8_file_names_are_embedded_reused_and_reported(folder, tmp_path, capsys):
    raw = os.fsencode(folder)
    try:
        with open(os.path.join(raw, b"x\xe9.png"), "wb") as f:
            f.write((folder / "p0.png").read_bytes())
        with open(os.path.join(raw, b"y\xff.jpg"), "wb") as f:
            f.write(b"not an image")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not valid UTF-8")
    listed = {os.fsencode(n): os.path.join(str(folder), n) for n in os.listdir(folder)}
    if b"x\xe9.png" not in listed:
        pytest.skip("this file system rewrites file names that are not valid UTF-8")
    store = tmp_path / "store"

    assert main(["embed", str(folder), "--out", str(store)] + TINY) == 0
    out = capsys.readouterr().out
    assert "7 selected, 5 embedded, 0 reused, 2 skipped" in out
    out.encode("utf-8")  # printable on any UTF-8 terminal: no surrogate escapes
    assert "y\\xff.jpg: not an image" in out
    paths, X = load_store(str(store))
    assert listed[b"x\xe9.png"] in paths and len(paths) == 5
    np.testing.assert_array_equal(X[paths.index(listed[b"x\xe9.png"])],
                                  X[paths.index(str(folder / "p0.png"))])

    assert main(["embed", str(folder), "--out", str(store)] + TINY) == 0
    assert "0 embedded, 5 reused, 2 skipped" in capsys.readouterr().out


def test_links_leaving_the_input_are_skipped_with_a_note_unless_asked(folder, tmp_path, capsys):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(outside / "far.png")
    os.symlink(outside, folder / "to_elsewhere")

    assert main(["embed", str(folder), "--out", str(tmp_path / "a")] + TINY) == 0
    out = capsys.readouterr().out
    assert "4 embedded" in out
    assert "1 symbolic link leading outside the input folders was not followed" in out
    assert "--follow-links" in out
    assert str(folder / "to_elsewhere" / "far.png") not in load_store(str(tmp_path / "a"))[0]

    argv = ["embed", str(folder), "--out", str(tmp_path / "b"), "--follow-links", "--json"]
    assert main(argv + TINY) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["embedded"] == 5 and report["outside_links"] == 0
    assert str(folder / "to_elsewhere" / "far.png") in load_store(str(tmp_path / "b"))[0]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("flag", [[], ["--follow-links"]], ids=["default", "follow"])
def test_run_hands_follow_links_to_the_embedding(monkeypatch, tmp_path, flag):
    from gpucluster import cli, embed

    seen = {}

    def embed_images(*args, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setenv("GPUCLUSTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(embed, "embed_images", embed_images)
    with pytest.raises(_Stop):
        cli.main(["run", str(tmp_path), "--out", str(tmp_path / "out"), "--model",
                  "gpucluster-tiny", "--quiet"] + flag)
    assert seen["follow_links"] is bool(flag)


def test_run_prints_how_many_links_were_not_followed(monkeypatch, capsys, tmp_path):
    import gpucluster.pipeline
    from gpucluster import cli

    best = {"algorithm": "kmeans", "params": {"n_clusters": 2}, "n_clusters": 2,
            "noise_fraction": 0.0, "scores": {"composite": 0.5}}
    summary = {"n_images": 3, "model": "gpucluster-tiny", "seconds": 1.0, "best": best,
               "embedded": {"outside_links": 3}, "gallery": "g", "report": "r",
               "results": "res", "store": "st"}
    monkeypatch.setenv("GPUCLUSTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(gpucluster.pipeline, "run_images", lambda *a, **k: summary)
    assert cli.main(["run", str(tmp_path), "--model", "gpucluster-tiny", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 symbolic links leading outside the input folders were not followed" in out
    assert "--follow-links" in out

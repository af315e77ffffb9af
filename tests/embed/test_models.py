"""Embedding models: the tiny CLIP, local checkpoints, offline errors, EfficientNet-Lite0, any module."""

import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from gpucluster.embed.models import (  # noqa: E402
    EFFICIENTNET_LITE0, TINY_MODEL, EmbeddingModel, file_sha256, from_module, load_model,
)


def _images(n, size, seed=0):
    return torch.randn((n, 3, size, size), generator=torch.Generator().manual_seed(seed))


def test_tiny_model_shapes_and_identity(tiny):
    assert isinstance(tiny, EmbeddingModel)
    assert (tiny.image_size, tiny.dim, tiny.has_text) == (32, 64, True)
    assert tiny.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    with torch.inference_mode():
        emb = tiny.encode_images(_images(3, 32))
        text = tiny.encode_text(["a cat", "a dog"])
    assert emb.shape == (3, 64) and emb.dtype == torch.float32
    assert text.shape == (2, 64)
    config = tiny.config()
    assert config == {"name": TINY_MODEL, "pretrained": None, "checkpoint": None, "dim": 64}
    json.dumps(config)


def test_tiny_model_is_seeded_and_leaves_the_global_rng_alone(tiny):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    again = load_model(TINY_MODEL, None)
    assert torch.equal(torch.rand(3), expected)
    for (name, a), (_, b) in zip(tiny.module.state_dict().items(), again.module.state_dict().items()):
        assert torch.equal(a, b), name


def test_encode_images_rejects_wrong_shape(tiny):
    with pytest.raises(ValueError, match=r"\(B, 3, S, S\)"):
        tiny.encode_images(torch.zeros((2, 32, 32, 3)))


def test_encode_text_rejects_a_single_string(tiny):
    with pytest.raises(TypeError, match="list of strings"):
        tiny.encode_text("a cat")


def test_local_checkpoint_gives_identical_embeddings_and_keeps_preprocessing(tiny, tmp_path):
    trained = load_model(TINY_MODEL, None)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # weights unlike the seeded initialisation
        for param in trained.module.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=gen))
    path = tmp_path / "tiny.pt"
    torch.save(trained.module.state_dict(), path)

    loaded = load_model(TINY_MODEL, None, checkpoint=str(path))
    x = _images(4, 32, seed=2)
    with torch.inference_mode():
        expected = trained.encode_images(x)
        got = loaded.encode_images(x)
        fresh = tiny.encode_images(x)
    assert torch.equal(got, expected)
    assert not torch.allclose(fresh, expected, atol=1e-3)
    assert (loaded.image_size, loaded.mean, loaded.std) == (tiny.image_size, tiny.mean, tiny.std)
    assert loaded.config()["checkpoint"] == file_sha256(path)[:16]
    assert loaded.config() != tiny.config()


def test_checkpoint_keeps_the_tag_preprocessing(tmp_path, monkeypatch):
    import open_clip

    # A stand-in tag for the tiny architecture, with its own statistics.
    tag = {"hf_hub": "example/tiny-weights/", "mean": (0.5, 0.5, 0.5), "std": (0.2, 0.2, 0.2)}
    real = open_clip.get_pretrained_cfg
    monkeypatch.setattr(open_clip, "get_pretrained_cfg",
                        lambda name, t: tag if (name, t) == (TINY_MODEL, "demo") else real(name, t))
    path = tmp_path / "tiny.pt"
    torch.save(load_model(TINY_MODEL, None).module.state_dict(), path)
    model = load_model(TINY_MODEL, "demo", checkpoint=str(path))
    assert (model.mean, model.std, model.pretrained) == (tag["mean"], tag["std"], "demo")
    with pytest.raises(RuntimeError, match="example/tiny-weights"):
        load_model(TINY_MODEL, "demo")


def test_missing_checkpoint_file_is_named(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_model(TINY_MODEL, None, checkpoint=str(missing))


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(RuntimeError, match="could not load weights file"):
        load_model(TINY_MODEL, None, checkpoint=str(path))


def test_pretrained_tag_offline_says_which_file_and_how_to_pass_it():
    with pytest.raises(RuntimeError) as info:
        load_model("ViT-B-32", "openai")
    message = str(info.value)
    assert "vit_base_patch32_clip_224.openai" in message
    assert "--checkpoint" in message and "checkpoint=PATH" in message


def test_unknown_tag_and_unknown_model_list_what_exists():
    with pytest.raises(ValueError, match="known tags: .*openai"):
        load_model("ViT-B-32", "no-such-tag")
    with pytest.raises(ValueError, match="unknown model 'no-such-model'"):
        load_model("no-such-model", None)


def test_from_module_wraps_a_sequential():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 5, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
    )
    model = from_module(net, image_size=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), name="conv")
    assert (model.dim, model.image_size, model.has_text) == (20, 16, False)
    x = _images(3, 16)
    with torch.inference_mode():
        assert torch.equal(model.encode_images(x), net(x).reshape(3, -1))
    with pytest.raises(NotImplementedError, match="no text tower"):
        model.encode_text(["a cat"])
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(2))
    other_model = from_module(other, image_size=16, mean=(0.5,) * 3, std=(0.25,) * 3, name="conv")
    assert model.config()["weights"] != other_model.config()["weights"]
    assert model.config()["name"] == "conv"


def test_from_module_validates_arguments():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        from_module(lambda x: x, image_size=8, mean=(0, 0, 0), std=(1, 1, 1))
    with pytest.raises(ValueError, match="mean and std"):
        from_module(torch.nn.Flatten(), image_size=8, mean=(0, 0), std=(1, 1, 1))


def test_efficientnet_lite0_gives_pooled_1280_features():
    model = load_model(EFFICIENTNET_LITE0)
    assert (model.dim, model.image_size, model.has_text) == (1280, 224, False)
    assert model.config()["pretrained"] == "imagenet"
    x = _images(2, 224)
    with torch.inference_mode():
        emb = model.encode_images(x)
        maps = model.module.extract_features(x)
    assert emb.shape == (2, 1280)
    torch.testing.assert_close(emb, maps.mean(dim=(2, 3)))


def test_to_moves_and_casts(tiny):
    model = load_model(TINY_MODEL, None)
    model.to("cpu", dtype=torch.float64)
    assert model.dtype == torch.float64
    with torch.inference_mode():
        assert model.encode_images(_images(1, 32).double()).dtype == torch.float64
    with pytest.raises(ValueError, match="device must be"):
        model.to("tpu")


def test_embed_modules_import_without_torch():
    code = ("import sys; import gpucluster.embed.models, gpucluster.embed.naming, "
            "gpucluster.embed.extract, "
            "gpucluster.embed._command; "
            "bad = [m for m in ('torch', 'open_clip') if m in sys.modules]; "
            "assert not bad, bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr

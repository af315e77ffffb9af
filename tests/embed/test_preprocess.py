"""Preprocessing (letterbox, resize, center_crop), normalize_batch, load_and_preprocess."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gpucluster.embed.decode import ImageDecodeError
from gpucluster.embed.preprocess import (
    INTERPOLATIONS,
    PREPROCESSING_MODES,
    Preprocessing,
    letterbox_size,
    load_and_preprocess,
    normalize_batch,
)

CONTENT = (200, 100, 50)


def bands(width, height, colors, *, vertical=True):
    """An image cut into equal bands of ``colors`` (left to right, or top to bottom)."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    n = len(colors)
    for i, color in enumerate(colors):
        if vertical:
            pixels[:, i * width // n:(i + 1) * width // n] = color
        else:
            pixels[i * height // n:(i + 1) * height // n] = color
    return Image.fromarray(pixels, mode="RGB")


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 160),
    height=st.integers(1, 160),
    size=st.integers(1, 48),
    pad=st.sampled_from([(0, 0, 0), (255, 255, 255), (7, 8, 9)]),
    interpolation=st.sampled_from(sorted(INTERPOLATIONS)),
)
def test_letterbox_geometry(width, height, size, pad, interpolation):
    image = Image.new("RGB", (width, height), CONTENT)
    out = Preprocessing(size=size, pad_color=pad, interpolation=interpolation)(image)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    content = np.abs(out.astype(int) - CONTENT).max(axis=2) <= 1
    rows = np.flatnonzero(content.any(axis=1))
    cols = np.flatnonzero(content.any(axis=0))
    box_height, box_width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    # The content box: long side == size, aspect kept to within rounding.
    assert (box_width, box_height) == letterbox_size(width, height, size)
    assert max(box_width, box_height) == size
    scale = size / max(width, height)
    assert abs(box_width - width * scale) <= 0.5 + 1e-9 or box_width == 1
    assert abs(box_height - height * scale) <= 0.5 + 1e-9 or box_height == 1
    # Centred, and a solid rectangle.
    assert rows[0] == (size - box_height) // 2 and cols[0] == (size - box_width) // 2
    assert content[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()
    # Everything else is exactly the pad colour.
    outside = np.ones((size, size), dtype=bool)
    outside[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = False
    assert (out[outside] == pad).all()


def test_letterbox_keeps_the_whole_image():
    image = bands(90, 30, [(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    out = Preprocessing(size=30, interpolation="nearest")(image).astype(int)
    # 90 x 30 -> 30 x 10 centred at rows 10..19; all three bands visible.
    assert (out[:10] == 0).all() and (out[20:] == 0).all()
    assert (out[15, 2] == (255, 0, 0)).all()
    assert (out[15, 15] == (0, 255, 0)).all()
    assert (out[15, 27] == (0, 0, 255)).all()


@pytest.mark.parametrize("vertical", [True, False], ids=["wide", "tall"])
def test_center_crop_keeps_the_middle(vertical):
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    image = bands(90, 30, colors) if vertical else bands(30, 90, colors, vertical=False)
    out = Preprocessing(mode="center_crop", size=16)(image).astype(int)
    assert out.shape == (16, 16, 3)
    # The resampling filter reaches one source pixel past the crop box, so
    # the outermost output pixels may carry a trace of the neighbouring band.
    assert np.abs(out[1:-1, 1:-1] - (0, 255, 0)).max() <= 2
    assert np.abs(out - (0, 255, 0)).max() <= 40


def test_center_crop_of_a_square_is_a_plain_resize():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    crop = Preprocessing(mode="center_crop", size=20)(image)
    resize = Preprocessing(mode="resize", size=20)(image)
    assert np.array_equal(crop, resize)


def test_resize_distorts_to_a_square():
    image = bands(80, 20, [(255, 0, 0), (0, 0, 255)])
    out = Preprocessing(mode="resize", size=10, interpolation="nearest")(image).astype(int)
    assert (out[:, :5] == (255, 0, 0)).all() and (out[:, 5:] == (0, 0, 255)).all()


@pytest.mark.parametrize("mode", PREPROCESSING_MODES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 50), (50, 1), (300, 200)])
def test_every_mode_gives_a_writable_contiguous_uint8_square(mode, shape):
    image = Image.new("RGB", shape, CONTENT)
    out = Preprocessing(mode=mode, size=24)(image)
    assert out.shape == (24, 24, 3) and out.dtype == np.uint8
    assert out.flags.c_contiguous and out.flags.writeable
    # Every mode keeps some of the content colour.
    assert (np.abs(out.astype(int) - CONTENT).max(axis=2) <= 1).any()


def test_non_rgb_input_is_converted_with_transparency_on_the_pad_colour():
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    out = Preprocessing(size=8, pad_color=(1, 2, 3))(image)
    assert (out == (1, 2, 3)).all()
    with pytest.raises(TypeError, match="PIL"):
        Preprocessing()(np.zeros((4, 4, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "stretch"}, "mode"),
        ({"size": 0}, "size"),
        ({"size": 2.5}, "size"),
        ({"size": True}, "size"),
        ({"mean": (0.5, 0.5)}, "mean"),
        ({"mean": (0.5, 0.5, float("nan"))}, "mean"),
        ({"std": (0.5, 0.0, 0.5)}, "std"),
        ({"interpolation": "cubic"}, "interpolation"),
        ({"pad_color": (256, 0, 0)}, "pad_color"),
    ],
)
def test_bad_settings_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Preprocessing(**kwargs)


def test_config_round_trips_through_json():
    p = Preprocessing(mode="center_crop", size=64, mean=[0.5, 0.5, 0.5], std=(0.25, 0.25, 0.25),
                      interpolation="bilinear", pad_color=[255, 255, 255])
    config = p.config()
    assert json.loads(json.dumps(config)) == config
    assert Preprocessing.from_config(json.loads(json.dumps(config))) == p
    assert p.mean == (0.5, 0.5, 0.5) and p.pad_color == (255, 255, 255)
    assert Preprocessing().config() != Preprocessing(pad_color=(1, 1, 1)).config()
    with pytest.raises(ValueError, match="unknown"):
        Preprocessing.from_config({**config, "crop": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.size = 3
    assert hash(p) == hash(Preprocessing.from_config(config))


# --- normalize_batch -----------------------------------------------------


MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def reference(batch):
    x = batch.astype(np.float64).transpose(0, 3, 1, 2) / 255.0
    return (x - np.array(MEAN)[None, :, None, None]) / np.array(STD)[None, :, None, None]


def test_normalize_batch_matches_the_formula():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (3, 5, 5, 3), dtype=np.uint8)
    out = normalize_batch(torch.from_numpy(batch), MEAN, STD)
    assert out.shape == (3, 3, 5, 5) and out.dtype == torch.float32
    assert out.is_contiguous()
    np.testing.assert_allclose(out.numpy(), reference(batch), rtol=1e-5, atol=1e-5)
    # NumPy input is accepted too.
    np.testing.assert_allclose(normalize_batch(batch, MEAN, STD).numpy(), out.numpy())


def test_normalize_batch_half_precision_and_channels_last():
    torch = pytest.importorskip("torch")
    batch = np.random.default_rng(1).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)
    out = normalize_batch(torch.from_numpy(batch), MEAN, STD, dtype=torch.float16,
                          channels_last=True)
    assert out.dtype == torch.float16 and out.shape == (2, 3, 4, 4)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert not out.is_contiguous()
    np.testing.assert_allclose(out.float().numpy(), reference(batch), atol=4e-3)


def test_normalize_batch_stays_on_the_input_device():
    torch = pytest.importorskip("torch")
    # The meta device has no data: any host round trip would fail.
    batch = torch.empty((2, 8, 8, 3), dtype=torch.uint8, device="meta")
    out = normalize_batch(batch, MEAN, STD)
    assert out.device.type == "meta" and out.shape == (2, 3, 8, 8)


def test_normalize_batch_rejects_bad_input():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="uint8"):
        normalize_batch(torch.zeros((1, 4, 4, 3)), MEAN, STD)
    with pytest.raises(ValueError, match="shape"):
        normalize_batch(torch.zeros((1, 3, 4, 4), dtype=torch.uint8), MEAN, STD)
    with pytest.raises(ValueError, match="std"):
        normalize_batch(torch.zeros((1, 4, 4, 3), dtype=torch.uint8), MEAN, (1, 0, 1))
    with pytest.raises(TypeError, match="floating"):
        normalize_batch(torch.zeros((1, 4, 4, 3), dtype=torch.uint8), MEAN, STD,
                        dtype=torch.int32)
    with pytest.raises(TypeError, match="Tensor"):
        normalize_batch([[1, 2, 3]], MEAN, STD)


# --- load_and_preprocess -------------------------------------------------


def test_load_and_preprocess_decodes_and_preprocesses(tmp_path):
    path = tmp_path / "photo.jpg"
    bands(800, 600, [(255, 0, 0), (0, 0, 255)]).save(path, quality=90)
    out = load_and_preprocess(path, Preprocessing(size=40))
    assert out.shape == (40, 40, 3) and out.dtype == np.uint8
    # 800 x 600 -> 40 x 30 at rows 5..34.
    assert (out[:5] == 0).all() and (out[35:] == 0).all()
    assert np.abs(out[20, 5].astype(int) - (255, 0, 0)).max() < 20
    assert np.abs(out[20, 35].astype(int) - (0, 0, 255)).max() < 20


def test_load_and_preprocess_raises_decode_errors(tmp_path):
    path = tmp_path / "bad.png"
    path.write_bytes(b"not a png")
    with pytest.raises(ImageDecodeError, match="not an image"):
        load_and_preprocess(path, Preprocessing(size=8))
    big = tmp_path / "big.png"
    Image.new("RGB", (20, 20)).save(big)
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        load_and_preprocess(big, Preprocessing(size=8), max_pixels=100)
    with pytest.raises(TypeError, match="Preprocessing"):
        load_and_preprocess(path, "letterbox")


def test_preprocessing_modules_import_without_torch():
    code = (
        "import sys\n"
        "import gpucluster.embed.discover, gpucluster.embed.decode\n"
        "import gpucluster.embed.preprocess, gpucluster.embed.sampling\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

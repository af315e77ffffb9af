"""decode_image: every mode to RGB, EXIF orientation, draft mode, bad files, bombs."""

import copy
import os
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from gpucluster.embed.decode import (
    DECODE_BYTES_PER_PIXEL,
    DECODE_MEMORY_FRACTION,
    MAX_PIXELS,
    MIN_WORKER_PIXELS,
    ImageDecodeError,
    decode_image,
    decoding_plan,
    to_rgb,
)
from gpucluster.embed.preprocess import Preprocessing, load_and_preprocess

from .imagegen import (
    EXIF_DISPLAY,
    orientation_image,
    save_with_orientation,
    write_bomb_png,
    write_hostile_set,
)

PAD = (10, 20, 30)


def pixels(image):
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    return np.asarray(image).astype(int)


# --- modes ---------------------------------------------------------------


def test_one_bit_image(tmp_path):
    image = Image.new("1", (6, 4), 0)
    image.paste(1, (0, 0, 3, 4))
    path = tmp_path / "bits.png"
    image.save(path)
    out = pixels(decode_image(path))
    assert (out[:, :3] == 255).all() and (out[:, 3:] == 0).all()


def test_gray_image(tmp_path):
    path = tmp_path / "gray.png"
    Image.new("L", (5, 5), 77).save(path)
    assert (pixels(decode_image(path)) == 77).all()


def test_gray_alpha_is_composited_on_the_pad_colour(tmp_path):
    image = Image.new("LA", (8, 4), (200, 255))
    image.paste((200, 0), (0, 0, 4, 4))
    path = tmp_path / "la.png"
    image.save(path)
    out = pixels(decode_image(path, pad_color=PAD))
    assert (out[:, :4] == PAD).all()
    assert (out[:, 4:] == 200).all()


def test_half_transparent_rgba_blends_with_the_pad_colour(tmp_path):
    image = Image.new("RGBA", (8, 4), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 2, 4))
    image.paste((255, 0, 0, 128), (2, 0, 4, 4))
    path = tmp_path / "rgba.png"
    image.save(path)
    out = pixels(decode_image(path, pad_color=(0, 0, 255)))
    assert (out[:, :2] == (0, 0, 255)).all()
    # 128/255 of red over blue.
    assert np.abs(out[:, 2:4] - (128, 0, 127)).max() <= 1
    assert (out[:, 4:] == (255, 0, 0)).all()


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (6, 2), 1)
    image.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(0, (0, 0, 3, 2))
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    out = pixels(decode_image(path, pad_color=PAD))
    assert (out[:, :3] == PAD).all()
    assert (out[:, 3:] == (0, 255, 0)).all()


def test_palette_gif_first_frame_only(tmp_path):
    frames = [Image.new("P", (8, 8), i) for i in (1, 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    with Image.open(path) as check:
        assert check.n_frames == 2
    assert (pixels(decode_image(path)) == (255, 0, 0)).all()


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_colour_key_transparency_is_composited(tmp_path, mode):
    key = (255, 0, 0) if mode == "RGB" else 255
    other = (0, 0, 200) if mode == "RGB" else 90
    image = Image.new(mode, (6, 2), other)
    image.paste(key, (0, 0, 2, 2))
    path = tmp_path / f"key_{mode}.png"
    image.save(path, transparency=key)
    out = pixels(decode_image(path, pad_color=PAD))
    assert (out[:, :2] == PAD).all()
    assert (out[:, 2:] == (other if mode == "RGB" else (90, 90, 90))).all()


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk(tmp_path, suffix):
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))
    path = tmp_path / f"cmyk{suffix}"
    image.save(path)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    out = pixels(decode_image(path))
    assert np.abs(out - (255, 0, 0)).max() <= 3


def test_16_bit_gray_is_scaled_by_its_range_not_clipped(tmp_path):
    # 12-bit data stored in 16 bits: a clipping conversion makes it all white.
    values = np.linspace(0, 4095, 64 * 4).reshape(4, 64).astype(np.uint16)
    path = tmp_path / "gray16.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")
    out = pixels(decode_image(path))
    gray = out[..., 0]
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert gray.min() == 0 and gray.max() == 255
    assert (np.diff(gray.ravel()) >= 0).all()
    np.testing.assert_allclose(gray, values / 4095 * 255, atol=0.51)


def test_full_range_16_bit_maps_like_dividing_by_257(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "full16.tif"
    Image.fromarray(values).save(path)
    gray = pixels(decode_image(path))[..., 0]
    assert gray.tolist() == [[0, 1, 128, 255]]


def test_32_bit_signed_integer_with_negative_values(tmp_path):
    values = np.array([[-1000, 0, 1000]], dtype=np.int32)
    path = tmp_path / "int32.tif"
    Image.fromarray(values, mode="I").save(path)
    with Image.open(path) as check:
        assert check.mode == "I"
    assert pixels(decode_image(path))[..., 0].tolist() == [[0, 128, 255]]


def test_float_image_with_nan(tmp_path):
    values = np.array([[0.0, 0.25, 0.5, np.nan]], dtype=np.float32)
    path = tmp_path / "float.tif"
    Image.fromarray(values, mode="F").save(path)
    assert pixels(decode_image(path))[..., 0].tolist() == [[0, 128, 255, 0]]


@pytest.mark.parametrize("mode", ["La", "RGBa", "YCbCr", "HSV", "I;16B"])
def test_in_memory_modes_convert(mode):
    image = Image.new(mode, (3, 2))
    out = to_rgb(image, PAD)
    assert out.mode == "RGB" and out.size == (3, 2)


def test_constant_wide_image_maps_to_black():
    image = Image.fromarray(np.zeros((2, 2), dtype=np.float32), mode="F")
    assert (pixels(to_rgb(image)) == 0).all()


# --- EXIF orientation ----------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    displayed = orientation_image(60, 40)
    path = save_with_orientation(tmp_path / f"o{orientation}.jpg", displayed, orientation)
    with Image.open(path) as stored:
        stored_size = stored.size
        assert stored.getexif()[0x0112] == orientation
    assert stored_size == ((40, 60) if orientation >= 5 else (60, 40))
    out = pixels(decode_image(path))
    assert out.shape == (40, 60, 3)
    assert np.abs(out - np.asarray(displayed, dtype=int)).mean() < 4
    # The red block is top-left and the blue block bottom-right, whatever
    # was stored.
    assert np.abs(out[3, 3] - (255, 0, 0)).max() < 40
    assert np.abs(out[-3, -3] - (0, 0, 255)).max() < 40


def test_exif_display_table_matches_the_exif_definitions():
    """The test's own table: orientation 6 stores the picture turned 90
    degrees counter-clockwise, so its first stored row is the right column."""
    displayed = np.arange(6).reshape(2, 3, 1)
    stored = np.rot90(displayed, k=1)
    assert (stored[0, :, 0] == displayed[:, -1, 0]).all()
    assert (EXIF_DISPLAY[6](stored) == displayed).all()


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_letterboxed_output_keeps_the_displayed_orientation(tmp_path, orientation):
    path = save_with_orientation(tmp_path / "o.jpg", orientation_image(60, 40), orientation)
    out = load_and_preprocess(path, Preprocessing(size=60)).astype(int)
    # Letterboxed 60 x 40 into 60 x 60: content rows 10..49.
    assert (out[:10] == 0).all() and (out[50:] == 0).all()
    assert np.abs(out[13, 3] - (255, 0, 0)).max() < 40
    assert np.abs(out[46, 56] - (0, 0, 255)).max() < 40
    assert np.abs(out[13, 56] - (255, 255, 255)).max() < 40


def test_bad_exif_block_keeps_the_pixels(tmp_path):
    path = tmp_path / "bad_exif.jpg"
    Image.new("RGB", (8, 6), (0, 200, 0)).save(path, exif=b"Exif\x00\x00garbage-not-tiff")
    out = pixels(decode_image(path))
    assert out.shape == (6, 8, 3)
    assert np.abs(out - (0, 200, 0)).max() < 8


# --- sizes and JPEG draft mode -------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.jpg"
    image = Image.new("RGB", (4000, 3000), (200, 40, 40))
    image.paste((40, 40, 200), (2000, 0, 4000, 3000))
    image.save(path, quality=85)
    return str(path)


@pytest.mark.parametrize(
    "target, expected",
    [(None, (4000, 3000)), (224, (500, 375)), (400, (1000, 750)), (1000, (2000, 1500)),
     (1501, (4000, 3000))],
)
def test_jpeg_draft_mode_decodes_smaller_but_never_below_target(big_jpeg, target, expected):
    image = decode_image(big_jpeg, target_size=target)
    assert image.size == expected
    if target is not None:
        assert min(image.size) >= target
    out = pixels(image)
    assert np.abs(out[10, 10] - (200, 40, 40)).max() < 10
    assert np.abs(out[10, -10] - (40, 40, 200)).max() < 10


def test_draft_mode_with_a_rotated_portrait(tmp_path):
    displayed = Image.new("RGB", (300, 2000), (0, 0, 0))
    displayed.paste((255, 0, 0), (0, 0, 300, 300))
    path = save_with_orientation(tmp_path / "portrait.jpg", displayed, 6, quality=80)
    image = decode_image(path, target_size=64)
    # 2000 x 300 stored: scale 4 (300 // 64 == 4), then turned upright.
    assert image.size == (75, 500)
    assert np.abs(pixels(image)[5, 37] - (255, 0, 0)).max() < 30


def test_multi_picture_jpeg_uses_draft_mode_and_its_first_picture(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.new("RGB", (800, 600), (255, 0, 0)).save(
        path, format="MPO", save_all=True, append_images=[Image.new("RGB", (800, 600), (0, 0, 255))]
    )
    image = decode_image(path, target_size=100)
    assert image.size == (200, 150)
    assert np.abs(pixels(image) - (255, 0, 0)).max() < 8


def test_non_jpeg_is_decoded_at_full_size_with_a_target(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (900, 700), (1, 2, 3)).save(path)
    assert decode_image(path, target_size=64).size == (900, 700)


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (7, 1), (2, 3)])
def test_tiny_images(tmp_path, size):
    path = tmp_path / "tiny.png"
    Image.new("RGB", size, (9, 99, 199)).save(path)
    image = decode_image(path, target_size=224)
    assert image.size == size
    assert (pixels(image) == (9, 99, 199)).all()
    out = load_and_preprocess(path, Preprocessing(size=16))
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8


# --- names and formats ---------------------------------------------------


def test_hostile_set_good_files_decode(tmp_path):
    hostile = write_hostile_set(tmp_path)
    for name, path in hostile.good.items():
        image = decode_image(path)
        assert image.mode == "RGB", name
        assert min(image.size) >= 1, name
    assert decode_image(hostile.good["exif_rotated"]).size == (60, 40)
    assert decode_image(hostile.good["thin"]).size == (2, 300)
    # The hostile set's expectations hold, file by file.
    for name, (path, reason) in hostile.bad.items():
        with pytest.raises(ImageDecodeError) as info:
            decode_image(path)
        assert info.value.reason.startswith(reason), (name, info.value.reason)
        assert info.value.path == path


@pytest.mark.parametrize("name", ["été photo ☀.jpg", "名前 with space.webp", "UPPER.JPEG"])
def test_unicode_and_space_names_decode(tmp_path, name):
    path = tmp_path / name
    Image.new("RGB", (5, 4), (0, 0, 250)).save(path, quality=95)
    assert np.abs(pixels(decode_image(str(path))) - (0, 0, 250)).max() < 10


# --- bad files -----------------------------------------------------------


def photo(tmp_path, suffix, **options):
    rng = np.random.default_rng(0)
    path = tmp_path / f"photo{suffix}"
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path, **options)
    return path


def write(path, data):
    path.write_bytes(data)
    return path


def cut(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: write(p / "zero.jpg", b""), "empty file"),
        (lambda p: write(p / "text.jpg", b"hello\n"), "not an image"),
        (lambda p: write(p / "short.png", b"\x89PNG\r\n\x1a\n"), "not an image"),
        (lambda p: cut(photo(p, ".jpg", quality=90), 0.5), "truncated"),
        (lambda p: cut(photo(p, ".png"), 0.5), "truncated"),
        (lambda p: cut(photo(p, ".jpg", quality=90), 0.02), "truncated"),
        (lambda p: p / "missing.png", "file not found"),
        (lambda p: p, "is a folder"),
    ],
    ids=["zero-byte", "text", "signature-only", "truncated-jpeg", "truncated-png", "headers-only",
         "missing",
         "folder"],
)
def test_bad_files_raise_with_their_reason(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path)
    assert info.value.reason == reason
    assert str(info.value) == f"{os.fspath(path)}: {reason}"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_corrupt_png_data(tmp_path):
    path = photo(tmp_path, ".png")
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 14
    data[start:start + 8] = bytes(b ^ 0xFF for b in data[start:start + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError, match="corrupt"):
        decode_image(path)


def test_decode_error_survives_a_copy():
    error = ImageDecodeError("/x/a.jpg", "truncated")
    clone = copy.deepcopy(error)
    assert (clone.path, clone.reason) == ("/x/a.jpg", "truncated")
    assert str(clone) == "/x/a.jpg: truncated"


def test_decoded_image_does_not_need_the_file(tmp_path):
    path = photo(tmp_path, ".jpg", quality=90)
    image = decode_image(path)
    os.remove(path)
    assert pixels(image).shape == (40, 50, 3)


# --- decompression bombs -------------------------------------------------


def test_crafted_header_claiming_400_megapixels_is_refused(tmp_path):
    path = write_bomb_png(tmp_path / "bomb.png", 20000, 20000)
    assert os.path.getsize(path) < 1000
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        decode_image(path)


def test_lowered_pixel_limit_is_checked_before_decoding(tmp_path):
    # The header says 2000 x 2000 but the data is missing: only a size check
    # before decoding can report "too many pixels" rather than "truncated".
    path = write_bomb_png(tmp_path / "bomb.png", 2000, 2000)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path, max_pixels=1_000_000)
    assert info.value.reason == "too many pixels (2000x2000 > 1000000)"
    with pytest.raises(ImageDecodeError, match="truncated"):
        decode_image(path, max_pixels=4_000_000)


def test_limit_is_inclusive(tmp_path):
    path = tmp_path / "square.png"
    Image.new("RGB", (100, 100)).save(path)
    assert decode_image(path, max_pixels=10_000).size == (100, 100)
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        decode_image(path, max_pixels=9_999)


def test_pillow_bomb_warning_and_error_are_handled(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    warned = tmp_path / "warned.png"
    Image.new("RGB", (40, 40)).save(warned)  # 1600 pixels: Pillow warns
    refused = tmp_path / "refused.png"
    Image.new("RGB", (50, 50)).save(refused)  # 2500 > 2 * 1000: Pillow refuses
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decode_image(warned).size == (40, 40)
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        decode_image(refused)


def test_default_limit_is_documented_value():
    assert MAX_PIXELS == 178_956_970


def test_jpeg_limit_applies_to_the_draft_size_it_decodes(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1600), (90, 120, 30)).save(path, quality=90)
    with pytest.raises(ImageDecodeError) as info:
        decode_image(path, max_pixels=1_000_000)
    assert info.value.reason == "too many pixels (2000x1600 > 1000000)"
    # draft() decodes at 1/4 (500 x 400): the file is affordable at that size.
    assert decode_image(path, target_size=224, max_pixels=1_000_000).size == (500, 400)
    with pytest.raises(ImageDecodeError, match=r"too many pixels \(500x400 > 199999\)"):
        decode_image(path, target_size=224, max_pixels=199_999)


# --- memory budget of decoding -------------------------------------------


def test_decoding_plan_keeps_everything_when_the_budget_is_unknown_or_ample():
    assert decoding_plan(8, None) == (8, MAX_PIXELS)
    ample = 8 * MAX_PIXELS * DECODE_BYTES_PER_PIXEL
    assert decoding_plan(8, ample) == (8, MAX_PIXELS)
    assert decoding_plan(8, ample, fixed_workers=True) == (8, MAX_PIXELS)


@pytest.mark.parametrize("gib", [0.5, 2, 4, 8, 16, 32, 64])
@pytest.mark.parametrize("num_workers", [0, 1, 4, 8, 16])
@pytest.mark.parametrize("fixed", [False, True], ids=["sized", "fixed"])
def test_decoding_plan_fits_the_budget(gib, num_workers, fixed):
    budget = int(gib * 2**30)
    workers, max_pixels = decoding_plan(num_workers, budget, fixed_workers=fixed)
    assert 1 <= max_pixels <= MAX_PIXELS
    assert max(1, workers) * max_pixels * DECODE_BYTES_PER_PIXEL <= budget
    if fixed or num_workers <= 1:
        assert workers == num_workers
    else:
        assert 1 <= workers <= num_workers
        # Workers are cut only while each could not take a MIN_WORKER_PIXELS image.
        assert workers == num_workers or workers == 1 or max_pixels >= MIN_WORKER_PIXELS


def test_decoding_plan_cuts_workers_before_the_limit_and_a_fixed_count_lowers_it():
    per_worker = MIN_WORKER_PIXELS * DECODE_BYTES_PER_PIXEL
    # Room for three 100 MP decodes: three workers of about 100 MP each.
    workers, max_pixels = decoding_plan(8, 3 * per_worker)
    assert workers == 3 and max_pixels == MIN_WORKER_PIXELS
    # The user's eight workers stay; each gets an eighth of the budget.
    assert decoding_plan(8, 3 * per_worker, fixed_workers=True) == (8, 3 * MIN_WORKER_PIXELS // 8)
    # Not even one 100 MP decode fits: one worker with what there is.
    assert decoding_plan(8, per_worker // 2) == (1, MIN_WORKER_PIXELS // 2)
    # The 13000 x 13000 PNG of the issue needs up to 3.2 GB at the measured peak.
    # With 8 GiB available, two workers keep 113 MP each and it is refused by size
    # instead of taking 2 x 3.2 GB; with 32 GiB four workers can all afford it.
    workers, max_pixels = decoding_plan(4, int(DECODE_MEMORY_FRACTION * 8 * 2**30))
    assert workers == 2 and MIN_WORKER_PIXELS <= max_pixels < 13000 * 13000
    workers, max_pixels = decoding_plan(4, int(DECODE_MEMORY_FRACTION * 32 * 2**30))
    assert workers == 4 and max_pixels >= 13000 * 13000


def test_decoding_plan_rejects_negative_workers():
    with pytest.raises(ValueError, match="num_workers"):
        decoding_plan(-1, 2**30)


def test_decode_memory_budget_is_a_fraction_of_available_memory(monkeypatch):
    from gpucluster.embed import decode

    monkeypatch.setattr(decode, "available_memory", lambda: 10 * 2**30)
    assert decode.decode_memory_budget() == int(DECODE_MEMORY_FRACTION * 10 * 2**30)
    monkeypatch.setattr(decode, "available_memory", lambda: None)
    assert decode.decode_memory_budget() is None


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="reads Linux's /proc/meminfo")
def test_available_memory_is_positive_and_below_the_total():
    from gpucluster.embed.decode import available_memory

    with open("/proc/meminfo") as f:
        total = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) * 1024
    assert 0 < available_memory() <= total


# --- arguments -----------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"target_size": 0}, {"target_size": 2.5}, {"target_size": True}, {"max_pixels": 0},
     {"pad_color": (256, 0, 0)}, {"pad_color": (1, 2)}, {"pad_color": (1.5, 0, 0)},
     {"pad_color": "red"}],
)
def test_bad_arguments_raise_value_error(tmp_path, kwargs):
    path = tmp_path / "ok.png"
    Image.new("RGB", (4, 4)).save(path)
    (name,) = kwargs
    with pytest.raises(ValueError, match=f"{name} must be"):
        decode_image(path, **kwargs)

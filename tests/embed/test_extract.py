"""embed_images: shapes, normalisation, reuse, changed and corrupt files, sampling, workers, OOM."""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
from PIL import Image  # noqa: E402

from gpucluster.embed.extract import (  # noqa: E402
    EmbedReport, encode_paths, embed_images, store_config, throughput,
)
from gpucluster.embed.models import TINY_MODEL, from_module, load_model  # noqa: E402
from gpucluster.embed.preprocess import Preprocessing, load_and_preprocess, normalize_batch  # noqa: E402
from gpucluster.embed.store import EmbeddingStore, load_store  # noqa: E402

N_IMAGES = 6


def write_images(folder, n=N_IMAGES, seed=0):
    """n small PNG/JPEG files of different sizes and content; returns their sorted paths."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(n):
        h, w = 24 + 5 * i, 40 - 3 * i
        base = rng.integers(0, 256, size=(1, 1, 3))
        noise = rng.integers(-40, 40, size=(h, w, 3))
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        path = os.path.join(folder, f"img_{i:02d}.{'png' if i % 2 else 'jpg'}")
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return sorted(paths)


@pytest.fixture
def images(tmp_path):
    return write_images(str(tmp_path / "images"))


def run(inputs, store, model, **kwargs):
    kwargs.setdefault("device", "cpu")
    kwargs.setdefault("num_workers", 0)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("dtype", "float32")
    return embed_images(inputs, str(store), model=model, **kwargs)


def expected_embeddings(paths, model, normalize):
    prep = Preprocessing(size=model.image_size, mean=model.mean, std=model.std)
    batch = torch.from_numpy(np.stack([load_and_preprocess(p, prep) for p in paths]))
    with torch.inference_mode():
        emb = model.encode_images(normalize_batch(batch, prep.mean, prep.std)).float()
    if normalize:
        emb = torch.nn.functional.normalize(emb, dim=-1)
    return emb.numpy()


def test_embeddings_have_the_model_shape_and_unit_norm(tiny, images, tmp_path):
    report = run(os.path.dirname(images[0]), tmp_path / "store", tiny)
    assert isinstance(report, EmbedReport)
    assert (report.n_images, report.embedded, report.reused, report.skipped) == (N_IMAGES, N_IMAGES, 0, [])
    assert report.device == "cpu" and report.batch_size == 32
    paths, X = load_store(report.store)
    assert paths == images
    assert X.shape == (N_IMAGES, 64) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(X, expected_embeddings(images, tiny, True), rtol=1e-4, atol=1e-5)


def test_normalize_false_keeps_raw_embeddings_in_another_store(tiny, images, tmp_path):
    normed = run(images, tmp_path / "store", tiny)
    raw = run(images, tmp_path / "store", tiny, normalize=False)
    assert raw.store != normed.store and raw.embedded == N_IMAGES
    _, X = load_store(raw.store)
    assert not np.allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-2)
    np.testing.assert_allclose(X, expected_embeddings(images, tiny, False), rtol=1e-4, atol=1e-5)


def test_float16_store_holds_half_precision(tiny, images, tmp_path):
    report = run(images, tmp_path / "store", tiny, dtype="float16")
    _, X = load_store(report.store, dtype="native")
    assert X.dtype == np.float16
    np.testing.assert_allclose(X.astype(np.float32), expected_embeddings(images, tiny, True), atol=2e-3)


def test_workers_and_batches_give_the_same_embeddings(tiny, images, tmp_path):
    a = run(images, tmp_path / "a", tiny, num_workers=0)
    b = run(images, tmp_path / "b", tiny, num_workers=2, batch_size=4)
    _, Xa = load_store(a.store)
    _, Xb = load_store(b.store)
    # Batches of 4 and of 32 may take different CPU kernels; float32 rounding only.
    np.testing.assert_allclose(Xa, Xb, rtol=1e-4, atol=1e-5)


def test_second_run_reuses_everything(tiny, images, tmp_path):
    first = run(images, tmp_path / "store", tiny)
    second = run(images, tmp_path / "store", tiny)
    assert (second.embedded, second.reused, second.n_images) == (0, N_IMAGES, N_IMAGES)
    assert second.store == first.store
    _, X1 = load_store(first.store)
    assert X1.shape == (N_IMAGES, 64)


def test_touching_one_file_re_embeds_exactly_it(tiny, images, tmp_path):
    first = run(images, tmp_path / "store", tiny)
    _, before = load_store(first.store)
    st = os.stat(images[2])
    os.utime(images[2], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    second = run(images, tmp_path / "store", tiny)
    assert (second.embedded, second.reused) == (1, N_IMAGES - 1)

    Image.fromarray(np.full((30, 30, 3), 200, dtype=np.uint8)).save(images[3], format="JPEG")
    os.utime(images[3], ns=(st.st_atime_ns, st.st_mtime_ns + 9_000_000_000))
    third = run(images, tmp_path / "store", tiny)
    assert (third.embedded, third.reused) == (1, N_IMAGES - 1)
    _, after = load_store(first.store)
    np.testing.assert_allclose(np.delete(after, 3, axis=0), np.delete(before, 3, axis=0), atol=1e-6)
    assert not np.allclose(after[3], before[3], atol=1e-3)


def test_corrupt_files_are_skipped_with_reasons(tiny, images, tmp_path):
    folder = os.path.dirname(images[0])
    empty = os.path.join(folder, "empty.png")
    open(empty, "wb").close()
    text = os.path.join(folder, "text.jpg")
    with open(text, "w") as f:
        f.write("this is not a picture")
    truncated = os.path.join(folder, "truncated.png")
    with open(images[1], "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])

    report = run(folder, tmp_path / "store", tiny, num_workers=2, batch_size=3)
    assert report.embedded == N_IMAGES and report.n_images == N_IMAGES + 3
    reasons = dict(report.skipped)
    assert set(reasons) == {empty, text, truncated}
    assert report.paths == images
    assert all(isinstance(r, str) and r for r in reasons.values())
    store = EmbeddingStore(tmp_path / "store", json.load(open(os.path.join(report.store, "config.json"))))
    assert {p for p, _ in store.failures()} == {empty, text, truncated}
    paths, _ = load_store(report.store)
    assert paths == images
    assert "empty.png" in report.summary()


def test_sampling_is_reproducible_and_keeps_includes(tiny, images, tmp_path):
    a = run(images, tmp_path / "a", tiny, sample=3, seed=7)
    b = run(images, tmp_path / "b", tiny, sample=3, seed=7)
    pa, _ = load_store(a.store)
    pb, _ = load_store(b.store)
    assert a.n_images == a.embedded == 3 and a.paths == pa
    assert pa == pb and len(pa) == 3
    left_out = next(p for p in images if p not in pa)
    c = run(images, tmp_path / "c", tiny, sample=3, seed=7, include=[left_out])
    pc, _ = load_store(c.store)
    assert left_out in pc
    half = run(images, tmp_path / "d", tiny, sample=0.5, seed=7)
    assert half.n_images == 3


def test_force_recomputes_everything(tiny, images, tmp_path):
    run(images, tmp_path / "store", tiny)
    again = run(images, tmp_path / "store", tiny, force=True)
    assert (again.embedded, again.reused) == (N_IMAGES, 0)
    paths, X = load_store(again.store)
    assert paths == images and X.shape == (N_IMAGES, 64)


def test_deleted_files_leave_the_store_and_other_folders_stay(tiny, images, tmp_path):
    other = write_images(tmp_path / "other", n=2, seed=5)
    run(images + other, tmp_path / "store", tiny)
    os.remove(images[0])
    report = run(os.path.dirname(images[0]), tmp_path / "store", tiny)
    assert (report.removed, report.reused, report.n_images) == (1, N_IMAGES - 1, N_IMAGES - 1)
    assert report.paths == images[1:]
    # the deleted file's row is gone; the other folder's images, outside this run, stay
    assert load_store(report.store)[0] == sorted(images[1:] + other)


def test_model_by_name_and_report_round_trip(images, tmp_path):
    report = embed_images(images, str(tmp_path / "store"), model=TINY_MODEL, pretrained=None,
                          device="cpu", num_workers=0, progress=False)
    assert report.embedded == N_IMAGES
    config = json.load(open(os.path.join(report.store, "config.json")))
    assert config["model"]["name"] == TINY_MODEL
    assert config["preprocessing"]["mode"] == "letterbox" and config["preprocessing"]["size"] == 32
    assert config["normalize"] is True and config["dtype"] == "float16"
    data = json.loads(json.dumps(report.to_dict()))
    assert data["embedded"] == N_IMAGES and data["store"] == report.store
    assert "paths" not in data and report.paths == images
    text = report.summary()
    assert f"{N_IMAGES} embedded" in text and report.store in text and "images/s" in text


@pytest.mark.parametrize("reused, text", [(1, "all 1 image reused"), (2, "all 2 images reused")])
def test_summary_counts_the_reused_images_in_the_singular_for_one(reused, text):
    report = EmbedReport(store="store", n_images=reused, embedded=0, reused=reused)
    assert f"nothing to embed: {text} from the store" in report.summary()


def test_store_config_names_model_preprocessing_normalize_dtype(tiny):
    prep = Preprocessing(mode="resize", size=32)
    config = store_config(tiny, prep, False, "float32")
    assert config == {"model": tiny.config(), "preprocessing": prep.config(), "normalize": False,
                      "dtype": "float32"}


def test_any_torch_module_embeds(images, tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1))
    model = from_module(net, image_size=16, mean=(0.5,) * 3, std=(0.5,) * 3)
    report = run(images, tmp_path / "store", model, preprocessing="center_crop")
    _, X = load_store(report.store)
    assert X.shape == (N_IMAGES, 4)


class _OutOfMemoryAbove(torch.nn.Module):
    """A model that raises CUDA out-of-memory for batches larger than ``limit``."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.proj = torch.nn.Linear(3, 5)

    def forward(self, x):
        if x.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.proj(x.mean(dim=(2, 3)))


def test_out_of_memory_halves_the_batch_and_retries(images, tmp_path):
    torch.manual_seed(0)
    model = from_module(_OutOfMemoryAbove(limit=100), image_size=8, mean=(0.5,) * 3, std=(0.5,) * 3)
    reference = run(images, tmp_path / "a", model, batch_size=8)
    model.module.limit = 2
    report = run(images, tmp_path / "b", model, batch_size=8)
    assert report.batch_size == 2 and report.embedded == N_IMAGES
    # Chunks of 2 and of 8 may round differently in the last float32 bit.
    np.testing.assert_allclose(load_store(report.store)[1], load_store(reference.store)[1],
                               rtol=1e-5, atol=1e-7)


def test_wrong_resolution_for_the_model_fails_before_reading(tiny, images, tmp_path):
    with pytest.raises(ValueError, match="cannot embed 48 px"):
        run(images, tmp_path / "store", tiny, resolution=48)


@pytest.mark.parametrize("kwargs, match", [
    ({"dtype": "int8"}, "dtype"),
    ({"batch_size": 0}, "batch_size"),
    ({"num_workers": -1}, "num_workers"),
    ({"device": "tpu"}, "device"),
])
def test_bad_arguments_are_refused(tiny, images, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run(images, tmp_path / "store", tiny, **kwargs)


def test_missing_input_is_file_not_found(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="input path not found: .*nowhere"):
        run(str(tmp_path / "nowhere"), tmp_path / "store", tiny)


def test_encode_paths_yields_embeddings_and_failures(tiny, images, tmp_path):
    bad = str(tmp_path / "bad.png")
    with open(bad, "wb") as f:
        f.write(b"\x89PNG broken")
    paths = images[:3] + [bad]
    got = {}
    failed = []
    for indices, emb, failures, stats in encode_paths(paths, tiny, batch_size=2, num_workers=0):
        assert emb.shape == (len(indices), 64) and len(stats) == len(indices)
        got.update(zip(indices, emb))
        failed.extend(i for i, _, _ in failures)
    assert sorted(got) == [0, 1, 2] and failed == [3]


def test_decoding_workers_are_sized_to_the_memory_budget():
    from gpucluster.embed.decode import DECODE_BYTES_PER_PIXEL, MAX_PIXELS, MIN_WORKER_PIXELS
    from gpucluster.embed.extract import decoding_workers, default_num_workers

    default = default_num_workers("cpu")
    assert decoding_workers(None, "cpu", n_batches=100, budget_bytes=None) == (default, MAX_PIXELS)
    assert decoding_workers(None, "cpu", n_batches=1, budget_bytes=None) == (1, MAX_PIXELS)
    room_for_one = MIN_WORKER_PIXELS * DECODE_BYTES_PER_PIXEL
    # The default count is cut to what the budget holds; a count the user gave is
    # kept and the pixel limit shrinks instead.
    assert decoding_workers(None, "cpu", 100, budget_bytes=room_for_one) == (1, MIN_WORKER_PIXELS)
    assert decoding_workers(3, "cpu", 100, budget_bytes=room_for_one) == (3, MIN_WORKER_PIXELS // 3)


def test_the_run_refuses_files_above_the_budget_pixel_limit(tiny, images, tmp_path, monkeypatch):
    from gpucluster.embed import extract
    from gpucluster.embed.decode import DECODE_BYTES_PER_PIXEL

    # A budget that one decoder spends on 1100 pixels: the images of 40 x 24 and
    # 37 x 29 (960 and 1073 pixels) pass, the others are refused before decoding.
    monkeypatch.setattr(extract, "decode_memory_budget", lambda: 1100 * DECODE_BYTES_PER_PIXEL)
    sizes = {p: Image.open(p).size for p in images}
    report = run(images, tmp_path / "store", tiny)
    small = sorted(p for p, (w, h) in sizes.items() if w * h <= 1100)
    assert len(small) == 2 and report.paths == small
    assert sorted(report.skipped) == sorted(
        (p, f"too many pixels ({w}x{h} > 1100), the limit that keeps decoding within its memory "
            f"budget; fewer decoding workers (--num-workers) or more free memory raise it")
        for p, (w, h) in sizes.items() if w * h > 1100)


@pytest.mark.parametrize("part", ["decode", "forward", "end_to_end"])
def test_throughput_measures_each_part(tiny, images, part):
    rate = throughput(images, tiny, part=part, batch_size=4, num_workers=0)
    assert isinstance(rate, float) and rate > 0


def test_throughput_rejects_unknown_part(tiny, images):
    with pytest.raises(ValueError, match="part must be"):
        throughput(images, tiny, part="everything")


def test_batch_size_for_memory_is_a_clipped_power_of_two():
    from gpucluster.embed.extract import MAX_AUTO_BATCH, batch_size_for_memory

    assert batch_size_for_memory(1000, 10) == 32  # half of 1000 bytes holds 50 images of 10
    assert batch_size_for_memory(10, 100) == 1
    assert batch_size_for_memory(2**40, 1) == MAX_AUTO_BATCH
    with pytest.raises(ValueError, match="per_image_bytes"):
        batch_size_for_memory(100, 0)


@pytest.mark.gpu
def test_cuda_half_precision_matches_the_cpu(images, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA GPU")
    cpu = run(images, tmp_path / "cpu", load_model(TINY_MODEL, None))
    cuda = run(images, tmp_path / "cuda", load_model(TINY_MODEL, None), device="cuda",
               batch_size="auto", num_workers=2)
    assert cuda.device.startswith("cuda") and cuda.embedded == N_IMAGES and cuda.batch_size >= 1
    # float16 weights and activations on the GPU versus float32 on the CPU.
    np.testing.assert_allclose(load_store(cuda.store)[1], load_store(cpu.store)[1], atol=2e-2)


def test_nothing_new_loads_no_model_and_another_configuration_is_not_mistaken_for_it(
        images, tmp_path, monkeypatch):
    from gpucluster.embed import models

    kwargs = dict(model=TINY_MODEL, pretrained=None, device="cpu", num_workers=0, progress=False)
    store = str(tmp_path / "store")
    first = embed_images(images, store, preprocessing="resize", **kwargs)
    assert first.model is not None and first.model.name == TINY_MODEL
    loads = []
    real = models.load_model
    monkeypatch.setattr(models, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))

    again = embed_images(images, store, preprocessing="resize", **kwargs)
    assert loads == [] and again.model is None
    assert (again.embedded, again.reused, again.store) == (0, N_IMAGES, first.store)
    assert again.paths == first.paths and "nothing to embed" in again.summary()
    # Another preprocessing (or tag, or normalisation) is another store: the model is needed.
    other = embed_images(images, store, **kwargs)
    assert len(loads) == 1 and other.embedded == N_IMAGES and other.store != first.store
    unnormalised = embed_images(images, store, normalize=False, **kwargs)
    assert len(loads) == 2 and unnormalised.embedded == N_IMAGES
    # A new image needs the model too.
    write_images(tmp_path / "more", n=1, seed=9)
    added = embed_images(images + [str(p) for p in (tmp_path / "more").iterdir()], store,
                         preprocessing="resize", **kwargs)
    assert len(loads) == 3 and (added.embedded, added.reused) == (1, N_IMAGES)

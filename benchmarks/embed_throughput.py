"""Embedding throughput cases for benchmarks/run.py.

A generated folder of JPEGs of mixed sizes is embedded by each model, and the
pipeline is timed in parts: decode-only (the DataLoader: read, decode,
letterbox, collate), forward-only (copy, normalisation and forward pass on
uint8 batches already in memory), end-to-end (both, as `embed_images` runs
them, without the store), then `embed_images` into a fresh store (first run)
and again over the unchanged folder (second run). Models run with random
weights (pretrained=None): their cost is the architecture's, and no weights
are downloaded.
"""

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

SEED = 0


def _write_jpeg(args):
    path, width, height, seed = args
    from PIL import Image

    rng = np.random.default_rng(seed)
    # Smooth random content (a small noise image scaled up), like a photo's
    # low-frequency structure, plus fine noise so JPEG sizes are realistic.
    small = rng.integers(0, 256, size=(max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-12, 13, size=(height, width, 3))
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=88)
    return path


def write_jpegs(folder, n, megapixels=(1.0, 12.0), seed=SEED, workers=None):
    """Write ``n`` JPEGs with sizes drawn uniformly in ``megapixels`` (aspect 4:3 or 3:4)."""
    rng = np.random.default_rng(seed)
    jobs = []
    for i in range(n):
        pixels = rng.uniform(*megapixels) * 1e6
        aspect = 4 / 3 if rng.random() < 0.7 else 3 / 4
        width = int(np.sqrt(pixels * aspect))
        height = int(pixels / width)
        jobs.append((os.path.join(folder, f"img_{i:06d}.jpg"), width, height, seed + i))
    os.makedirs(folder, exist_ok=True)
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        return sorted(pool.map(_write_jpeg, jobs, chunksize=8))


def _case(model_name, paths, device, batch_size, num_workers, log):
    from gpucluster.embed import embed_images, load_model, throughput

    model = load_model(model_name, pretrained=None, device=device)
    row = {"model": model_name, "image_size": model.image_size, "device": str(model.device),
           "n_images": len(paths), "num_workers": num_workers}
    # One warm-up batch: kernel selection and allocator growth are not timed.
    throughput(paths[: min(len(paths), 16)], model, part="forward", batch_size=batch_size,
               num_workers=0)
    for part in ("decode", "forward", "end_to_end"):
        log(f"embed {model_name}: {part} on {len(paths)} images")
        row[part] = throughput(paths, model, part=part, batch_size=batch_size, num_workers=num_workers)
    row["end_to_end_over_forward"] = row["end_to_end"] / row["forward"]
    with tempfile.TemporaryDirectory() as store:
        log(f"embed {model_name}: embed_images first run")
        start = time.perf_counter()
        first = embed_images(paths, store, model=model, batch_size=batch_size, device=device,
                             num_workers=num_workers, progress=False)
        row["first_run_s"] = time.perf_counter() - start
        start = time.perf_counter()
        second = embed_images(paths, store, model=model, batch_size=batch_size, device=device,
                              num_workers=num_workers, progress=False)
        row["second_run_s"] = time.perf_counter() - start
        row["second_run_embedded"] = second.embedded
        row["first_run_images_per_s"] = first.embedded / row["first_run_s"]
        row["batch_size"] = first.batch_size
    row["second_run_speedup"] = row["first_run_s"] / row["second_run_s"]
    return row


def run_embed(quick, log, gpu=False):
    """Time the embedding pipeline; returns a dict for the results JSON."""
    import torch

    if gpu:
        sizes = {"n": 2_000 if quick else 20_000, "megapixels": (1.0, 12.0),
                 "models": ["gpucluster-tiny", "ViT-B-32", "ViT-L-14"], "device": "cuda",
                 "num_workers": min(16, os.cpu_count() or 1)}
    else:
        sizes = {"n": 64 if quick else 256, "megapixels": (0.3, 3.0),
                 "models": ["gpucluster-tiny", "ViT-B-32"], "device": "cpu",
                 "num_workers": min(2, os.cpu_count() or 1)}
    out = {"n_images": sizes["n"], "megapixels": list(sizes["megapixels"]), "cases": [],
           "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as folder:
        log(f"writing {sizes['n']} JPEGs of {sizes['megapixels'][0]}-{sizes['megapixels'][1]} megapixels")
        start = time.perf_counter()
        paths = write_jpegs(folder, sizes["n"], sizes["megapixels"])
        out["write_s"] = time.perf_counter() - start
        out["bytes"] = sum(os.path.getsize(p) for p in paths)
        for name in sizes["models"]:
            out["cases"].append(_case(name, paths, sizes["device"], "auto", sizes["num_workers"], log))
    return out


def embed_markdown(res):
    lines = [
        f"### Embedding throughput ({res['n_images']} generated JPEGs, "
        f"{res['megapixels'][0]:g}-{res['megapixels'][1]:g} megapixels, "
        f"{res['bytes'] / 2**20:.0f} MiB; torch {res['torch']}, {res['torch_threads']} threads)",
        "",
        "| model | px | device | workers | batch | decode img/s | forward img/s | end-to-end img/s "
        "| end-to-end / forward | first run s | second run s | second run embeds | 1st/2nd |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in res["cases"]:
        lines.append(
            f"| {c['model']} | {c['image_size']} | {c['device']} | {c['num_workers']} | {c['batch_size']} "
            f"| {c['decode']:.1f} | {c['forward']:.1f} | {c['end_to_end']:.1f} "
            f"| {c['end_to_end_over_forward']:.2f} | {c['first_run_s']:.2f} | {c['second_run_s']:.3f} "
            f"| {c['second_run_embedded']} | {c['second_run_speedup']:.0f}x |")
    lines.append("")
    return "\n".join(lines)

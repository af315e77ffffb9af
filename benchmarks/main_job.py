"""The main job's case for benchmarks/run.py: `gpucluster run` on the built-in collection.

Runs the command as a user does, in a subprocess with an empty cache folder
(first run: the collection is written, every image embedded, Numba kernels
loaded from or written to their cache), then a second time over the same
cache (the embeddings are reused), and reads the ARI it prints.
"""

import os
import re
import subprocess
import sys
import tempfile
import time


def _run(cache, cwd, extra=()):
    env = {**os.environ, "GPUCLUSTER_CACHE": cache, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gpucluster.cli", "run", "--quiet", *extra],
                          capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"gpucluster run failed: {done.stderr[-2000:]}")
    ari = re.search(r"against the known groups: ([0-9.]+)", done.stdout)
    images = re.search(r"^(\d+) images, model ([^,\s]+)", done.stdout, re.M)
    best = re.search(r"^best: (.*)$", done.stdout, re.M)
    return {"seconds": seconds, "ari": float(ari.group(1)) if ari else None,
            "n_images": int(images.group(1)), "model": images.group(2),
            "best": best.group(1) if best else None}


def run_main_job(quick, log):
    """Seconds of a first and a second `gpucluster run` on the built-in collection."""
    with tempfile.TemporaryDirectory() as folder:
        cache = os.path.join(folder, "cache")
        log("gpucluster run (first run, empty cache)")
        first = _run(cache, folder)
        log("gpucluster run (second run, embeddings reused)")
        second = _run(cache, folder)
    return {"first": first, "second": second}


def main_job_markdown(res):
    first, second = res["first"], res["second"]
    return "\n".join([
        f"### `gpucluster run` on the built-in collection ({first['n_images']} images, {first['model']})",
        "",
        "| run | seconds | ARI of top result | top result |",
        "|---|---|---|---|",
        f"| first (empty cache) | {first['seconds']:.1f} | {first['ari']:.3f} | {first['best']} |",
        f"| second (embeddings reused) | {second['seconds']:.1f} | {second['ari']:.3f} | {second['best']} |",
        "",
    ])

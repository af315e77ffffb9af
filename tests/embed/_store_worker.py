"""A writer process for the store tests: embeds files into a store, maybe dying on purpose.

Run as ``python _store_worker.py ROOT PATHS_JSON [options]``. The embedding of a path is
a function of the path alone (``embedding_of``), so every run, interrupted or not, must
end with the same store. ``--crash POINT --crash-at K`` SIGKILLs the process the K-th
time the store reaches the named point of its write path (``store._crash_hook``);
``--hold`` takes the lock, prints "locked" and keeps it until stdin closes.

The worker loads gpucluster/embed/store.py (and the modules it imports: its siblings
and gpucluster/_format.py) from the folders rather than through the package: ``import
gpucluster`` compiles the estimators (about 2 s per process), and the store needs only
NumPy and the standard library.
"""

import argparse
import hashlib
import importlib
import json
import os
import signal
import sys
import time
import types

import numpy as np

PACKAGE_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gpucluster")
)
PACKAGE = "_gpucluster_under_test"


def load_store_module():
    # Bare packages over the gpucluster and embed folders let store.py import its
    # siblings (_lock, _shards, discover) and ``.._format`` relatively without running
    # gpucluster's or gpucluster.embed's __init__.
    for name, folder in ((PACKAGE, PACKAGE_DIR), (f"{PACKAGE}.embed",
                                                  os.path.join(PACKAGE_DIR, "embed"))):
        package = types.ModuleType(name)
        package.__path__ = [folder]
        sys.modules[name] = package
    return importlib.import_module(f"{PACKAGE}.embed.store")


def embedding_of(path, dim):
    """The deterministic float32 embedding of ``path``: normal values seeded by its sha256."""
    seed = int.from_bytes(hashlib.sha256(os.fsencode(path)).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def store_config(dtype, dim):
    """The configuration every worker and test of one store uses."""
    return {"model": {"name": "worker-model", "pretrained": None}, "dtype": dtype, "dim": dim}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("paths_json")
    parser.add_argument("--dtype", default="float16")
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--crash", default=None)
    parser.add_argument("--crash-at", type=int, default=1)
    parser.add_argument("--lock", choices=("run", "batch"), default="run")
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args(argv)

    store_module = load_store_module()
    if args.crash:
        seen = {"count": 0}

        def crash(point):
            if point == args.crash:
                seen["count"] += 1
                if seen["count"] == args.crash_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        store_module._crash_hook = crash

    with open(args.paths_json, encoding="utf-8") as f:
        paths = json.load(f)
    store = store_module.EmbeddingStore(args.root, store_config(args.dtype, args.dim))
    if args.hold:
        with store.lock():
            print("locked", flush=True)
            sys.stdin.read()
        return

    print("started", flush=True)
    summary = {"embedded": 0, "reused": 0}

    def run():
        todo, reused = store.plan(paths)
        summary["reused"] = len(reused)
        for start in range(0, len(todo), args.batch):
            batch = todo[start : start + args.batch]
            stats = store_module.file_stats(batch)
            X = np.stack([embedding_of(p, args.dim) for p in batch])
            store.write_batch(batch, stats, X)
            summary["embedded"] += len(batch)
            # Give a concurrent writer a chance to take the lock between batches.
            time.sleep(0.001)

    if args.lock == "run":
        with store.lock():
            run()
    else:
        run()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()

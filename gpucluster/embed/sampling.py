"""Choose a reproducible subset of image paths before embedding them.

A 1 % trial run should cost 1 % of the time, and its embeddings should not
be wasted when the user then asks for 10 % or for everything. So the sample
is not drawn by shuffling: each path gets a pseudo-random key, a hash of the
seed and the path, and the sample is the paths with the smallest keys. Then

- the same seed and paths give the same sample, on any machine;
- a larger sample with the same seed contains every smaller one;
- adding or removing images changes the sample only where they are, so a
  rerun on a grown collection reuses most stored embeddings.

The sample depends on the path strings: the same images under another
folder name give another sample.
"""

import hashlib
import math
import numbers
import os

from .discover import IMAGE_EXTENSIONS, has_image_extension


def _sample_key(seed_bytes, path):
    return hashlib.blake2b(os.fsencode(path), digest_size=8, key=seed_bytes).digest()


def _parse_sample(sample):
    """``sample`` as ("all", None), ("fraction", f) or ("count", n); ValueError if bad."""
    if sample is None:
        return "all", None
    if isinstance(sample, str):
        text = sample.strip()
        try:
            if text.endswith("%"):
                value = float(text[:-1]) / 100.0
                if not 0.0 < value <= 1.0:
                    raise ValueError
                return "fraction", value
            if text.isdigit():
                sample = int(text)
            else:
                sample = float(text)
        except ValueError:
            raise ValueError(
                f"sample must be a fraction in (0, 1], a count >= 1 or a percentage "
                f"such as '5%', got {sample!r}"
            ) from None
    if isinstance(sample, bool):
        raise ValueError(f"sample must be a number, got {sample!r}")
    if isinstance(sample, numbers.Integral):
        if sample < 1:
            raise ValueError(f"a sample count must be >= 1, got {sample!r}")
        return "count", int(sample)
    if isinstance(sample, numbers.Real):
        value = float(sample)
        if not (0.0 < value <= 1.0):
            raise ValueError(
                f"a sample fraction must be in (0, 1] (use an int for a count), got {sample!r}"
            )
        return "fraction", value
    raise ValueError(f"sample must be None, a fraction, a count or a percentage, got {sample!r}")


def sample_paths(paths, sample=None, *, seed=0, include=()):
    """A sorted, seeded subset of ``paths``.

    Parameters
    ----------
    paths : list of str
        Candidate image paths (duplicates are dropped).
    sample : None, float, int or str
        None keeps every path; a float in (0, 1] keeps ``ceil(fraction * n)``
        paths; an int >= 1 keeps that many (all when larger than n); a string
        such as ``"5%"``, ``"0.05"`` or ``"500"`` is read as one of those.
    seed : int
        Seed of the draw; the same seed gives the same sample.
    include : iterable of str
        Paths that the result must contain, on top of the drawn sample. A
        path missing from ``paths`` is added when it is an existing file with
        an image extension. Compared with ``paths`` by absolute path.

    Returns
    -------
    list of str, sorted.

    Raises
    ------
    ValueError
        For a bad ``sample``, or an ``include`` path without an image extension.
    FileNotFoundError
        For an ``include`` path that is neither in ``paths`` nor a file.
    TypeError
        For a ``seed`` that is not an integer.
    """
    kind, value = _parse_sample(sample)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError("paths must be a list of paths, not a single path")
    if isinstance(include, (str, bytes, os.PathLike)):
        include = [include]
    candidates = sorted({p if type(p) is str else os.fsdecode(os.fspath(p)) for p in paths})

    if kind == "all":
        chosen = set(candidates)
    else:
        n = math.ceil(value * len(candidates)) if kind == "fraction" else value
        n = min(n, len(candidates))
        # blake2b keys are at most 64 bytes; any Python int seed fits as text.
        seed_bytes = hashlib.sha256(str(int(seed)).encode()).digest()
        ranked = sorted(candidates, key=lambda p: (_sample_key(seed_bytes, p), p))
        chosen = set(ranked[:n])

    members = set(candidates)
    by_abspath = None
    for item in include:
        path = os.fsdecode(os.fspath(item))
        key = os.path.abspath(path)
        if path in members or key in members:
            chosen.add(path if path in members else key)
            continue
        if by_abspath is None:
            # Only needed when ``paths`` holds relative or unnormalised paths.
            by_abspath = {os.path.abspath(p): p for p in candidates}
        if key in by_abspath:
            chosen.add(by_abspath[key])
            continue
        if not os.path.isfile(path):
            raise FileNotFoundError(f"include path is not among the images and not a file: {path}")
        if not has_image_extension(path, IMAGE_EXTENSIONS):
            raise ValueError(f"include path has no image extension: {path}")
        chosen.add(key)
    return sorted(chosen)

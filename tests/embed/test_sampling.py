"""sample_paths: sizes, reproducibility, nesting, stability, include paths, bad values."""

import math
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpucluster.embed.sampling import sample_paths

PATHS = [f"/photos/{i // 10:02d}/img_{i:04d}.jpg" for i in range(200)]


def test_none_keeps_every_path_sorted_and_unique():
    shuffled = PATHS[::-1] + PATHS[:5]
    assert sample_paths(shuffled) == PATHS


@pytest.mark.parametrize(
    "sample, expected",
    [(0.1, 20), (0.001, 1), (0.0525, 11), (1.0, 200), (1, 1), (7, 7), (200, 200), (10_000, 200),
     ("5%", 10), ("0.05", 10), (" 12 ", 12), ("100%", 200)],
)
def test_sample_sizes(sample, expected):
    out = sample_paths(PATHS, sample)
    assert len(out) == expected
    assert out == sorted(out)
    assert set(out) <= set(PATHS)


def test_same_seed_same_sample_different_seed_different_sample():
    a = sample_paths(PATHS, 0.1, seed=3)
    assert sample_paths(list(reversed(PATHS)), 0.1, seed=3) == a
    assert sample_paths(PATHS, 0.1, seed=4) != a
    assert sample_paths(PATHS, 0.1) == sample_paths(PATHS, 0.1, seed=0)


def test_a_larger_sample_contains_the_smaller_one():
    small = set(sample_paths(PATHS, 0.02, seed=5))
    medium = set(sample_paths(PATHS, 0.2, seed=5))
    large = set(sample_paths(PATHS, 150, seed=5))
    assert small < medium < large


def test_adding_images_only_changes_the_sample_where_they_are():
    before = set(sample_paths(PATHS, 30, seed=1))
    added = [f"/photos/new/img_{i}.jpg" for i in range(40)]
    after = set(sample_paths(PATHS + added, 30, seed=1))
    # An old path in the new sample was in the old sample.
    assert after - set(added) <= before
    # Removing paths keeps every remaining sampled path.
    kept = [p for p in PATHS if p not in sorted(before)[:5]]
    assert set(sorted(before)[5:]) <= set(sample_paths(kept, 30, seed=1))


def test_sample_is_spread_over_the_sorted_order():
    paths = [f"/p/{i:05d}.png" for i in range(2000)]
    positions = [paths.index(p) for p in sample_paths(paths, 0.25, seed=2)]
    mean = sum(positions) / len(positions)
    assert 850 < mean < 1150
    assert min(positions) < 100 and max(positions) > 1900


def test_include_paths_in_the_list_are_always_kept():
    include = [PATHS[0], PATHS[77], PATHS[-1]]
    out = sample_paths(PATHS, 3, seed=0, include=include)
    assert set(include) <= set(out)
    drawn = set(sample_paths(PATHS, 3, seed=0))
    assert set(out) == drawn | set(include)
    assert sample_paths(PATHS, 3, include=PATHS[5]) == sorted(drawn | {PATHS[5]})


def test_include_paths_are_matched_by_absolute_path(tmp_path, monkeypatch):
    paths = [str(tmp_path / f"{i}.png") for i in range(20)]
    monkeypatch.chdir(tmp_path)
    out = sample_paths(paths, 1, include=["7.png", "./sub/../9.png"])
    assert {paths[7], paths[9]} <= set(out)
    assert len(out) <= 3


def test_include_path_outside_the_list_is_added_when_it_is_an_image_file(tmp_path):
    extra = tmp_path / "extra.JPG"
    extra.write_bytes(b"x")
    out = sample_paths(PATHS, 2, include=[str(extra)])
    assert str(extra) in out and len(out) == 3
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        sample_paths(PATHS, 2, include=[str(tmp_path / "missing.jpg")])
    text = tmp_path / "notes.txt"
    text.write_text("x")
    with pytest.raises(ValueError, match="image extension"):
        sample_paths(PATHS, 2, include=[str(text)])
    with pytest.raises(FileNotFoundError, match="not among the images and not a file"):
        sample_paths(PATHS, 2, include=[str(tmp_path)])


@pytest.mark.parametrize(
    "bad",
    [0, -3, 0.0, -0.5, 1.5, float("nan"), float("inf"), True, "abc", "0%", "150%", "", [1], 2j],
)
def test_bad_sample_values_raise_value_error(bad):
    with pytest.raises(ValueError, match="sample"):
        sample_paths(PATHS, bad)


@pytest.mark.parametrize("seed", [None, 1.5, "1", True])
def test_bad_seed_raises_type_error(seed):
    with pytest.raises(TypeError, match="seed"):
        sample_paths(PATHS, 0.5, seed=seed)


def test_a_single_path_string_is_not_a_list():
    with pytest.raises(TypeError, match="list"):
        sample_paths("/photos/a.jpg", 1)


def test_empty_list():
    assert sample_paths([], 0.5) == []
    assert sample_paths([], 10) == []


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 300),
    fraction=st.floats(0.001, 1.0),
    seed=st.integers(-(2**70), 2**70),
)
def test_fraction_gives_ceil_of_the_share(n, fraction, seed):
    paths = [os.path.join("/x", f"{i}.png") for i in range(n)]
    random.Random(0).shuffle(paths)
    out = sample_paths(paths, fraction, seed=seed)
    assert len(out) == math.ceil(fraction * n)
    assert out == sorted(set(out)) and set(out) <= set(paths)

"""gpucluster._format: how numbers, parameters and durations read for people."""

import pytest

from gpucluster import _format as fmt


@pytest.mark.parametrize("value, text", [
    (0.70123, "0.701"), (-0.012345, "-0.0123"), (2.0, "2"), (12345.6, "12300"), (999.7, "1000"),
    (123.4, "123"), (0.0, "0"), (6, "6"), (None, "n/a"), (True, "True"), ("ward", "ward"),
], ids=repr)
def test_number_keeps_three_significant_figures_without_exponents(value, text):
    assert fmt.number(value) == text


def test_params_read_as_name_equals_value_without_the_seed():
    text = fmt.params({"min_cluster_size": 6, "eps": 0.345678, "linkage": "ward",
                       "max_eps": None, "random_state": 0})
    assert text == "min_cluster_size=6, eps=0.346, linkage=ward, max_eps=None"


@pytest.mark.parametrize("fraction, text", [
    (0.0, "0 %"), (0.006, "0.6 %"), (0.12345, "12.3 %"), (1.0, "100 %"), (None, "n/a")])
def test_percent(fraction, text):
    assert fmt.percent(fraction) == text


@pytest.mark.parametrize("seconds, text", [
    (0.012345, "0.0123 s"), (1.849, "1.85 s"), (45.23, "45.2 s"), (60.2, "1 min"),
    (125.4, "2 min 5 s"), (3599.6, "1 h"), (3725, "1 h 2 min")])
def test_duration_rounds_for_reading(seconds, text):
    assert fmt.duration(seconds) == text


@pytest.mark.parametrize("value, text", [
    (0.9, "0.900"), (0.76704, "0.767"), (-0.0243, "-0.024"), (1, "1.000"), (None, "n/a"),
    (float("nan"), "nan")])
def test_scores_read_at_three_decimals(value, text):
    assert fmt.score(value) == text


@pytest.mark.parametrize("count, noun, text", [
    (1, "segment", "1 segment"), (3, "segment", "3 segments"), (0, "image", "0 images")])
def test_counted_is_plural_but_for_one(count, noun, text):
    assert fmt.counted(count, noun) == text


def test_counted_and_word_take_an_irregular_plural():
    assert fmt.counted(1, "copy", "copies") == "1 copy"
    assert fmt.counted(2, "copy", "copies") == "2 copies"
    assert [fmt.word(n, "was", "were") for n in (0, 1, 2)] == ["were", "was", "were"]
    assert fmt.word(2, "rank") == "ranks"

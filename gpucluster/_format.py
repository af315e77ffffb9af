"""How numbers, parameters and durations read wherever a person sees them: the
ranking table, the commands' printed lines and the HTML report.

One place, so the terminal and the report agree: floats at three significant
figures, parameters as ``name=value, name=value``, fractions as percentages,
durations as ``1.85 s`` or ``2 min 5 s``, counts of things as ``1 segment`` or
``3 segments`` (and the words agreeing with them, ``was`` or ``were``). Files meant
for programs (summary.json, info.json) keep the full values.
"""

import math
import numbers

SIGNIFICANT = 3
# Parameters every candidate carries with the same value: they say nothing about
# the grouping, only make each line longer.
HIDDEN_PARAMS = ("random_state",)


def number(value, digits=SIGNIFICANT):
    """``value`` for reading: floats at ``digits`` significant figures, ints whole.

    None (a score not computed) reads "n/a"; NaN and infinities as Python spells
    them. Large floats are written out, never in exponent form (12345.6 -> "12300").
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    text = f"{value:.{digits}g}"
    rounded = float(text)
    if abs(rounded) >= 10 ** digits:
        return str(int(rounded))
    return text


def score(value, decimals=SIGNIFICANT):
    """A score in [-1, 1] (silhouette, ARI, the composite) at a fixed number of
    decimals, so that a column of them lines up: 0.9 -> "0.900"; None -> "n/a"."""
    if value is None:
        return "n/a"
    value = float(value)
    return f"{value:.{decimals}f}" if math.isfinite(value) else f"{value:g}"


def params(mapping, hidden=HIDDEN_PARAMS):
    """Estimator parameters as ``name=value, name=value`` (floats via :func:`number`)."""
    return ", ".join(f"{key}={'None' if value is None else number(value)}"
                     for key, value in (mapping or {}).items() if key not in hidden)


def percent(fraction, digits=SIGNIFICANT):
    """A fraction in [0, 1] as a percentage: 0.006 -> "0.6 %", 0.1234 -> "12.3 %"."""
    if fraction is None:
        return "n/a"
    return f"{number(100.0 * float(fraction), digits)} %"


def duration(seconds):
    """Seconds for reading: "0.0123 s", "1.85 s", "2 min 5 s", "1 h 3 min"."""
    if seconds is None:
        return "n/a"
    seconds = float(seconds)
    if seconds < 59.5:
        return f"{number(seconds)} s"
    whole = int(round(seconds))
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(int(round(seconds / 60)), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def word(count, singular, plural=None):
    """The form of a word for ``count`` things: ``singular`` for one, else ``plural``
    (``singular`` + "s" when not given): word(2, "rank") -> "ranks",
    word(1, "was", "were") -> "was"."""
    if count == 1:
        return singular
    return singular + "s" if plural is None else plural


def counted(count, noun, plural=None):
    """``count`` and ``noun``, plural but for one: "1 segment", "3 segments", "0 images";
    ``plural`` for a noun that does not take an "s"."""
    return f"{count} {word(count, noun, plural)}"

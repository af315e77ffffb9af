"""Warnings of one candidate's fit, kept in its record instead of printed mid-search."""

import contextlib
import warnings


@contextlib.contextmanager
def kept_warnings():
    """Collect the warnings raised inside the block instead of printing them.

    Yields a list that, once the block has ended, holds one line per distinct
    warning, "Category: message", in the order they were first raised; a
    search stores it in the candidate's record ("warnings"), where the
    summary and the report show it beside that candidate.
    """
    lines = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield lines
        finally:
            lines.extend(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))

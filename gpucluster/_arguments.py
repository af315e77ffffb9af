"""Value types shared by the command-line parsers (argparse ``type=`` functions)."""

import argparse


def positive_int(text):
    """An integer option's value, refused by argparse (naming the option) below 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value

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


def name_key(text):
    """How names are compared on the command line: case, '-' and '_' ignored
    ("KMeans", "k-means" and "kmeans" are one name)."""
    return str(text).lower().replace("-", "").replace("_", "")


def one_of(choices):
    """An argparse ``type=`` taking one of ``choices`` spelt any way ``name_key`` allows,
    and returning it as listed; argparse names the option when it is none of them."""
    by_key = {name_key(choice): choice for choice in reversed(list(choices))}

    def convert(text):
        try:
            return by_key[name_key(text)]
        except KeyError:
            raise argparse.ArgumentTypeError(
                f"invalid choice: {text!r} (choose from {', '.join(choices)})") from None

    return convert

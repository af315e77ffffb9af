"""`gpucluster segment`: argument parsing and printing around ``segment.batch.segment_images``."""

from .. import _format as fmt
from .._arguments import one_of, positive_int
from .segmentation import scores_text

_FEATURE_CHOICES = ("gray", "rgb", "lab", "hsv", "xy", "sobel", "lbp", "texture")
_ALGORITHM_CHOICES = ("kmeans", "dbscan", "hdbscan", "slic")
# What a plain `gpucluster segment` uses when --features / --n-segments are not given
# (with --auto they narrow the search to themselves, see auto/_segment_command.py).
DEFAULT_FEATURES = ("lab", "xy")
DEFAULT_N_SEGMENTS = 8


def _weights(items):
    """``["xy=0.5", ...]`` -> {"xy": 0.5}; ValueError naming a bad item."""
    weights = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--weight expects group=number (xy=0.5), got {item!r}.") from None
    return weights or None


def _sample(text):
    value = float(text)
    return int(value) if value >= 1 and value == int(value) else value


def _print_choice(row):
    """With --auto: the setting the search chose for this image, on one line."""
    search = row["settings"].get("search") or {}
    if search.get("ranking"):
        best = search["ranking"][0]
        print(f"  chosen: {best['algorithm']} on {' '.join(best['features'])}, "
              f"n_segments={best['n_segments']} (composite "
              f"{fmt.score(best['scores']['composite'])}, {fmt.counted(search['tried'], 'setting')} tried)")


def segment_options(args):
    """The ``segment_one`` keyword arguments that the parsed ``args`` ask for."""
    return dict(algorithm=args.algorithm, features=tuple(args.features or DEFAULT_FEATURES),
                n_segments=args.n_segments or DEFAULT_N_SEGMENTS, weights=_weights(args.weight),
                scale=args.scale,
                downsample=args.downsample, sample=args.sample, superpixels=args.superpixels,
                compactness=args.compactness, eps=args.eps, min_samples=args.min_samples,
                min_cluster_size=args.min_cluster_size, random_state=args.seed, device=args.device)


def cmd_segment(args, segmenter=None, options=None):
    """Run `gpucluster segment`; ``segmenter`` (path -> Segmentation) and ``options`` (the
    settings named on the page) replace ``segment_one`` with the parsed settings."""
    from .batch import segment_images

    summary = segment_images(
        args.images, args.out, overwrite=args.overwrite, progress=not args.quiet,
        follow_links=args.follow_links, segmenter=segmenter,
        **(segment_options(args) if options is None else options))
    for row in summary["images"]:
        scores = scores_text(row["scores"], row["no_spread_within_segments"], row["n_segments"])
        print(f"{row['source']}: {fmt.counted(row['n_segments'], 'segment')}, {scores} "
              f"({fmt.duration(row['seconds'])}) -> {row['folder']}/")
        _print_choice(row)
    for path, reason in summary["failures"]:
        print(f"skipped {path}: {reason}")
    count = len(summary["images"])
    print(f"{fmt.counted(count, 'image')} segmented into {summary['out']}"
          + (f", {len(summary['failures'])} skipped" if summary["failures"] else ""))
    print(f"page: {summary['page']}")
    return 0


def register(subparsers):
    """Add the `segment` sub-command to the `gpucluster` parser; returns its parser."""
    p = subparsers.add_parser(
        "segment", help="segment images by clustering their pixels (label maps, overlays, contours)",
        description="Cluster the pixels of each image on the chosen features and write, per "
                    "image, the label map (.npy and PNG), the original, an overlay of the segment "
                    "colours, the contours and the quantised image, plus one HTML page showing "
                    "them side by side. Folders are scanned recursively; unreadable files are "
                    "listed and skipped.")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True, help="output folder (one sub-folder per image and index.html)")
    p.add_argument("--algorithm", type=one_of(_ALGORITHM_CHOICES), choices=_ALGORITHM_CHOICES,
                   default="kmeans",
                   help="kmeans (default) on every pixel; dbscan and hdbscan on a shrunk image, "
                        "every pixel taking its block's label; slic: SLIC superpixels merged "
                        "down to --n-segments regions")
    p.add_argument("--features", nargs="+", choices=_FEATURE_CHOICES, default=None,
                   help="pixel feature groups (default: " + " ".join(DEFAULT_FEATURES) + "); each "
                        "group is scaled as a whole; with --auto, the one feature set tried")
    p.add_argument("--n-segments", type=positive_int, default=None,
                   help=f"segments (kmeans clusters; slic: regions after merging; default: "
                        f"{DEFAULT_N_SEGMENTS}); with --auto, the one count tried")
    p.add_argument("--weight", action="append", metavar="GROUP=W",
                   help="weight of a feature group after scaling, e.g. --weight xy=0.5 (repeatable)")
    p.add_argument("--scale", choices=["standard", "minmax", "robust", "none"], default="standard",
                   help="how each feature group is scaled (default: %(default)s)")
    p.add_argument("--downsample", type=positive_int, default=None,
                   help="fit on the image shrunk by this factor, then label every pixel "
                        "(dbscan/hdbscan default: shrink to about 20,000 pixels)")
    p.add_argument("--sample", type=_sample, default=None,
                   help="fit on a random sample of pixels: a count (50000) or a fraction (0.1) "
                        "(kmeans only: dbscan and hdbscan cannot label the other pixels)")
    p.add_argument("--superpixels", type=positive_int, default=1000,
                   help="slic: superpixels before merging (default: %(default)s)")
    p.add_argument("--compactness", type=float, default=10.0,
                   help="slic: higher gives squarer superpixels, lower follows colour more "
                        "(default: %(default)s)")
    p.add_argument("--eps", type=float, default=None,
                   help="dbscan: radius in the scaled feature space (default: the 90th percentile "
                        "of the pixels' distances to their min-samples-th nearest pixel)")
    p.add_argument("--min-samples", type=positive_int, default=10,
                   help="dbscan and hdbscan: min_samples (default: %(default)s)")
    p.add_argument("--min-cluster-size", type=positive_int, default=None,
                   help="hdbscan: min_cluster_size (default: 1%% of the fitted pixels)")
    p.add_argument("--seed", type=int, default=0, help="random seed (KMeans, samples; default: %(default)s)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to compute: 'auto' uses a CUDA GPU when one answers and the image "
                        "is large enough")
    p.add_argument("--follow-links", action="store_true",
                   help="also follow symbolic links that lead outside the image folders")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_segment)
    return p

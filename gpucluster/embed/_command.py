"""`gpucluster embed`: embed an image collection into a store (argument parsing and printing only)."""

import json
import sys


def _batch_size(text):
    return text if text == "auto" else _positive_int(text, expected="'auto' or an integer >= 1")


def _sample(text):
    """'0.05' or '5%' -> a fraction; '500' -> a count."""
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100.0
        value = float(text)
    except ValueError:
        raise _argument_error(f"expected a fraction (0.1), a percentage (10%) or a count (500), "
                              f"got {text!r}") from None
    return int(value) if value >= 1 and value == int(value) else value


def _positive_int(text, expected="an integer >= 1"):
    try:
        value = int(text)
    except ValueError:
        raise _argument_error(f"expected {expected}, got {text!r}") from None
    if value < 1:
        raise _argument_error(f"must be {expected}, got {text}")
    return value


def _argument_error(message):
    import argparse

    return argparse.ArgumentTypeError(message)


def register(subparsers):
    """Add the `embed` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "embed", help="embed image folders or files into an embedding store (only new or changed files)",
        description="Embed images with an open_clip model (or efficientnet-lite0) into the store "
                    "folder given by --out. A second run embeds only new or changed files. The "
                    "default model is the one `gpucluster run` takes: CLIP ViT-B-32 when its "
                    "weights are on disk, else efficientnet-lite0 (offline).")
    p.add_argument("images", nargs="+", help="image folders (scanned recursively) or files")
    p.add_argument("--out", required=True, metavar="STORE", help="embedding store folder")
    p.add_argument("--model", default="auto",
                   help="'auto' (default, as in `gpucluster run`: CLIP ViT-B-32 when its weights "
                        "are on disk, else efficientnet-lite0), an open_clip architecture "
                        "(ViT-B-32, ViT-L-14, ViT-H-14, ...), 'efficientnet-lite0' (packaged "
                        "ImageNet weights, works offline) or 'gpucluster-tiny' (tests)")
    p.add_argument("--pretrained", default=None,
                   help="open_clip pretrained tag (default: the model's usual one, e.g. 'openai' for "
                        "ViT-B-32); 'none' for random weights")
    p.add_argument("--checkpoint", default=None, metavar="FILE",
                   help="a local weights file instead of downloading the tag's weights; the "
                        "preprocessing still follows --model and --pretrained")
    p.add_argument("--preprocessing", choices=["letterbox", "resize", "center_crop"], default="letterbox",
                   help="letterbox keeps the whole image padded to a square (default)")
    p.add_argument("--resolution", type=int, default=None, help="input size in pixels (default: the model's)")
    p.add_argument("--batch-size", type=_batch_size, default="auto",
                   help="'auto' (from free GPU memory; 32 on the CPU) or an integer")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the model runs: 'auto' uses a CUDA GPU when one answers")
    p.add_argument("--sample", type=_sample, default=None,
                   help="embed only a fraction (0.01 or 1%%) or a count (5000) of the images")
    p.add_argument("--seed", type=int, default=0, help="seed of --sample")
    p.add_argument("--include", action="append", default=[], metavar="PATH",
                   help="an image that --sample must keep (repeatable)")
    p.add_argument("--force", action="store_true", help="re-embed images the store already has")
    p.add_argument("--follow-links", action="store_true",
                   help="also follow symbolic links that lead outside the input folders (by "
                        "default they are skipped and counted in the report)")
    p.add_argument("--num-workers", type=int, default=None,
                   help="decoding processes (default: min(cpus, 8) on CUDA, min(cpus, 4) on the CPU, "
                        "fewer when half the available memory cannot hold them all decoding "
                        "their largest images; a count given here lowers the pixel limit instead)")
    p.add_argument("--no-normalize", action="store_true", help="keep raw embeddings (default: L2-normalised)")
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16",
                   help="storage dtype of the embeddings")
    dask = p.add_mutually_exclusive_group()
    dask.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="embed on a running Dask cluster: its scheduler address "
                           "(tcp://host:8786) or scheduler file; the images and --out must be "
                           "at the same paths on every worker. Needs gpucluster[dask]")
    dask.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                      help="embed on a local Dask cluster of N worker processes started for "
                           "this command (one per GPU with dask-cuda). Needs gpucluster[dask]")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_embed)
    return p


def resolve_pretrained(model, pretrained):
    """The tag for ``model`` when --pretrained is not given; 'none' means random weights (None)."""
    from .models import DEFAULT_PRETRAINED

    if pretrained is None:
        return DEFAULT_PRETRAINED.get(model, "openai")
    if pretrained.lower() == "none":
        return None
    return pretrained


def cmd_embed(args):
    """Run `gpucluster embed` from parsed arguments; prints the report, returns the exit status.

    With --scheduler or --workers the images are embedded on a Dask cluster
    (:func:`gpucluster.embed._dask_client.job_client`, as `gpucluster run` does)
    into the same store: the client is closed and a local cluster shut down after.

    Ctrl-C or SIGTERM stops it between store writes: it says how many images were
    kept and returns 130 or 143, as a shell reports a process ended by that signal.
    """
    from ._dask_client import job_client
    from ._interrupt import EmbeddingInterrupted, exit_status, sigterm_as_interrupt
    from .extract import embed_images

    try:
        with sigterm_as_interrupt(), job_client(args.scheduler, args.workers,
                                                device=args.device) as client:
            report = embed_images(
                args.images, args.out, model=args.model,
                pretrained=resolve_pretrained(args.model, args.pretrained), checkpoint=args.checkpoint,
                preprocessing=args.preprocessing, resolution=args.resolution, batch_size=args.batch_size,
                device=args.device, sample=args.sample, seed=args.seed, include=tuple(args.include),
                force=args.force, normalize=not args.no_normalize, dtype=args.dtype,
                num_workers=args.num_workers, progress=not (args.quiet or args.json),
                follow_links=args.follow_links, client=client,
            )
    except EmbeddingInterrupted as exc:
        print(f"gpucluster embed: {exc}", file=sys.stderr)
        return exit_status(exc)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, ConnectionError,
            ImportError) as exc:
        print(f"gpucluster embed: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
    return 0

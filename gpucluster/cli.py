"""The `gpucluster` command: argument parsing and printing around library functions."""

import argparse
import json
import sys


def _bytes(n):
    return f"{n / 2**30:.1f} GiB"


def cmd_info(args):
    from ._info import system_info

    info = system_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"gpucluster {info['gpucluster']} on Python {info['python']} ({info['platform']})")
    print(f"CPU: {info['cpu_count']} cores, Numba threads {info['numba_threads']}, "
          f"BLAS: {', '.join(info['blas']) or 'unknown'}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    print("backends:")
    for name, status in info["backends"].items():
        print(f"  {name:<17} {status}")
    if not info["cuda_devices"]:
        print("CUDA devices: none answers (computing on the CPU)")
    for dev in info["cuda_devices"]:
        print(f"CUDA device {dev['index']}: {dev['name']} (sm {dev['compute_capability']}), "
              f"{_bytes(dev['free_bytes'])} free of {_bytes(dev['total_bytes'])}")
    return 0


def cmd_run(args):
    from .demo import run_digits

    report = run_digits(n_clusters=args.n_clusters, random_state=args.seed, device=args.device)
    n, d = report["shape"]
    print(f"Clustering the digits data set ({n} images of 8x8 pixels, {d} features) into "
          f"{report['n_clusters']} clusters on device: {report['device']}")
    print(f"(one-off Numba kernel compilation: {report['compile_seconds']:.2f} s, cached for later runs)")
    columns = ["seconds", "n_iter", "inertia", "ARI", "AMI", "V-measure", "silhouette",
               "Calinski-Harabasz", "Davies-Bouldin", "balance"]
    widths = [max(len(c), 9) + 2 for c in columns]
    header = f"{'method':<30}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths))
    print()
    print(header)
    print("-" * len(header))
    for name, row in report["results"].items():
        cells = "".join(
            f"{row[c]:>{w}d}" if isinstance(row[c], int) else f"{row[c]:>{w}.4g}"
            for c, w in zip(columns, widths)
        )
        print(f"{name:<30}{cells}")
    print()
    print("ARI/AMI/V-measure compare with the true digit labels (1 is perfect); silhouette and "
          "Calinski-Harabasz: higher is better; Davies-Bouldin: lower is better; balance: "
          "1 means equal cluster sizes.")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="gpucluster", description="Clustering on the GPU and the CPU with the scikit-learn API."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions, backends, devices and free device memory")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    info.set_defaults(func=cmd_info)
    run = sub.add_parser("run", help="the built-in default job: cluster the digits beside scikit-learn")
    run.add_argument("--n-clusters", type=int, default=10)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", choices=["cpu", "cuda"], default=None,
                     help="default: cuda when a GPU answers, else cpu")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv=None):
    """Entry point of the `gpucluster` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""gpucluster on a Dask cluster: embedding over workers, and the clients that reach them.

Nothing here imports Dask until it is used: ``import gpucluster.distributed`` works
without Dask installed, and a function that needs it says which extra to install
(``gpucluster[dask]``).

- :func:`embed_images`: an image collection embedded on the workers of a cluster,
  into the same resumable store as on one machine.
- :func:`connect`: a client of a running scheduler, or of a local cluster started
  for the job; :func:`local_cluster` starts such a cluster.
"""

import importlib

_EXPORTS = {
    "embed_images": ".embed",
    "connect": ".client",
    "local_cluster": ".client",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))

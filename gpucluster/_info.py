"""What `gpucluster info` reports: versions, importable backends, devices and their free memory."""

import importlib
import os
import platform

from . import _format as fmt
from . import backend
from ._version import __version__

PACKAGES = ("numpy", "scipy", "numba", "sklearn", "array_api_compat", "threadpoolctl")
OPTIONAL_BACKENDS = ("cupy", "torch", "array_api_strict", "numba.cuda", "open_clip", "dask")


def _version(name):
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # a broken optional install must not break the report
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0]
    return getattr(module, "__version__", "installed"), None


def blas_libraries(libraries):
    """Each distinct BLAS of threadpoolctl's ``libraries`` once, in the order first seen:
    "openblas 0.3.30 (2 threads)", or "openblas 0.3.30 (2 threads; 2 copies loaded)" where
    NumPy and SciPy each bundle their own copy."""
    counts = {}
    for lib in libraries:
        if lib["user_api"] == "blas":
            key = (lib["internal_api"], lib["version"], lib["num_threads"])
            counts[key] = counts.get(key, 0) + 1
    return [f"{name} {version} ({fmt.counted(threads, 'thread')}"
            + (f"; {count} copies loaded)" if count > 1 else ")")
            for (name, version, threads), count in counts.items()]


def system_info():
    """A dict describing this installation: versions, backends, CPU threads and CUDA devices."""
    import numba
    from threadpoolctl import threadpool_info

    info = {
        "gpucluster": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "blas": blas_libraries(threadpool_info()),
        "packages": {name: _version(name)[0] for name in PACKAGES},
        "backends": {},
        "cuda_devices": [],
    }
    for name in OPTIONAL_BACKENDS:
        version, error = _version(name)
        info["backends"][name] = version if error is None else f"unavailable ({error})"
    if backend.gpu_available():
        import cupy

        for index in range(cupy.cuda.runtime.getDeviceCount()):
            with cupy.cuda.Device(index):
                props = cupy.cuda.runtime.getDeviceProperties(index)
                free, total = cupy.cuda.runtime.memGetInfo()
            info["cuda_devices"].append({
                "index": index,
                "name": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
                "compute_capability": f"{props['major']}.{props['minor']}",
                "free_bytes": int(free),
                "total_bytes": int(total),
            })
    return info

"""The layers: no module imports from a layer above its own, and kernels/ imports only itself.

Top to bottom (README, "Layers"): the command line; the pipeline; the
search and the report; estimators, metrics, segmentation and the
distributed versions; embeddings; the foundation (config, backend,
validation); the kernels. Imports inside functions count too. A source
checkout imports without an install.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import from its own layer and the layers below.
LAYERS = [
    ("kernels", ["gpucluster.kernels"]),
    ("foundation", ["gpucluster._config", "gpucluster._version", "gpucluster.backend",
                    "gpucluster._validation", "gpucluster._sparse", "gpucluster._sparse_input",
                    "gpucluster._arguments",
                    "gpucluster._distances",
                    "gpucluster._host_distances", "gpucluster._eigen",
                    "gpucluster._files", "gpucluster._format", "gpucluster._html",
                    "gpucluster.datasets"]),
    ("embed", ["gpucluster.embed"]),
    ("estimators", ["gpucluster.cluster", "gpucluster.decomposition", "gpucluster.metrics",
                    "gpucluster.segment",
                    "gpucluster.distributed"]),
    ("search and report", ["gpucluster.auto", "gpucluster.report"]),
    ("pipeline", ["gpucluster.pipeline", "gpucluster.demo"]),
    ("command line", ["gpucluster.cli", "gpucluster._info", "gpucluster._compile_notice",
                      "gpucluster"]),
]


def layer_of(module):
    """Index in LAYERS of the longest prefix that names ``module``'s layer."""
    best, best_len = None, -1
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def module_name(path):
    """The dotted name a source file has once installed (kernels/ is gpucluster.kernels)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "kernels":
        parts.insert(0, "gpucluster")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files():
    return sorted(list(ROOT.glob("gpucluster/**/*.py")) + list(ROOT.glob("kernels/**/*.py")))


def is_module(name):
    """True when ``name`` is a module or package of this source tree."""
    parts = name.split(".")
    if parts[:2] == ["gpucluster", "kernels"]:
        base = ROOT.joinpath("kernels", *parts[2:])
    else:
        base = ROOT.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(path, name=None):
    """The gpucluster modules ``path`` (the module ``name``) imports, anywhere in the file."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                # "from . import backend" imports the module gpucluster.backend,
                # not the package gpucluster.
                candidate = f"{target}.{alias.name}"
                found.add(candidate if is_module(candidate) else target)
    return {m for m in found if m == "gpucluster" or m.startswith("gpucluster.")}


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_from_a_layer_above(path):
    name = module_name(path)
    own = layer_of(name)
    assert own is not None, f"{name} belongs to no layer; add it to LAYERS in {__file__}"
    upward = sorted(
        f"{target} ({LAYERS[layer_of(target)][0]})"
        for target in imported_modules(path)
        if layer_of(target) is not None and layer_of(target) > own
    )
    assert not upward, f"{name} ({LAYERS[own][0]}) imports from a layer above: {upward}"


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """Relative imports resolve: kernels/cpu importing the backend is caught, its own arrays are not."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ... import backend\nfrom ..arrays import host_view\n")
    found = imported_modules(probe, name="gpucluster.kernels.cpu.probe")
    assert found == {"gpucluster.backend", "gpucluster.kernels.arrays"}
    assert layer_of("gpucluster.backend") > layer_of("gpucluster.kernels.cpu.probe")
    assert layer_of("gpucluster.kernels.arrays") == layer_of("gpucluster.kernels.cpu.probe")


def test_source_checkout_imports_without_an_install(tmp_path):
    """With no install on the path, `import gpucluster` finds kernels/ beside the package."""
    code = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path\n"
        "                    if '__editable__' not in getattr(f, '__module__', '')]\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import numpy as np, gpucluster\n"
        "from gpucluster.kernels.cpu import assign\n"
        "assert assign.__file__.startswith(" + repr(str(ROOT / "kernels")) + "), assign.__file__\n"
        "X = np.array([[0.0], [0.1], [5.0], [5.1]])\n"
        "print(sorted(gpucluster.KMeans(2, random_state=0).fit(X).labels_.tolist()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 0, 1, 1]"

"""benchmarks/gpu_check.py: refuses clearly where no GPU answers; writes its table where one does."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_a_gpu_it_says_so_and_writes_nothing(tmp_path):
    out = tmp_path / "results"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # no device answers, CuPy or not
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no usable GPU here" in result.stderr
    assert "no results file was written" in result.stderr
    assert not out.exists()


def test_with_a_gpu_every_part_is_run_and_written(tmp_path, monkeypatch):
    gpu_check = _load()
    monkeypatch.setattr(gpu_check, "gpu_status", lambda: (True, "Fake H200"))
    monkeypatch.setattr(gpu_check, "environment", lambda: {
        "date": "2031-01-02T03:04:05", "device": "Fake H200", "cuda_driver": "13.0",
        "cuda_runtime": "13.0", "cupy": "14.2.0", "numba": "0.62.0"})
    ran = []

    def fake_pytest(name, args, budget, env=None, log=None):
        ran.append((name, tuple(args), env and env.get("NUMBA_ENABLE_CUDASIM")))
        return {"part": name, "outcome": "passed", "seconds": 1.0,
                "figures": {"passed": 3}, "failures": []}

    def fake_case(name, budget):
        ran.append((name, budget))
        outcome = "skipped" if name == "hdbscan" else "passed"
        if name == "knn-graph":
            outcome = "timed out"
        return {"part": name, "outcome": outcome, "seconds": 2.0,
                "figures": {"ms_per_iter": 12.5} if name == "kmeans" else {}, "failures": [],
                "tail": "stopped at its budget" if outcome == "timed out" else ""}

    monkeypatch.setattr(gpu_check, "pytest_part", fake_pytest)
    monkeypatch.setattr(gpu_check, "case_part", fake_case)
    code = gpu_check.main(["--out", str(tmp_path)])
    assert code == 1  # knn-graph timed out
    names = [entry[0] for entry in ran]
    assert names == ["gpu-tests", "sim-tests", "gemm", "kmeans", "hdbscan", "knn-graph"]
    gpu_args, sim_args = ran[0][1], ran[1][1]
    assert "-m" in gpu_args and gpu_args[gpu_args.index("-m") + 1] == "gpu" and ran[1][2] == "1"
    assert sim_args[-1] == "tests/cuda_sim" and "gpu" not in sim_args
    assert all(0 < entry[1] <= gpu_check.BUDGETS[entry[0]] for entry in ran[2:])
    table = (tmp_path / "gpu-2031-01-02.md").read_text()
    assert "Fake H200" in table and "| kmeans | passed |" in table
    assert "ms_per_iter=12.5" in table and "| hdbscan | skipped |" in table
    assert "## knn-graph: timed out" in table
    assert (tmp_path / "gpu-2031-01-02.json").exists()


def test_parts_and_budget_choose_what_runs(tmp_path, monkeypatch, capsys):
    gpu_check = _load()
    monkeypatch.setattr(gpu_check, "gpu_status", lambda: (True, "Fake H200"))
    monkeypatch.setattr(gpu_check, "environment", lambda: {
        "date": "2031-01-02T03:04:05", "device": "Fake H200", "cuda_driver": "13.0",
        "cuda_runtime": "13.0", "cupy": "14.2.0", "numba": "0.62.0"})
    ran = []
    monkeypatch.setattr(gpu_check, "pytest_part", lambda name, args, budget, env=None, log=None: (
        ran.append((name, budget)) or {"part": name, "outcome": "passed", "seconds": 1.0,
                                       "figures": {}, "failures": []}))
    monkeypatch.setattr(gpu_check, "case_part", lambda name, budget: (
        ran.append((name, budget)) or {"part": name, "outcome": "passed", "seconds": 1.0,
                                       "figures": {}, "failures": []}))
    assert gpu_check.main(["--out", str(tmp_path), "--parts", "gpu-tests,kmeans",
                           "--budget", "100"]) == 0
    assert [name for name, _ in ran] == ["gpu-tests", "kmeans"]
    assert all(budget <= 100 for _, budget in ran)
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main(["--parts", "gpu-tests,nonsense"])
    assert exit_.value.code == 2
    assert "unknown parts ['nonsense']" in capsys.readouterr().err
    assert [name for name, _ in ran] == ["gpu-tests", "kmeans"]  # nothing more ran


def test_pytest_counts_read_the_summary_or_the_lines_so_far():
    gpu_check = _load()
    assert gpu_check._pytest_counts("x\n===== 3 failed, 10 passed, 2 skipped in 4.0s =====") == {
        "failed": 3, "passed": 10, "skipped": 2}
    partial = "tests/a.py::t1 PASSED [ 1%]\ntests/a.py::t2 FAILED [ 2%]\n"
    counts = gpu_check._pytest_counts(partial)
    assert counts["passed_so_far"] == 1 and counts["failed_so_far"] == 1

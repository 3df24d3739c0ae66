"""Every benchmark runs: each imports (the fast tier), and each runs end to end at tiny sizes (the slow
tier), so that none breaks silently between the times someone measures with it. The figures they
print are not checked: they depend on the machine."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

# Each benchmark's arguments at tiny sizes: seconds, not minutes. A benchmark missing here fails
# test_every_benchmark_has_tiny_arguments.
TINY = {
    "comparison_run": ["--epochs", "1", "--train-limit", "200"],  # needs MNIST: --data-root from mnist_root
    "conv": ["--repeats", "1", "--batch", "2", "--steps", "2"],
    "cuda_graph": ["--examples", "64", "--rounds", "1"],  # on a machine without a GPU, says so and exits 0
    "discovery": ["--repeats", "1"],
    "grading": ["--submissions", "1", "--workers", "1"],
    "memory": ["scratch", "--batch", "8", "--examples", "64"],
    "speed": ["--examples", "600", "--rounds", "1", "--no-memory"],
    "startup": ["--rounds", "1", "--saves", "1"],
}
NOT_RUN = {"epochs"}  # the sides the others time; tests/test_benchmarks.py checks it
SCRIPTS = sorted(path.stem for path in BENCHMARKS.glob("*.py"))


def test_every_benchmark_has_tiny_arguments():
    assert sorted([*TINY, *NOT_RUN]) == SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_imports(name):
    importlib.import_module(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_every_benchmark_runs_at_tiny_sizes(name, request):
    argv = TINY[name]
    if name == "comparison_run":
        argv = [*argv, "--data-root", str(request.getfixturevalue("mnist_root"))]
    done = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), *argv], cwd=BENCHMARKS.parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip(), done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr

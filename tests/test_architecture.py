"""The import layers hold (pyproject.toml's import-linter contracts: commands over grading over training
over the checker over the adapters over the core; scratch_nn alone, never importing reference or torch),
and no two modules import each other, directly or round a loop, imports inside functions included."""

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    done = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                                                 "sys.exit(lint_imports(config_filename='pyproject.toml', "
                                                 "no_cache=True, no_logo=True))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout + done.stderr


def test_no_module_imports_round_a_cycle():
    graph = grimp.build_graph("reference", "scratch_nn", cache_dir=None)  # function-level imports too
    edges = nx.DiGraph((module, imported) for module in graph.modules
                       for imported in graph.find_modules_directly_imported_by(module))
    cycles = [cycle for cycle in nx.simple_cycles(edges) if len(cycle) > 1]
    assert not cycles, cycles

"""compare.py's commands: one front door, check's sub-commands each with only its own options, and
--help answered without importing torch (the modules that check and train are imported in the handler)."""

import subprocess
import sys
from pathlib import Path

import pytest

from reference.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["network", "layer", "implementation", "whole-network", "engine", "update-rule"]
COMMANDS = [["--help"], ["train", "--help"], ["check", "--help"], ["grade", "--help"],
            *(["check", kind, "--help"] for kind in KINDS)]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_help_answers_without_importing_torch(argv):
    probe = ("import sys\nfrom reference.cli.main import main\nstatus = main(sys.argv[1:])\n"
             "assert 'torch' not in sys.modules, 'torch was imported'\nsys.exit(status)")
    done = subprocess.run([sys.executable, "-c", probe, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: compare.py"), done.stderr


@pytest.mark.parametrize("kind, option", [
    ("network", "--layout"), ("network", "--in"), ("layer", "--spec"), ("layer", "--cost"),
    ("implementation", "--twin"), ("whole-network", "--dtype"), ("whole-network", "--optimizer"),
    ("engine", "--batch-size"), ("engine", "--lr"), ("update-rule", "--layout"), ("update-rule", "--dtype"),
])
def test_an_option_of_another_kind_is_argparses_one_line(kind, option, capsys):
    subject = [] if kind == "network" else ["x.py:X"]
    assert cli.main(["check", kind, *subject, option, "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"unrecognized arguments: {option}" in err, err

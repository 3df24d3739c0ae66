"""The distribution as pip installs it: a fresh virtual environment gets the scratch-nn command, the
metadata (version from one place, license, py.typed in both packages); and without PyTorch the
torch-side API says in one line which extra to install."""

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import reference
import scratch_nn

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "scratch_nn", "reference")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip install of a copy of the sources (the build leaves nothing in the checkout) into a new venv
    without reinstalling torch: the venv sees this interpreter's packages through a .pth line, as
    --system-site-packages would for a base interpreter, and pip installs with --no-deps offline."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "parent_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--quiet", str(source)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return venv


@pytest.mark.slow  # pip and a cold start of torch in a new environment: 30 s to minutes on a busy machine
def test_the_installed_command_runs_and_names_itself(installed, tmp_path):
    done = subprocess.run([str(installed / "bin" / "scratch-nn"), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: scratch-nn [-h] {train,check,grade}"), done.stdout[:200]
    bad = subprocess.run([str(installed / "bin" / "scratch-nn"), "check", "--spec", "x"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "scratch-nn check: error" in bad.stderr, bad.stderr


@pytest.mark.slow
def test_the_installed_metadata(installed, tmp_path):
    """Run in the venv, outside the checkout: what pip installed, not the sources here."""
    script = ("import importlib.metadata as m, pathlib, reference, scratch_nn\n"
              "meta = m.metadata('scratch-nn')\n"
              "print(meta['Version'], meta['License-Expression'], reference.__version__, scratch_nn.__version__)\n"
              "print(all((pathlib.Path(p.__file__).parent / 'py.typed').is_file() for p in (reference, scratch_nn)))\n"
              "print(set(m.packages_distributions()['reference']), 'site-packages' in reference.__file__)\n"
              "print(m.entry_points(group='console_scripts', name='scratch-nn')[0].value)")
    done = subprocess.run([str(installed / "bin" / "python"), "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    version = scratch_nn.__version__
    assert done.stdout.splitlines() == [f"{version} MIT {version} {version}", "True", "{'scratch-nn'} True",
                                        "reference.cli.main:main"]


def test_version_has_one_source():
    project = (ROOT / "pyproject.toml").read_text().split("[project]\n")[1].split("\n[")[0]
    assert reference.__version__ == scratch_nn.__version__ and not re.search(r"^version\s*=", project, re.MULTILINE)
    assert 'dynamic = ["version"]' in project


def test_without_torch_the_api_names_the_extra(tmp_path):
    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None\n"
                                                 "from reference import check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == ("ModuleNotFoundError: reference.check needs torch, which is not "
                                                    "installed: pip install 'scratch-nn[torch]'")

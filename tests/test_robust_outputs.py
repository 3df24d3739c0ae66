"""Outputs respect what is at their path (reference.outputs, reference.atomic_file): a device is written
in place, never replaced; modes are kept or follow the umask; a path the final rename could not take
(a FIFO, another user's file in a sticky folder) and two outputs at one file are refused before work."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reference.atomic_file import write_atomically
from reference.cli import main as cli
from reference.cli import train as train_cli

REPOSITORY = Path(__file__).parent.parent
ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
RUN = ["--spec", "784-8-10", "--epochs", "1", "--no-progress", "--concurrency", "sequential"]


def nobody_runs(code: str) -> bool:
    """Whether the user nobody can run this interpreter with these imports (its folder may be private)."""
    if not (ROOT and SETPRIV):
        return False
    probe = subprocess.run([*NOBODY, sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, timeout=300,
                           env={**os.environ, "PYTHONPATH": str(REPOSITORY)}, check=False)
    return probe.returncode == 0


UNDER_UMASK_077 = ("import os, runpy, sys; os.umask(0o077); sys.argv = sys.argv[1:]; "
                   "runpy.run_path(sys.argv[0], run_name='__main__')")
AS_NOBODY = "needs root, setpriv, and an interpreter the unprivileged user nobody may run"


@pytest.fixture
def tiny_data(monkeypatch, synthetic):
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))


def device(tmp_path, name, minor) -> Path:
    """A character device like /dev/null (minor 3) or /dev/full (7): made in tmp_path as root, so that a
    fault replaces a copy; otherwise /dev's own, which a fault could not replace but only refuse."""
    if not ROOT:
        return Path("/dev") / name
    path = tmp_path / name
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    return path


def test_a_device_is_written_in_place_and_stays_a_device(tiny_data, tmp_path, capsys):
    null = device(tmp_path, "null", 3)
    assert cli.main([*RUN, "--json", str(null)]) == train_cli.EXIT_AGREE
    assert stat.S_ISCHR(os.stat(null).st_mode)
    assert f"JSON written to {null}" in capsys.readouterr().out


def test_a_device_that_refuses_the_write_is_a_failed_output(tiny_data, tmp_path, capsys):
    full = device(tmp_path, "full", 7)
    assert cli.main([*RUN, "--json", str(full)]) == train_cli.EXIT_FAILED
    assert stat.S_ISCHR(os.stat(full).st_mode)
    assert f"the JSON could not be written to {full}" in capsys.readouterr().err


def test_a_fifo_is_refused_before_any_work(tiny_data, tmp_path, capsys):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    assert cli.main([*RUN, "--json", str(fifo)]) == train_cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.strip() == (f"compare.py train: error: --json {str(fifo)!r}: is a FIFO (named "
                                               f"pipe), not a file: give the path of a file")


@pytest.mark.parametrize("first, second", [(("--json", "r.png"), ("--plot", "r.png")),
                                           (("--json", "r.npz"), ("--save", "r.npz")),
                                           (("--json", "link.png"), ("--plot", "r.png"))])
def test_two_outputs_at_one_file_are_refused(first, second, tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    os.symlink("r.png", "link.png")  # dangling until written: still the same file
    assert cli.main([*RUN, *first, *second]) == train_cli.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert f"--{second[0][2:]} '{second[1]}': is also the --json output's file" in error
    assert not (tmp_path / "r.png").exists() and not (tmp_path / "r.npz").exists()


def test_a_new_file_follows_the_umask_and_an_old_one_keeps_its_mode(tmp_path):
    previous = os.umask(0o077)
    try:
        write_atomically(tmp_path / "new.json", lambda stream: stream.write(b"{}"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o600
    old = tmp_path / "old.json"
    old.write_text("{}")
    old.chmod(0o640)
    write_atomically(old, lambda stream: stream.write(b"[]"))
    assert (stat.S_IMODE(os.stat(old).st_mode), old.read_text()) == (0o640, "[]")


def test_a_link_stays_a_link_and_its_file_is_written(tmp_path):
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to("real.json")
    write_atomically(tmp_path / "link.json", lambda stream: stream.write(b"[]"))
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "real.json").read_text() == "[]"


@pytest.mark.skipif(not ROOT, reason="needs root to give a file to another user")
def test_root_writing_another_users_file_leaves_it_theirs(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("{}")
    os.chown(path, 65534, 65534)
    write_atomically(path, lambda stream: stream.write(b"[]"))
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (65534, 65534)


@pytest.mark.skipif(not nobody_runs("import reference.outputs"), reason=AS_NOBODY)
def test_another_users_file_in_a_sticky_folder_is_refused_up_front():
    shared = Path(tempfile.mkdtemp(prefix="sticky-"))  # not under pytest's tmp_path: nobody cannot enter that
    try:
        shared.chmod(0o1777)
        theirs, mine = shared / "run.json", shared / "mine.json"
        theirs.write_text("{}")
        theirs.chmod(0o666)  # writable by all: only the sticky bit stops nobody from replacing it
        mine.write_text("{}")
        os.chown(mine, 65534, 65534)
        check = ("import json, sys; from reference.outputs import output_problem; "
                 "print(json.dumps([output_problem(path) for path in sys.argv[1:]]))")
        result = subprocess.run([*NOBODY, sys.executable, "-c", check, str(theirs), str(mine)], cwd=REPOSITORY,
                                env={**os.environ, "PYTHONPATH": str(REPOSITORY)}, capture_output=True, text=True,
                                timeout=120, check=True)
        assert json.loads(result.stdout) == [
            (f"belongs to another user in the sticky folder {shared}, where only its owner may replace it: "
             f"give another path"), None]
        # what the check foresaw: the rename itself, as nobody, is refused by the kernel
        rename = subprocess.run([*NOBODY, sys.executable, "-c", "import os, sys; os.replace(sys.argv[1], sys.argv[2])",
                                 str(mine), str(theirs)], capture_output=True, text=True, timeout=120, check=False)
        assert "PermissionError" in rename.stderr
    finally:
        shutil.rmtree(shared)



@pytest.mark.skipif(not nobody_runs("import numpy, torch, matplotlib, reference.cli.main"), reason=AS_NOBODY)
def test_as_an_unprivileged_user_a_run_writes_to_dev_null_and_follows_its_umask():
    shared = Path(tempfile.mkdtemp(prefix="outputs-"))  # nobody cannot enter pytest's tmp_path
    try:
        shared.chmod(0o777)
        runner = REPOSITORY / "tests" / "compare_on_tiny_data.py"
        result = subprocess.run(
            [*NOBODY, sys.executable, "-c", UNDER_UMASK_077, str(runner), *RUN,
             "--json", "/dev/null", "--save", str(shared / "run.npz")],
            cwd=REPOSITORY, env={**os.environ, "PYTHONPATH": str(REPOSITORY), "HOME": str(shared),
                                 "MPLCONFIGDIR": str(shared)},
            capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == train_cli.EXIT_AGREE, result.stderr
        assert "JSON written to /dev/null" in result.stdout and stat.S_ISCHR(os.stat("/dev/null").st_mode)
        saved = os.stat(shared / "run.npz")
        assert (saved.st_uid, stat.S_IMODE(saved.st_mode)) == (65534, 0o600)
    finally:
        shutil.rmtree(shared)

"""The run's record survives whatever stops the run: files written atomically (also by several
writers at once), and SIGINT, SIGTERM and a second Ctrl-C on a real compare.py process."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reference.atomic_file import write_atomically
from reference.cli import train as train_cli
from reference.training import checkpoint

RUNNER = Path(__file__).with_name("compare_on_tiny_data.py")
REPOSITORY = RUNNER.parent.parent


def write_json(path, value) -> None:
    text = json.dumps({"writer": value, "padding": "x" * 200_000})  # big enough to take several writes
    write_atomically(path, lambda stream: stream.write(text.encode()))


def write_many(path, writer, times=20) -> None:
    for _ in range(times):
        write_json(path, writer)


def assert_only(folder: Path, *names) -> None:
    """No temporary files left behind."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@pytest.mark.parametrize("stop", [OSError("disk full"), KeyboardInterrupt()])
def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, stop):
    path = tmp_path / "run.json"
    write_json(path, "old")

    def write(stream):
        stream.write(b'{"half": ')
        raise stop

    with pytest.raises(type(stop)):
        write_atomically(path, write)
    assert json.loads(path.read_text())["writer"] == "old"
    assert_only(tmp_path, "run.json")


def test_a_ctrl_c_during_a_write_waits_until_the_file_is_in_place(tmp_path):
    path = tmp_path / "run.json"
    write_json(path, "old")

    def write(stream):
        signal.raise_signal(signal.SIGINT)  # Python would raise KeyboardInterrupt here, mid-file
        stream.write(json.dumps({"writer": "new"}).encode())

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, write)
    assert json.loads(path.read_text())["writer"] == "new"
    assert_only(tmp_path, "run.json")


@pytest.mark.parametrize("how", ["threads", "processes"])
def test_concurrent_writers_never_leave_an_invalid_file(tmp_path, how):
    path = tmp_path / "run.json"
    write_json(path, "first")
    if how == "threads":
        workers = [threading.Thread(target=write_many, args=(path, n)) for n in range(4)]
    else:
        workers = [multiprocessing.get_context("fork").Process(target=write_many, args=(path, n)) for n in range(4)]
    for worker in workers:
        worker.start()
    reads = 0
    while any(worker.is_alive() for worker in workers):  # a reader beside the writers
        assert json.loads(path.read_text())["writer"] in ("first", 0, 1, 2, 3)
        reads += 1
    for worker in workers:
        worker.join()
    assert json.loads(path.read_text())["writer"] in (0, 1, 2, 3) and reads > 0
    assert_only(tmp_path, "run.json")


def start_run(tmp_path, *options) -> subprocess.Popen:
    """compare.py on tiny data for (nearly) ever; returns once the JSON records two epochs."""
    json_path = tmp_path / "run.json"
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), "--spec", "784-8-10", "--epochs", "1000000", "--no-progress",
         "--json", str(json_path), *options],
        cwd=REPOSITORY, env={**os.environ, "PYTHONPATH": str(REPOSITORY)}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (json_path.exists() and len(json.loads(json_path.read_text())["epochs"]) >= 2):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no epoch recorded within a minute"
        time.sleep(0.05)
    return process


def stopped_record(process, tmp_path, code):
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err, err
    run = json.loads((tmp_path / "run.json").read_text())
    rows = [line for line in out.splitlines() if line[:5].strip().isdigit()]
    assert [e["epoch"] for e in run["epochs"]] == list(range(1, len(rows) + 1))  # every epoch shown is kept
    return run, out, err


@pytest.mark.parametrize("signal_, code, status", [(signal.SIGINT, train_cli.EXIT_INTERRUPTED, "interrupted"),
                                                   (signal.SIGTERM, train_cli.EXIT_TERMINATED, "terminated")])
def test_a_stopped_run_keeps_its_epochs_and_says_why(tmp_path, signal_, code, status):
    process = start_run(tmp_path, "--save", str(tmp_path / "run.npz"))
    process.send_signal(signal_)
    run, out, err = stopped_record(process, tmp_path, code)
    epochs = len(run["epochs"])
    assert run["status"] == status and epochs >= 2 and f"after {epochs} epoch(s)" in err
    assert f"weights after epoch {epochs} written to" in out and checkpoint.load(tmp_path / "run.npz").epoch == epochs
    assert_only(tmp_path, "run.json", "run.npz")


def test_a_second_ctrl_c_waits_for_the_files(tmp_path):
    """The second Ctrl-C comes while the plot is drawn: the files are still written whole.

    It is sent once the JSON says "interrupted", the first of the files written while the signals
    are held, so that it lands while the plot is drawn (hundreds of milliseconds; the JSON is
    polled every 5). Sent after a fixed pause instead, it could reach a process still busy in
    NumPy, where Python merges two pending SIGINTs into one."""
    process = start_run(tmp_path, "--plot", str(tmp_path / "run.png"))
    process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 60
    while json.loads((tmp_path / "run.json").read_text())["status"] != "interrupted":
        assert process.poll() is None and time.monotonic() < deadline, "the run did not stop within a minute"
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    run, _, err = stopped_record(process, tmp_path, train_cli.EXIT_INTERRUPTED)
    assert run["status"] == "interrupted" and "stopping: writing what was measured first" in err
    assert (tmp_path / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_only(tmp_path, "run.json", "run.png")

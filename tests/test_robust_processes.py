"""No option hangs a run, and no run leaves a process behind: every --threads class under every
--concurrency finishes (torch's OpenMP pool and the forked scratch process, reference.training
.concurrent), and the scratch process ends when its parent is killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

RUNNER = Path(__file__).with_name("compare_on_tiny_data.py")
REPOSITORY = RUNNER.parent.parent
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
HANG = 300  # seconds: a run of a few seconds that takes this long is stuck; the test then fails, never hangs


@pytest.mark.parametrize("threads", [1, 2, 64], ids=["one", "two", "many"])
@pytest.mark.parametrize("concurrency", ["process", "sequential"])
def test_every_thread_count_finishes_in_every_concurrency(threads, concurrency):
    # 512 training rows: torch's evaluation is then large enough to run on its thread pool, in the
    # parent and (before the fix) in the forked child, where the pool the parent started waited forever.
    result = subprocess.run(
        [sys.executable, str(RUNNER), "train", "--spec", "784-16-10", "--epochs", "1", "--no-progress",
         "--threads", str(threads), "--concurrency", concurrency],
        cwd=REPOSITORY, env={**ENVIRONMENT, "TINY_DATA_ROWS": "512"}, capture_output=True, text=True, timeout=HANG,
        check=False)
    assert result.returncode == 0, result.stderr
    assert f"{threads} thread(s) each" in result.stdout


# A parent that starts the scratch process on a side whose step never returns, says the child's pid,
# and waits: the test kills it with SIGKILL, as a scheduler's time limit or `kill -9` would.
PARENT = textwrap.dedent("""
    import time
    import numpy as np
    from reference.training.concurrent import ScratchProcess

    class Stuck:
        network = None
        def new_epoch(self):
            pass
        def step(self, index):
            while True:
                time.sleep(1)

    worker = ScratchProcess(Stuck(), {}, threads=1)
    worker.start_epoch([np.arange(4)])
    print(worker._process.pid, flush=True)
    time.sleep(600)
""")


def alive(pid: int) -> bool:
    """Whether pid is a process that has not ended (a zombie has ended: it waits only to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from Linux's /proc")
def test_the_scratch_process_ends_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPOSITORY, env=ENVIRONMENT,
                              stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=60)
        deadline = time.monotonic() + 30  # the kernel's signal is immediate; polling would take 0.5 s
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child), f"the scratch process {child} outlived its parent"
    finally:
        parent.kill()
        parent.wait()

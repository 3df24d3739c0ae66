"""What the edit-check loop costs a learner: starting the command, and checking again under --watch.

    python benchmarks/startup.py              # 3 rounds of each; prints the best and the median
    python benchmarks/startup.py --rounds 5 --saves 10

Each timed with the wall clock, in fresh processes (nothing warm but the OS's file cache):
  1. `python compare.py --help` and `python compare.py check --help`: the parser alone.
  2. `python compare.py check implementation NET.py:build --spec 784-128-10`: one whole check
     of a 784-128-10 network in the user's own conventions (tests/implementations/textbook.py),
     start to exit, as a learner runs it after every edit without --watch.
  3. The same under --watch: the time from a save of NET.py to the [watch] line that follows the
     new verdict (the poll interval, reference.cli.watch.POLL, included), over --saves saves that alternate between
     the right code and a mistake, so that every check has something new to say.
"""

import argparse
import inspect
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from implementations.submissions import source  # noqa: E402

SPEC = "784-128-10"
MISTAKE = "Linear = LinearBiasAveraged"  # a textbook mistake (tests/implementations/textbook.py)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, capture_output=True, check=False)
    return time.perf_counter() - started


def watch_latencies(path: Path, saves: int) -> tuple[float, list[float]]:
    """(seconds to the first verdict, seconds from each save to its verdict) under --watch."""
    process = subprocess.Popen([sys.executable, "compare.py", "check", "implementation", f"{path}:build",
                                "--spec", SPEC, "--watch"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    verdicts, started = [], time.perf_counter()

    def read():
        for line in process.stdout:
            if line.startswith("[watch] exit"):
                verdicts.append(time.perf_counter())

    threading.Thread(target=read, daemon=True).start()
    try:
        wait_for(verdicts, 1)
        first = verdicts[0] - started
        latencies = []
        for save in range(saves):
            time.sleep(0.5)  # a learner's pause between saves; also past the file system's time stamp granularity
            path.write_text(source("textbook", MISTAKE if save % 2 == 0 else ""))
            saved = time.perf_counter()
            wait_for(verdicts, save + 2)
            latencies.append(verdicts[-1] - saved)
        return first, latencies
    finally:
        process.terminate()
        process.wait()


def wait_for(verdicts: list, count: int, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while len(verdicts) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"no verdict within {limit:g} s")
        time.sleep(0.01)


def report(name: str, seconds: list[float]) -> None:
    print(f"{name:<58} best {min(seconds):6.2f} s   median {statistics.median(seconds):6.2f} s   ({len(seconds)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=inspect.getdoc(sys.modules[__name__]).split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per command (default 3)")
    parser.add_argument("--saves", type=int, default=6, help="saves under --watch (default 6)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.py"
        path.write_text(source("textbook"))
        commands = {
            "python compare.py --help": [sys.executable, "compare.py", "--help"],
            "python compare.py check --help": [sys.executable, "compare.py", "check", "--help"],
            f"python compare.py check implementation ... --spec {SPEC}":
                [sys.executable, "compare.py", "check", "implementation", f"{path}:build", "--spec", SPEC],
        }
        for name, command in commands.items():
            report(name, [timed(command) for _ in range(args.rounds)])
        first, latencies = watch_latencies(path, args.saves)
        report("--watch: start to the first verdict", [first])
        report("--watch: a save to its new verdict", latencies)


if __name__ == "__main__":
    main()

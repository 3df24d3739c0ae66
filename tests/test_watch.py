"""compare.py check ... --watch as a learner uses it: started on their layer file, it checks, waits, and
after each save prints the new verdict; Ctrl-C ends it with exit status 130."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from implementations.learner import DENSE_BUGGY

from reference.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
BUG = " / len(self.x)"  # DenseBuggy's mistake; without it the layer is right
WAIT = 120  # seconds for a verdict: the first includes starting Python and importing torch on a busy machine


class Lines:
    """The process's output, line by line, read by a thread so that waiting for a line can time out."""

    def __init__(self, process):
        self.lines, self.seen = queue.Queue(), []
        threading.Thread(target=lambda: [self.lines.put(line) for line in process.stdout], daemon=True).start()

    def until(self, text: str) -> list[str]:
        deadline, start = time.monotonic() + WAIT, len(self.seen)
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=1))
            except queue.Empty:
                continue
            if text in self.seen[-1]:
                return self.seen[start:]
        raise AssertionError(f"no {text!r} within {WAIT} s; the output was:\n{''.join(self.seen)}")


def save(path: Path, text: str) -> None:
    """As an editor saves: the whole new text, then renamed over the file (never seen half written)."""
    part = path.with_suffix(".part")
    part.write_text(text)
    os.replace(part, path)


def test_watch_checks_again_after_each_save_and_ctrl_c_ends_it(tmp_path):
    path = tmp_path / "layers.py"
    path.write_text(DENSE_BUGGY.replace(BUG, ""))
    process = subprocess.Popen([sys.executable, "compare.py", "check", "layer", f"{path}:DenseBuggy", "--twin",
                                "linear", "--in", "32", "--out", "10", "--watch"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = Lines(process)
        first = lines.until("[watch] exit")
        assert any("Every part agrees" in line for line in first) and "[watch] exit 0" in first[-1], first
        save(path, DENSE_BUGGY)  # the learner saves a mistake
        second = lines.until("[watch] exit")
        assert any("[watch] layers.py saved: checking again" in line for line in second), second
        assert any("Looks like: batch size too small" in line for line in second) and "[watch] exit 1" in second[-1]
        save(path, DENSE_BUGGY.replace(BUG, ""))  # and fixes it
        assert "[watch] exit 0" in lines.until("[watch] exit")[-1]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
        assert "[watch] stopped" in lines.until("[watch] stopped")[-1]
    finally:
        process.kill()
        process.wait()


def test_watch_without_a_file_to_watch_is_one_line_and_exit_2(capsys):
    assert cli.main(["check", "network", "--spec", "4-3-2", "--watch"]) == 2
    err = capsys.readouterr().err
    assert err == ("compare.py check network: error: --watch watches your code's file: give a .py or .ipynb file "
                   "to check layer, implementation, whole-network, engine or update-rule\n"), err

"""Grade a folder of submissions: each in a sandbox of its own, one row each, one column per part.

    python compare.py grade SUBMISSIONS_DIR [--student-safe] [--json grades.json] [--csv grades.csv]
                            [--rubric rubric.toml] [--gradescope results.json] [--timeout 60] [--workers N]
                            [--isolation bwrap|process] [--allow-module NAME]

A submission is a `.py` file or a Jupyter notebook (`.ipynb`, its code cells) in the folder, or a
sub-folder holding a package (`__init__.py`), a `submission.py` or a `submission.ipynb`; any other
entry (a folder with none of them, a file of another kind, a name starting with `.` or `_`) is not
one and is skipped, and the grader says what it passed over. It defines build, as reference.adapters.loader
describes (and optionally CONVENTIONS).

The grader never runs a submission's code. Each submission runs in a worker of its own, inside a
bubblewrap sandbox (reference.grading.sandbox: a private copy of the submission, a read-only
system, no network, no other submission, no grading file, torch and its kind hidden, limits on
memory, CPU time, processes and output), and answers requests with arrays only
(reference.grading.wire: no pickle). The grader chooses the weights and inputs (from a seed drawn
fresh for each run unless --seed is given), computes torch's answers, compares and scores: a
submission can only compute, and what it computes is judged here. A submission that raises, calls
sys.exit, hangs, loops, exhausts its limits or sends anything malformed is a row with the parts it
finished and the reason for the others; what it prints is kept (the JSON's `output`), never shown
in the table. --workers N grades N submissions at once, each judged by a process of its own and
run in a sandbox (and, as root, a uid) of its own. --network and --engine submissions are judged
alike (reference.grading.kinds).

The JSON is rewritten after every submission (its `status`: grading, complete or interrupted);
SIGINT or SIGTERM stops the run, keeps the rows graded so far (printed and written) and exits
with status 130 or 143.
"""

import dataclasses
import json
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401 - torch.optim's first step imports it (seconds): once here, not in every judge
from threadpoolctl import threadpool_limits

from reference.atomic_file import write_atomically
from reference.child_lifetime import end_with_parent
from reference.grading.remote import Refused, SubmissionGone, open_submission
from reference.grading.sandbox import Isolation, isolation_for
from reference.grading.submission import PartResult
from reference.stop_signals import STOP_SIGNALS, stop_signals_raise

OUTPUT_KEPT = 2000  # characters of a submission's output kept in the JSON (its last ones)
JUDGE_MARGIN = 60.0  # seconds past --timeout after which a judge (the grader's own process) is stopped


class Interrupted(BaseException):
    """SIGINT or SIGTERM: stop grading, keep what was graded."""


@dataclass
class Row:
    """One submission's grades."""

    name: str
    path: Path
    parts: dict = field(default_factory=dict)   # part -> PartResult
    problem: str = ""                            # why it stopped early: not loaded, timed out, ended
    conventions: str = ""
    output: str = ""
    seconds: float = 0.0

    def record(self, part: str, result) -> None:
        """Take one result: a part's PartResult, or the "problem" or "conventions" text."""
        if part in ("problem", "conventions"):
            setattr(self, part, result)
        else:
            self.parts[part] = result

    def score(self, settings) -> tuple[int, int]:
        """(parts passed, parts graded): a part that does not apply (n/a) counts in neither."""
        graded = [self.parts.get(part) for part in settings.parts]
        return (sum(1 for r in graded if r is not None and r.ok),
                sum(1 for r in graded if r is None or r.ok is not None))

    def result(self, part: str) -> PartResult:
        """The part's result; one never reached says why (the problem that stopped the submission)."""
        return self.parts.get(part) or PartResult(False, f"not reached: {self.problem or 'the grading stopped'}")

    def to_dict(self, settings, safe: bool) -> dict:
        passed, graded = self.score(settings)
        return {"name": self.name, "score": passed, "out_of": graded, "problem": self.problem,
                "parts": {part: self.result(part).to_dict(safe) for part in settings.parts},
                "conventions": self.conventions, "output": self.output, "seconds": round(self.seconds, 1)}


SUFFIXES = (".py", ".ipynb")  # a submission file: a module, or a notebook whose code cells are one


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(name, file to import) for every submission in the folder, by name (see the module docstring).
    A .py and a .ipynb of the same stem are two submissions, each its own row named with its suffix."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix in SUFFIXES:
            found.append((entry.name, entry))
        elif entry.is_dir():
            for inside in ("__init__.py", "submission.py", "submission.ipynb"):
                if (entry / inside).is_file():
                    found.append((entry.name + "/", entry if inside == "__init__.py" else entry / inside))
                    break
    return found


def what_was_taken(folder: Path, submissions: list[tuple[str, Path]]) -> str:
    """A line naming what the grader took and what it passed over, where a reader could wonder: the
    folder mixes .py and .ipynb files, or holds entries that are no submission; else ""."""
    taken = {name for name, _ in submissions}
    passed_over = [entry.name for entry in sorted(folder.iterdir())
                   if entry.name not in taken and entry.name + "/" not in taken
                   and not entry.name.startswith((".", "_"))]
    kinds = {Path(name).suffix for name in taken if not name.endswith("/")}
    if len(kinds) < 2 and not passed_over:
        return ""
    return (f"took {', '.join(sorted(taken))}"
            + (f"; passed over {', '.join(passed_over)} (neither a .py or .ipynb file nor a folder holding "
               f"__init__.py, submission.py or submission.ipynb)" if passed_over else ""))


def judge(name: str, path: Path, settings, isolation: Isolation, timeout: float) -> Row:
    """One submission graded: its worker started in the sandbox, every part decided here."""
    row, started = Row(name, path), time.monotonic()
    with open_submission(path, isolation, timeout) as (client, output):
        try:
            settings.judge(client, row.record)
        except Refused as error:
            row.problem = f"not loaded: {error}"
        except SubmissionGone as error:
            row.problem = str(error)
        except (Exception, SystemExit) as error:  # the grader's own code failed on this submission
            row.problem = f"grading stopped: {type(error).__name__}: {error}"
        output.seek(max(0, output.seek(0, os.SEEK_END) - 4 * OUTPUT_KEPT))
        row.output = output.read().decode(errors="replace")[-OUTPUT_KEPT:]
    row.seconds = time.monotonic() - started
    return row


def judge_process(connection, name, path, settings, isolation, timeout, grader: int) -> None:
    """A judge (forked from the grader, trusted: it never imports a submission): grade one, send its row.
    SIGTERM or SIGINT stops it, its worker stopped with it (open_submission's exit); it ends with the
    grader (its pid), even one killed with SIGKILL (reference.child_lifetime)."""
    end_with_parent(grader)
    try:
        with stop_signals_raise(Interrupted):
            torch.set_num_threads(1)  # thread pools spinning beside other judges and workers only slow all down
            with threadpool_limits(limits=1):
                row = judge(name, path, settings, isolation, timeout)
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)  # done: what is left is to hand the row over and end
        connection.send(row)
    except Interrupted:
        pass


@dataclass
class Running:
    name: str
    path: Path
    process: multiprocessing.Process
    connection: object
    started: float


def grade_folder(folder: Path, settings, timeout: float, workers: int = 1, on_row=None,
                 isolation: Isolation | None = None, submissions=None) -> list[Row]:
    """Every submission graded, `workers` at a time; on_row(row) as each ends. Interrupted (raised by a
    signal handler of the caller's) stops the judges still running and is raised again. isolation: by
    default bwrap, torch hidden where the grader judges (build's layers), shown where the worker does."""
    isolation = isolation or isolation_for(cpu_seconds=timeout)
    context = multiprocessing.get_context("fork")
    submissions = submissions if submissions is not None else find_submissions(folder)
    pending, rows, running = list(submissions), {}, []
    sys.stdout.flush()  # a forked judge would otherwise write out what the grader had buffered
    sys.stderr.flush()
    try:
        while pending or running:
            while pending and len(running) < workers:
                name, path = pending.pop(0)
                receiving, sending = context.Pipe(duplex=False)
                process = context.Process(target=judge_process, daemon=True,
                                          args=(sending, name, path, settings, isolation, timeout, os.getpid()))
                process.start()
                sending.close()
                running.append(Running(name, path, process, receiving, time.monotonic()))
            deadline = min(r.started for r in running) + timeout + JUDGE_MARGIN
            wait([r.connection for r in running] + [r.process.sentinel for r in running],
                 timeout=max(0.0, deadline - time.monotonic()))
            for r in list(running):
                row = collect(r, timeout)
                if row is not None:
                    running.remove(r)
                    rows[r.name] = row
                    if on_row:
                        on_row(row)
    finally:
        for r in running:
            end(r)
    return [rows[name] for name, _ in submissions]


def collect(r: Running, timeout: float) -> Row | None:
    """The judge's row once it is over; None while it works within its time."""
    if r.connection.poll():
        try:
            row = r.connection.recv()
        except (EOFError, OSError):
            row = None
        r.process.join(5)  # it ends once the row is sent
        end(r)
        return row or Row(r.name, r.path, problem=f"the grader's judge failed (exit status {r.process.exitcode})")
    if not r.process.is_alive() or time.monotonic() - r.started > timeout + JUDGE_MARGIN:
        end(r)
        return Row(r.name, r.path, problem=f"the grader's judge did not finish (exit status {r.process.exitcode})",
                   seconds=time.monotonic() - r.started)
    return None


def end(r: Running) -> None:
    """The judge stopped (SIGTERM: it stops its sandbox; then SIGKILL) and joined."""
    if r.process.is_alive():
        r.process.terminate()
        r.process.join(5)
    if r.process.is_alive():
        r.process.kill()
    r.process.join()
    r.connection.close()


def printable(text: str) -> str:
    """text with every control character escaped (\\n, \\x1b, ...): a name or a reason cannot forge a row."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(text))


def table(rows: list[Row], settings, safe: bool, points=None) -> str:
    """One row per submission, one column per part; then, per submission, why each failed part failed.
    points: the rubric's (reference.grading.course.Rubric), for the score column."""
    names = [printable(row.name) for row in rows]
    width = max([len(name) for name in names] + [10]) + 2
    columns = {part: max(10, len(part) + 2) for part in settings.parts}  # part -> its width
    lines = [f"{'submission':<{width}}" + "".join(f"{part:>{w}}" for part, w in columns.items()) + f"{'score':>8}"]
    for name, row in zip(names, rows):
        passed, graded = points.score(row, settings) if points else row.score(settings)
        cells = "".join(f"{mark(row.parts.get(part)):>{w}}" for part, w in columns.items())
        lines.append(f"{name:<{width}}" + cells + f"{passed:>5g}/{graded:g}")
    for name, row in zip(names, rows):
        failed = [(part, row.parts[part]) for part in columns if part in row.parts and row.parts[part].ok is False]
        if not failed and not row.problem:
            continue
        lines += ["", f"{name}:"] + ([f"  {printable(row.problem)}"] if row.problem else [])
        for part, result in failed:
            lines.append(f"  {part}: {printable(result.reason)}")
            if not safe and result.detail:
                lines += [f"    {printable(line)}" for line in result.detail.splitlines()]
    return "\n".join(lines)


def mark(result: PartResult | None) -> str:
    return "-" if result is None else "n/a" if result.ok is None else "ok" if result.ok else "FAIL"


def write_json(rows, settings, path, safe: bool, timeout: float, status: str = "complete", extra=None,
               rubric=None) -> None:
    """The record, written atomically (a reader sees the last whole one): status says how far it got.
    rubric (reference.grading.course.Rubric): each submission's points and max_points too."""
    submissions = []
    for row in rows:
        entry = row.to_dict(settings, safe)
        if rubric is not None:
            entry["points"], entry["max_points"] = rubric.score(row, settings)
        submissions.append(entry)
    record = {"status": status, "settings": {**dataclasses.asdict(settings), "timeout": timeout, "student_safe": safe,
                                             **(extra or {})},
              "parts": settings.parts, "submissions": submissions}
    text = json.dumps(record, indent=2) + "\n"
    write_atomically(path, lambda file: file.write(text.encode()))

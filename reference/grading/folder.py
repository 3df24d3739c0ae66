"""Grade a folder of submissions: each in a process of its own, one row each, one column per part.

    python compare.py grade SUBMISSIONS_DIR [--student-safe] [--json grades.json] [--timeout 20]

A submission is a `.py` file or a Jupyter notebook (`.ipynb`, its code cells) in the folder, or a
sub-folder holding a package (`__init__.py`), a `submission.py` or a `submission.ipynb`; it defines
build, as reference.adapters.loader describes (and optionally CONVENTIONS).
reference.grading.submission grades the parts; this module keeps the grader standing whatever a
submission does. Each runs in a child process forked from the grader (so torch is imported once,
not once per submission), with one CPU thread, stdin closed, and its stdout and stderr, Python's
and the C library's, captured into a file of its own. The child sends each part's grade as soon as
it is decided, so a submission that raises, calls sys.exit, imports a module that is missing,
hangs or loops forever is a row with the parts it finished, the reason for the others, and never
a crashed grader: a child still running after --timeout seconds is killed. Printing is not a
fault: what a submission prints is kept (the JSON's `output`) and does not reach the table.
Fork is POSIX-only; the grader runs on Linux and macOS.
"""

import dataclasses
import json
import multiprocessing
import os
import resource
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401 - torch.optim's first step imports it (seconds): once here, not in every child
from threadpoolctl import threadpool_limits

from reference.adapters.loader import ImplementationError
from reference.atomic_file import write_atomically
from reference.child_lifetime import end_with_parent
from reference.grading.submission import GradeSettings, PartResult

OUTPUT_KEPT = 2000  # characters of a submission's output kept in the JSON (its last ones)
OUTPUT_LIMIT = 10 * 2**20  # bytes a submission may print; past it, its writes raise OSError (File too large)


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
        """Take one message of the child's: a part's PartResult, or the "problem" or "conventions" text."""
        if part in ("problem", "conventions"):
            setattr(self, part, result)
        else:
            self.parts[part] = result

    def score(self, settings: GradeSettings) -> tuple[int, int]:
        """(parts passed, parts graded): a part that does not apply (n/a) counts in neither."""
        graded = [self.parts.get(part) for part in settings.parts]
        return (sum(1 for r in graded if r is not None and r.ok),
                sum(1 for r in graded if r is None or r.ok is not None))

    def to_dict(self, settings: GradeSettings, safe: bool) -> dict:
        passed, graded = self.score(settings)
        missing = PartResult(False, f"not reached: {self.problem}")
        return {"name": self.name, "score": passed, "out_of": graded, "problem": self.problem,
                "parts": {part: self.parts.get(part, missing).to_dict(safe) for part in settings.parts},
                "conventions": self.conventions, "output": self.output,
                "seconds": round(self.seconds, 1)}


SUFFIXES = (".py", ".ipynb")  # a submission file: a module, or a notebook whose code cells are one


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(name, file to import) for every submission in the folder, by name; hidden and _private entries
    skipped. A .py and a .ipynb of the same stem are two submissions, each its own row named with its suffix."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix in SUFFIXES:
            found.append((entry.name, entry))
        elif entry.is_dir():
            package, notebook = entry / "__init__.py", entry / "submission.ipynb"
            found.append((entry.name + "/", entry if package.is_file() else
                          notebook if notebook.is_file() and not (entry / "submission.py").is_file()
                          else entry / "submission.py"))
    return found


def what_was_taken(folder: Path, submissions: list[tuple[str, Path]]) -> str:
    """A line naming what the grader took and what it passed over, where a reader could wonder: the
    folder mixes .py and .ipynb files, or holds files that are no submission; else ""."""
    taken = {name for name, _ in submissions}
    passed_over = [entry.name for entry in sorted(folder.iterdir())
                   if entry.name not in taken and entry.name + "/" not in taken
                   and not entry.name.startswith((".", "_"))]
    kinds = {Path(name).suffix for name in taken if not name.endswith("/")}
    if len(kinds) < 2 and not passed_over:
        return ""
    return (f"took {', '.join(sorted(taken))}"
            + (f"; passed over {', '.join(passed_over)} (neither a .py or .ipynb file nor a folder)"
               if passed_over else ""))


def child(path: Path, settings: GradeSettings, connection, output_fd: int, grader: int) -> None:
    """In the forked process: import the submission, grade it, send every result; then exit. It ends
    with the grader (its pid), even one killed with SIGKILL (reference.child_lifetime)."""
    end_with_parent(grader)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # input() gets EOF instead of waiting forever
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    for number in (signal.SIGINT, signal.SIGTERM):  # the grader's handlers are not the child's
        signal.signal(number, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_LIMIT, OUTPUT_LIMIT))  # a print loop cannot fill the disk
    torch.set_num_threads(1)  # thread pools spinning beside other submissions and processes only slow all down

    def send(part, result):
        connection.send((part, result))

    with threadpool_limits(limits=1):
        try:
            loaded = settings.load(path)
        except ImplementationError as error:
            send("problem", f"not loaded: {error}")
            return
        try:
            settings.run(loaded, send)
        except Exception as error:  # every call into the submission is guarded inside: this is the grader's
            send("problem", f"grading stopped: {type(error).__name__}: {error}")
    sys.stdout.flush()
    sys.stderr.flush()


@dataclass
class Running:
    row: Row
    process: multiprocessing.Process
    connection: object
    output: object   # the file the child's output goes to
    started: float


def grade_folder(folder: Path, settings: GradeSettings, timeout: float, workers: int = 1,
                 on_row=None) -> list[Row]:
    """Every submission graded in its own child process, `workers` at a time; on_row(row) as each ends."""
    context = multiprocessing.get_context("fork")
    submissions = find_submissions(folder)  # once: a submission may write files into the folder
    pending, rows, running = list(submissions), {}, []
    sys.stdout.flush()  # a forked child would otherwise write out what the grader had buffered
    sys.stderr.flush()
    while pending or running:
        while pending and len(running) < workers:
            name, path = pending.pop(0)
            receiving, sending = context.Pipe(duplex=False)
            output = tempfile.TemporaryFile()
            process = context.Process(target=child, args=(path, settings, sending, output.fileno(), os.getpid()),
                                      daemon=True)
            process.start()
            sending.close()
            running.append(Running(Row(name, path), process, receiving, output, time.monotonic()))
        deadline = min(r.started for r in running) + timeout
        wait([r.connection for r in running] + [r.process.sentinel for r in running],
             timeout=max(0.0, deadline - time.monotonic()))
        for r in list(running):
            if receive(r) or time.monotonic() - r.started > timeout:
                finish(r, timeout)
                running.remove(r)
                rows[r.row.name] = r.row
                if on_row:
                    on_row(r.row)
    return [rows[name] for name, _ in submissions]


def receive(r: Running) -> bool:
    """Take what the child sent; True when it is over (it said all, or the pipe closed)."""
    try:
        while r.connection.poll():
            r.row.record(*r.connection.recv())
    except (EOFError, OSError):  # the child ended: what it sent is all there is
        return True
    return False


def finish(r: Running, timeout: float) -> None:
    """Stop the child if it still runs, and say why parts are missing."""
    if r.process.is_alive():
        r.process.kill()
        r.row.problem = r.row.problem or f"timed out after {timeout:g} s (it hangs, or loops forever)"
    r.process.join()
    receive(r)
    code = r.process.exitcode
    if not r.row.problem and code:
        r.row.problem = (f"the process was killed by {signal.Signals(-code).name}" if code < 0
                         else f"the process ended with exit status {code} before it was graded (os._exit?)")
    r.row.seconds = time.monotonic() - r.started
    r.output.seek(max(0, r.output.seek(0, os.SEEK_END) - 4 * OUTPUT_KEPT))
    r.row.output = r.output.read().decode(errors="replace")[-OUTPUT_KEPT:]
    r.output.close()
    r.connection.close()


def table(rows: list[Row], settings: GradeSettings, safe: bool) -> str:
    """One row per submission, one column per part; then, per submission, why each failed part failed."""
    width = max([len(row.name) for row in rows] + [10]) + 2
    columns = {part: max(10, len(part) + 2) for part in settings.parts}  # part -> its width
    lines = [f"{'submission':<{width}}" + "".join(f"{part:>{w}}" for part, w in columns.items()) + f"{'score':>8}"]
    for row in rows:
        passed, graded = row.score(settings)
        cells = "".join(f"{mark(row.parts.get(part)):>{w}}" for part, w in columns.items())
        lines.append(f"{row.name:<{width}}" + cells + f"{passed:>5}/{graded}")
    for row in rows:
        failed = [(part, row.parts[part]) for part in columns if part in row.parts and row.parts[part].ok is False]
        if not failed and not row.problem:
            continue
        lines += ["", f"{row.name}:"] + ([f"  {row.problem}"] if row.problem else [])
        for part, result in failed:
            lines.append(f"  {part}: {result.reason}")
            if not safe and result.detail:
                lines += [f"    {line}" for line in result.detail.splitlines()]
    return "\n".join(lines)


def mark(result: PartResult | None) -> str:
    return "-" if result is None else "n/a" if result.ok is None else "ok" if result.ok else "FAIL"


def write_json(rows, settings: GradeSettings, path, safe: bool, timeout: float) -> None:
    record = {"settings": {**dataclasses.asdict(settings), "timeout": timeout, "student_safe": safe},
              "parts": settings.parts, "submissions": [row.to_dict(settings, safe) for row in rows]}
    text = json.dumps(record, indent=2) + "\n"
    write_atomically(path, lambda file: file.write(text.encode()))

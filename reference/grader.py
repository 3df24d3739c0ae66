"""Grade a folder of submissions: each in a process of its own, one row each, one column per part.

    python compare.py grade SUBMISSIONS_DIR [--student-safe] [--json grades.json] [--timeout 20]

A submission is a `.py` file in the folder, or a sub-folder holding a package (`__init__.py`) or a
`submission.py`; it defines build, as reference.implementation describes (and optionally
CONVENTIONS). reference.grading grades the parts; this module keeps the grader standing whatever a
submission does. Each runs in a child process forked from the grader (so torch is imported once,
not once per submission), with one CPU thread, stdin closed, and its stdout and stderr, Python's
and the C library's, captured into a file of its own. The child sends each part's grade as soon as
it is decided, so a submission that raises, calls sys.exit, imports a module that is missing,
hangs or loops forever is a row with the parts it finished, the reason for the others, and never
a crashed grader: a child still running after --timeout seconds is killed. Printing is not a
fault: what a submission prints is kept (the JSON's `output`) and does not reach the table.
Fork is POSIX-only; the grader runs on Linux and macOS.
"""

import argparse
import dataclasses
import json
import math
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
from threadpoolctl import threadpool_limits

import scratch_nn

from .atomic_file import write_atomically
from .grading import GradeSettings, PartResult
from .grading_kinds import add_kind_arguments, kind_settings
from .implementation import ImplementationError

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


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(name, file to import) for every submission in the folder, by name; hidden and _private entries skipped."""
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix == ".py":
            found.append((entry.name, entry))
        elif entry.is_dir():
            package = entry / "__init__.py"
            found.append((entry.name + "/", entry if package.is_file() else entry / "submission.py"))
    return found


def child(path: Path, settings: GradeSettings, connection, output_fd: int) -> None:
    """In the forked process: import the submission, grade it, send every result; then exit."""
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
            process = context.Process(target=child, args=(path, settings, sending, output.fileno()), daemon=True)
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


def add_grade_command(commands) -> None:
    """`compare.py grade`: its parser, registered beside train and check."""
    parser = commands.add_parser("grade", help="grade a folder of submissions part by part, each isolated "
                                               "(grade --help)", description=__doc__, epilog=EXIT_STATUS,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=grade_command)
    parser.add_argument("folder", metavar="SUBMISSIONS_DIR", help="a folder of .py files, or of folders with an "
                                                                  "__init__.py or a submission.py")
    parser.add_argument("--student-safe", action="store_true",
                        help="print and write no number torch computed (no checker tables, no detail in the "
                             "JSON), so that the output can be handed to students (default: the teacher's view)")
    parser.add_argument("--json", metavar="PATH", help="per submission and part: ok (true, false, null for n/a) "
                                                       "and the reason (default: none)")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                        help="per submission; one still running then is killed (default: 20)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="submissions graded at once; 2 did not help on a busy 2-core machine (see README) "
                             "(default: 1)")
    parser.add_argument("--activations", metavar="NAMES",
                        help="the activations graded, one column each; the first trains (default: sigmoid,relu; "
                             "not with --network or --engine)")
    parser.add_argument("--lr", type=float, default=GradeSettings.lr,
                        help=f"given to build, and the training run's (default: {GradeSettings.lr})")
    parser.add_argument("--seed", type=int, default=0, help="weights, inputs and data (default: 0)")
    add_kind_arguments(parser)
    parser.set_defaults(option_defaults=vars(parser.parse_args(["SUBMISSIONS_DIR"])))  # --engine refuses the rest


EXIT_STATUS = """exit status:
  0  every submission passed every part it was graded on
  1  some part of some submission failed (the table says which)
  2  bad options, or no submission in the folder; nothing was graded"""


def grade_command(args) -> int:
    prog = "compare.py grade"
    try:
        folder, settings = Path(args.folder), settings_from(args)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder: give the folder that holds the submissions")
        total = len(find_submissions(folder))
        if not total:
            raise ValueError(f"{folder} holds no submission: no .py file, and no folder with __init__.py or "
                             f"submission.py")
        json_folder = Path(args.json or ".").resolve().parent
        if args.json and not (json_folder.is_dir() and os.access(json_folder, os.W_OK | os.X_OK)):
            raise ValueError(f"--json {args.json}: cannot write in the folder {json_folder}")
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    started = time.monotonic()

    def progress(row):
        progress.done += 1
        print(f"graded {row.name} ({progress.done}/{total})", file=sys.stderr)
    progress.done = 0

    rows = grade_folder(folder, settings, args.timeout, args.workers, progress)
    print(f"grade: {total} submission(s) in {folder}; {settings.describe()}; timeout {args.timeout:g} s each"
          + ("; student-safe: no torch numbers" if args.student_safe else ""))
    print(table(rows, settings, args.student_safe))
    print(f"\ngraded in {time.monotonic() - started:.0f} s")
    if args.json:
        write_json(rows, settings, args.json, args.student_safe, args.timeout)
        print(f"JSON written to {args.json}")
    return 0 if all(row.score(settings)[0] == row.score(settings)[1] for row in rows) else 1


def settings_from(args):
    """The settings of the kind of submission graded: build's layers (GradeSettings), or grading_kinds'."""
    activations = tuple(name.strip() for name in (args.activations or ",".join(GradeSettings.activations)).split(","))
    unknown = [name for name in activations if name not in scratch_nn.ACTIVATIONS]
    if unknown or not activations:
        raise ValueError(f"--activations {args.activations!r}: choose from {', '.join(scratch_nn.ACTIVATIONS)}, "
                         f"separated by commas")
    for name, value, least in (("timeout", args.timeout, 0), ("lr", args.lr, 0), ("workers", args.workers, 1),
                               ("seed", args.seed, 0)):
        if not (math.isfinite(value) and (value > least if name in ("timeout", "lr") else value >= least)):
            above = "above" if name in ("timeout", "lr") else "at least"
            raise ValueError(f"--{name} {value!r}: must be a finite number {above} {least}")
    return kind_settings(args) or GradeSettings(activations=activations, lr=args.lr, seed=args.seed)

"""How long does grading a class take? `compare.py grade` on 20 submissions (copies of the textbook
implementation with its build, tests/implementations/submissions.py), with 1 and with 2 workers, and
what the sandbox costs each submission.

    python benchmarks/grading.py [--submissions 20] [--workers 1 2] [--isolation bwrap]

Prints first the sandbox's own cost: the time from starting a submission's worker to its build
imported (bwrap against a bare process: the difference is bubblewrap's), the median of 5; then the
wall time of each run, the CPU time the grader's judges and the workers used (the work, without the
waiting), and the machine's load average, since on a shared machine the other processes' use of the
cores is in the wall time.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the implementations: no package

from implementations.submissions import write

from reference.grading.folder import grade_folder
from reference.grading.remote import open_submission
from reference.grading.sandbox import Isolation, missing_tool
from reference.grading.submission import GradeSettings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--isolation", choices=("bwrap", "process"), default="bwrap")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.submissions):
            write(folder, f"student{i:03}.py", "textbook")
        print(f"cpus {os.cpu_count()}; load average before {os.getloadavg()[0]:.1f}")
        for kind in ("process", "bwrap"):
            if not missing_tool(kind):
                print(f"starting a worker and importing the submission, {kind}: "
                      f"{startup(Path(folder) / 'student000.py', Isolation(kind)):.2f} s (median of 5)")
        isolation = Isolation(args.isolation, cpu_seconds=300)
        for workers in args.workers:
            start, cpu = time.perf_counter(), children_cpu()
            rows = grade_folder(Path(folder), GradeSettings(), timeout=300, workers=workers, isolation=isolation)
            seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
            passed = sum(row.score(GradeSettings()) == (6, 6) for row in rows)
            print(f"{args.submissions} submissions, {workers} worker(s), {args.isolation}: {seconds:.1f} s "
                  f"({seconds / args.submissions:.2f} s each; {passed} passed every part); the judges' and "
                  f"workers' CPU time {cpu:.1f} s; load average {os.getloadavg()[0]:.1f}")
            for row in rows:  # every copy is correct: a row that is not names what went wrong (a busy machine?)
                if row.score(GradeSettings()) != (6, 6):
                    failed = [f"{part}: {result.reason}" for part, result in row.parts.items() if not result.ok]
                    print(f"  {row.name}: {row.problem or failed[0]}")


def startup(path: Path, isolation: Isolation) -> float:
    """Seconds from starting a worker to its answer that the submission is imported: the median of 5."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        with open_submission(path, isolation, timeout=60) as (client, _):
            client.load(client.started.inside)
        times.append(time.perf_counter() - start)
    return sorted(times)[2]


def children_cpu() -> float:
    """User and system CPU seconds of the grader's finished children: the work itself, whatever the wait."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()

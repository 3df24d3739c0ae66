"""How long does grading a class take? `compare.py grade` on 20 submissions (copies of the textbook
implementation with its build, tests/implementations/submissions.py), with 1 and with 2 workers.

    python benchmarks/grading.py [--submissions 20] [--workers 1 2]

Prints the wall time of each (the goal: 20 submissions under a minute), the CPU time the
submissions' processes used (the work, without the waiting), and the machine's load average, since
on a shared machine the other processes' use of the cores is in the wall time.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the implementations: no package

from implementations.submissions import write  # noqa: E402

from reference.grading.folder import grade_folder  # noqa: E402
from reference.grading.submission import GradeSettings  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.submissions):
            write(folder, f"student{i:02}.py", "textbook")
        print(f"cpus {os.cpu_count()}; load average before {os.getloadavg()[0]:.1f}")
        for workers in args.workers:
            start, cpu = time.perf_counter(), children_cpu()
            rows = grade_folder(Path(folder), GradeSettings(), timeout=60, workers=workers)
            seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
            passed = sum(row.score(GradeSettings()) == (6, 6) for row in rows)
            print(f"{args.submissions} submissions, {workers} worker(s): {seconds:.1f} s "
                  f"({seconds / args.submissions:.2f} s each; {passed} passed every part); the submissions' "
                  f"CPU time {cpu:.1f} s; load average {os.getloadavg()[0]:.1f}")


def children_cpu() -> float:
    """User and system CPU seconds of the grader's finished children: the work itself, whatever the wait."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()

"""A Gradescope autograder bundle: the project, setup.sh and run_autograder, in one zip to upload.

    python -m reference.grading.gradescope autograder.zip [--rubric rubric.toml] [-- GRADE_OPTIONS ...]

Gradescope unpacks the zip into /autograder/source, runs setup.sh once when it builds the image,
and run_autograder for every submission: the student's files are in /autograder/submission (a
submission.py, or a package with __init__.py), the results go to /autograder/results/results.json.
run_autograder grades the submission as one folder with `compare.py grade --student-safe
--gradescope`, so the student sees the reason of every failed part and never a number torch
computed; the rubric (if given) is bundled and applied. In bubblewrap's sandbox where the image
allows it (bwrap needs user namespaces, or root), else with --isolation process, which
results.json says. AUTOGRADER_ROOT (default /autograder) and PYTHON (default python3) can be set
to try the bundle on a folder laid out as Gradescope's.
"""

import argparse
import shlex
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("compare.py", "pyproject.toml", "constraints.txt", "scratch_nn", "reference")

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, building the autograder's image: bubblewrap, then the project and its pins.
set -euo pipefail
apt-get update -q && apt-get install -y -q bubblewrap python3 python3-pip
cd /autograder/source
python3 -m pip install --break-system-packages -c constraints.txt -e ".[torch]"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; the student's files are in $ROOT/submission.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{PYTHON:-python3}}"
work="$(mktemp -d)"
mkdir -p "$work/student" "$ROOT/results"
cp -r "$ROOT/submission/." "$work/student/"
isolation=bwrap
bwrap --ro-bind / / true 2>/dev/null || isolation=process
rubric=()
[ -f "$ROOT/source/rubric.toml" ] && rubric=(--rubric "$ROOT/source/rubric.toml")
cd "$ROOT/source"
"$PYTHON" compare.py grade "$work" --student-safe --isolation "$isolation" \\
    --gradescope "$ROOT/results/results.json" "${{rubric[@]}}" {options}
if [ ! -s "$ROOT/results/results.json" ]; then
  echo '{{"score": 0, "output": "No submission.py (or package with __init__.py) was found in the submission."}}' \\
    > "$ROOT/results/results.json"
fi
"""


def build_bundle(out: Path, rubric: Path | None = None, options=()) -> list[str]:
    """The zip at out: setup.sh, run_autograder (grade's options appended), rubric.toml, the project. Its names."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN.format(options=shlex.join(options)))):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable, as Gradescope runs them
            bundle.writestr(info, text)
        if rubric is not None:
            bundle.write(rubric, "rubric.toml")
        for entry in PROJECT:
            path = ROOT / entry
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
            for file in files:
                bundle.write(file, str(file.relative_to(ROOT)))
        return bundle.namelist()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference.grading.gradescope", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", metavar="BUNDLE.zip")
    parser.add_argument("--rubric", type=Path, metavar="TOML", help="points per part (compare.py grade --rubric)")
    parser.add_argument("options", nargs="*", metavar="GRADE_OPTIONS",
                        help="more options of compare.py grade, after --, e.g. -- --activations sigmoid,tanh")
    args = parser.parse_args(argv)
    if args.rubric is not None and not args.rubric.is_file():
        print(f"{parser.prog}: error: --rubric {args.rubric}: no such file", file=sys.stderr)
        return 2
    names = build_bundle(Path(args.out), args.rubric, args.options)
    print(f"wrote {args.out}: setup.sh, run_autograder and {len(names) - 2} more files; upload it as the "
          f"autograder of a Gradescope programming assignment")
    return 0


if __name__ == "__main__":
    sys.exit(main())

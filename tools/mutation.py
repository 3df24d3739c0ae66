"""Mutation testing of scratch_nn/ and reference/comparison.py: how many small changes to the code
the test suite lets through.

    python tools/mutation.py                 # a full run (minutes); `make mutation` runs this
    python tools/mutation.py --changed main  # only the mutable files changed since main (CI)

mutmut (settings in setup.cfg) copies the code into mutants/, makes every small change it knows
(an operator, a constant, an argument dropped, a string altered, ...) and runs the tests that
reach the changed function against each one. A mutant is killed when a test fails. A surviving
mutant is either a gap in the tests or an *equivalent* mutant, one no input can tell apart from
the original; those are listed, each with its reason, in tools/equivalent_mutants.toml. They are
matched by function and changed line, not by mutmut's numbering, which shifts when code moves;
when the code around an entry changes, its mutant survives unmatched and must be reviewed again.

Prints one line, e.g.
    mutation: 883 mutants, 873 killed, 10 equivalent (listed), 0 survived, 758 s
and exits 1 when any mutant survives unlisted (printing its diff), 0 otherwise.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tools" / "equivalent_mutants.toml"
MUTABLE = ("scratch_nn/", "reference/comparison.py")
SPINNER = tuple("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")  # the first character of mutmut's progress lines
KILLED = {1, 3, 36, -24, 24, 152, 255}  # a test failed, pytest broke, or the mutant hung (timeout)


def mutant_change(name: str, path: str) -> tuple[str, str, str]:
    """(function, lines removed, lines added) for a mutant, e.g. ("scratch_nn.optim.SGD.step", ...)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # needs the cwd at the repository root

    lines = get_diff_for_mutant(name, path=path).splitlines()[2:]  # drop the ---/+++ header
    removed = "\n".join(line[1:].strip() for line in lines if line.startswith("-"))
    added = "\n".join(line[1:].strip() for line in lines if line.startswith("+"))
    function = name.rpartition("__mutmut_")[0].replace(".x_", ".").replace(".xǁ", ".").replace("ǁ", ".")
    return function, removed, added


def read_results(paths) -> dict[str, tuple[str, int | None]]:
    """mutant name -> (source path, mutmut's exit code) for the mutants of the given files."""
    results = {}
    for path in paths:
        meta = ROOT / "mutants" / f"{path}.meta"
        if not meta.exists():  # mutmut writes none for a file without functions
            continue
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            results[name] = (path, code)
    return results


def mutable_files(changed_since: str | None) -> list[str]:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scratch_nn").rglob("*.py"))
    files.append("reference/comparison.py")
    if changed_since:
        out = subprocess.run(["git", "diff", "--name-only", changed_since, "--", *MUTABLE], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
        files = [f for f in files if f in out]
    return files


def keep_test_selection() -> None:
    """For --keep: record setup.cfg's test selection as the one mutmut's stats were collected with.
    Otherwise mutmut discards every verdict when a test file joins the selection and starts over;
    this way the added file's tests are collected as new tests and the old verdicts stand."""
    from mutmut.configuration import config

    stats = ROOT / "mutants" / "mutmut-stats.json"
    data = json.loads(stats.read_text())
    data["config_fingerprint"]["test_selection"] = config().config_fingerprint()["test_selection"]
    stats.write_text(json.dumps(data))


def run_mutmut(names, max_children) -> bool:
    """mutmut run [names]; on failure print its output and return False."""
    mutmut = Path(sys.executable).with_name("mutmut")
    # One BLAS/OpenMP thread per worker: the workers already fill the cores.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = subprocess.run([str(mutmut), "run", "--max-children", str(max_children), *names],
                         capture_output=True, text=True, env=env)
    if run.returncode != 0:
        # without mutmut's progress spinner, whose lines would fill the tail and hide pytest's report
        report = "\n".join(line for line in run.stdout.replace("\r", "\n").splitlines()
                           if line.strip() and not line.lstrip().startswith(SPINNER))
        print(report[-3000:], run.stderr[-3000:], sep="\n")
        print(f"mutation: mutmut run failed (exit {run.returncode}); its output is above")
    return run.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changed", metavar="REF", help="only the mutable files changed since this git ref")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--keep", action="store_true",
                        help="reuse mutants/ from the last run: mutmut retests the changed functions, then every "
                             "mutant not killed is retested by name (a killed mutant stays killed, so use this "
                             "only when tests or test files were added, not changed or removed)")
    args = parser.parse_args()
    os.chdir(ROOT)
    files = mutable_files(args.changed)
    if not files:
        print(f"mutation: no mutable file changed since {args.changed}; nothing to test")
        return 0
    if not args.keep:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    elif (ROOT / "mutants" / "mutmut-stats.json").exists():
        keep_test_selection()
    patterns = [f"{f[:-3].replace('/', '.').removesuffix('.__init__')}.*" for f in files] if args.changed else []
    print(f"mutation: mutmut run over {', '.join(files)} (minutes)...", file=sys.stderr, flush=True)
    start = time.monotonic()
    if not run_mutmut(patterns, args.max_children):
        return 2
    if args.keep:  # mutmut keeps old verdicts; retest what new tests may now kill
        alive = [name for name, (_, code) in read_results(files).items() if code not in KILLED]
        if alive and not run_mutmut(alive, args.max_children):
            return 2
    seconds = time.monotonic() - start

    results = read_results(files)
    listed = {(e["function"], e["was"], e["now"]): e for e in tomllib.loads(EQUIVALENT.read_text())["equivalent"]}
    killed, equivalent, matched, survived, unchecked = 0, 0, set(), [], []
    for name, (path, code) in sorted(results.items()):
        if code in KILLED:
            killed += 1
        elif code is None:
            unchecked.append(name)
        else:
            change = mutant_change(name, path)
            if change in listed:
                equivalent += 1
                matched.add(change)
            else:
                survived.append((name, code, change))
    for name, code, (function, removed, added) in survived:  # as an entry of the list, should it be equivalent
        print(f"\n# SURVIVED ({'no test reaches it' if code in (5, 33) else f'exit {code}'}): {name}\n[[equivalent]]\n"
              f"function = {json.dumps(function)}\nwas = {json.dumps(removed)}\nnow = {json.dumps(added)}\n"
              f'why = "..."')
    stale = [key for key in listed if key[0].startswith(tuple(f[:-3].replace('/', '.') for f in files))
             and key not in matched]
    for function, removed, added in stale:
        print(f"note: listed equivalent mutant no longer survives or exists, remove it from {EQUIVALENT.name}: "
              f"{function}: {removed!r} -> {added!r}")
    if unchecked:
        print(f"note: {len(unchecked)} mutants were not checked (run interrupted?), e.g. {unchecked[0]}")
    scope = f" (files changed since {args.changed})" if args.changed else ""
    print(f"mutation{scope}: {len(results)} mutants, {killed} killed, {equivalent} equivalent (listed), "
          f"{len(survived)} survived, {seconds:.0f} s")
    return 1 if survived or unchecked else 0


if __name__ == "__main__":
    sys.exit(main())

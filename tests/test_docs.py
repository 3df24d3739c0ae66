"""Every example in the documentation is run, and its output compared with what the page shows.

A block fenced as ```console in README.md or docs/*.md holds commands (lines starting with `$ `,
run from the repository root by bash, a trailing backslash continuing a command on the next line)
each followed by the output it prints (stdout and stderr together). A leading `python ` is this
interpreter, and the checkout is on PYTHONPATH, so the examples run against this checkout with this
environment's packages. The
output is compared line by line, trailing spaces ignored: a line `...` stands for any number of
lines (none included), and `...` inside a line for any text within that line, which is how a page
leaves out what depends on the machine (timings) or is too long to show. Blocks marked ```text or
```python are not run.

The pages also carry no issue numbers, commit hashes or dates: they describe the project as it is.
"""

import difflib
import functools
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from reference.training.data import DATA_ROOT_ENV

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```console\s*$")
# An example that trains reads MNIST: every `compare.py` command that is neither `check` nor
# `grade` nor asks only for help or the presets.
TRAINS = re.compile(r"compare\.py(?!\s+(check|grade)\b)(?!.*--(help|list-presets)\b)")
COMMAND_SECONDS = 120  # far above any example's few seconds: only a hung command reaches it


@dataclass
class Example:
    command: str
    expected: list[str]


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, counted from 1
    examples: list[Example]

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The ```console blocks of a page, each split into its commands and their outputs."""
    found, lines, index = [], page.read_text(encoding="utf-8").splitlines(), 0
    while index < len(lines):
        if not FENCE.match(lines[index]):
            index += 1
            continue
        start, index, examples = index + 1, index + 1, []
        while index < len(lines) and lines[index].strip() != "```":
            text = lines[index]
            if text.startswith("$ "):
                command = text[2:]
                while command.endswith("\\") and index + 1 < len(lines):
                    index += 1
                    command = command[:-1] + " " + lines[index].strip()
                examples.append(Example(command, []))
            elif examples:
                examples[-1].expected.append(text)
            else:
                raise AssertionError(f"{page.name}:{index + 1}: output before any `$ ` command")
            index += 1
        assert index < len(lines), f"{page.name}:{start}: the console block is never closed"
        found.append(Block(page, start, examples))
        index += 1
    return found


def line_pattern(expected: str) -> re.Pattern:
    """`...` inside an expected line matches any text within one line; the rest is literal."""
    return re.compile(".*".join(re.escape(part) for part in expected.split("...")))


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the output fits the expected lines, a line `...` standing for any number of lines."""

    @functools.cache
    def fits(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i] == "...":
            return fits(i + 1, j) or (j < len(actual) and fits(i, j + 1))
        return j < len(actual) and bool(line_pattern(expected[i]).fullmatch(actual[j])) and fits(i + 1, j + 1)

    return fits(0, 0)


def trimmed(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@functools.cache  # the README and a page may show the same example: it runs once
def run(command: str) -> list[str]:
    if command.startswith("python "):
        command = shlex.quote(sys.executable) + command[len("python"):]
    # This checkout importable (docs/examples/debug.py imports reference); a fixed width, so that
    # argparse wraps --help alike on any terminal; unbuffered, so that stdout and stderr interleave
    # in the order they were written.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=COMMAND_SECONDS, check=False)  # examples exit 1 or 2 on purpose
    return done.stdout.splitlines()


def example_params():
    params = []
    for page in PAGES:
        for block in blocks(page):
            trains = any(TRAINS.search(example.command) for example in block.examples)
            params.append(pytest.param(block, id=block.id, marks=[pytest.mark.mnist] if trains else []))
    return params


@pytest.mark.parametrize("block", example_params())
def test_console_example_prints_what_the_page_shows(block, request):
    if "mnist" in request.node.keywords:
        value = os.environ.get(DATA_ROOT_ENV)
        if not value:
            pytest.skip(f"{DATA_ROOT_ENV} is not set; this example trains on MNIST")
        assert (Path(value) / "MNIST" / "raw").is_dir(), f"{DATA_ROOT_ENV}={value} has no MNIST/raw"
    assert block.examples, f"{block.id}: a console block without a `$ ` command"
    for example in block.examples:
        expected, actual = trimmed(example.expected), trimmed(run(example.command))
        if not matches(expected, actual):
            diff = "\n".join(difflib.unified_diff(expected, actual, "the page shows", "the command printed",
                                                  lineterm=""))
            pytest.fail(f"{block.id}: `$ {example.command}` printed something else "
                        f"(`...` in the page matches anything):\n{diff}", pytrace=False)


# What a page must not carry: an issue number, a commit hash, a date.
STALE = {
    "an issue number": re.compile(r"\bissues? \d+|(?<![\w&])#\d+\b", re.IGNORECASE),
    "a commit hash": re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b"),
    "a date": re.compile(r"\b(19|20)\d\d-[01]\d-[0-3]\d\b"),
}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_page_names_no_issue_commit_or_date(page):
    found = [f"{page.name}:{number}: {what}: {match.group(0)!r}"
             for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
             for what, pattern in STALE.items() for match in pattern.finditer(line)]
    assert not found, "\n".join(found)


def test_the_example_machinery_tells_output_apart(tmp_path):
    """The matcher itself: a test that could not fail would pass every page."""
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert matches(["took ... s", "AGREE"], ["took 1.2 s", "AGREE"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["took ... s"], ["took 1.2 s", "extra"])
    assert not matches(["a ... z"], ["a b", "z"])  # `...` inside a line stays within it
    assert not matches(["AGREE"], ["DISAGREE"])
    assert not matches(["x (1.0)"], ["x 1.0"])  # the rest is literal, not a pattern
    block = Block(ROOT / "x.md", 1, [])
    assert block.id == "x.md:1"
    page = tmp_path / "page.md"
    page.write_text("text\n```console\n$ echo a \\\n  b\nout\n```\n", encoding="utf-8")
    [parsed] = blocks(page)
    assert parsed.line == 2 and parsed.examples == [Example("echo a  b", ["out"])]
    assert run(parsed.examples[0].command) == ["a b"]
    for what, pattern in STALE.items():
        assert not pattern.search("the 784-128-10 network, 47040016 bytes, p = 0.5"), what
    assert STALE["an issue number"].search("as issue 12 measured") and STALE["an issue number"].search("(#12)")
    assert STALE["a commit hash"].search("commit 1387d05,")
    assert STALE["a date"].search("on 2026-11-28")

"""What every command shares: argparse with one-line errors, the help layout, SIGTERM as an exception,
the check that an output can be written, and the number types of the options."""

import argparse
import contextlib
import math
import os
import signal
from pathlib import Path

EXIT_BAD_INPUT = 2  # bad options, settings, paths or data: found before any work starts
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2, as shells report it
EXIT_TERMINATED = 143  # SIGTERM (a closed terminal, a scheduler's time limit): 128 + 15


class Terminated(BaseException):
    """SIGTERM, raised in the main thread as Python raises KeyboardInterrupt for SIGINT."""


class Parser(argparse.ArgumentParser):
    """argparse with the problem on one line (usage is one --help away) and exit status 2; an option is
    only ever its full name (with abbreviations, --in would be taken for --init where there is no --in)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples and the exit-status table as written."""


@contextlib.contextmanager
def sigterm_raises_terminated():
    """SIGTERM stops the run as Ctrl-C does, so that what was measured is written."""
    def raise_terminated(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def unwritable(path, suffixes: tuple[str, ...] = ()) -> str | None:
    """What stops a file being written at path, and the fix ("is a folder: give a file name in it");
    None when nothing does. Checked before any work starts, so that a run never ends by losing its output."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        return f"give a file name ending in {' or '.join(suffixes)}"
    if path.is_dir():
        return "is a folder: give a file name in it"
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist; create it first or write elsewhere"
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"cannot write in the folder {folder} (permission denied); write elsewhere"
    return None


# argparse types for numbers: the problem in argparse's one line, naming what the value must be.
def whole_number(least: int, what: str):
    """An int of at least `least`, else "must be <what>; got ..."."""
    def parse(text) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text}")
        return value
    return parse


positive_int = whole_number(1, "a positive integer")
non_negative_int = whole_number(0, "a whole number, 0 or more")


def positive_float(text) -> float:
    """A finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number; got {text!r}")
    return value


def probability(text) -> float:
    """A number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a probability in (0, 1]; got {text!r}")
    return value

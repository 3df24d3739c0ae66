"""What every command shares: argparse with one-line errors, the help layout, the exit statuses,
the check that an output can be written, and the number types of the options."""

import argparse
import math

EXIT_BAD_INPUT = 2  # bad options, settings, paths or data: found before any work starts
EXIT_FAILED = 4  # an unexpected error (a bug, a full disk): never 1, which says the code compared disagrees
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2, as shells report it
EXIT_TERMINATED = 143  # SIGTERM (a closed terminal, a scheduler's time limit): 128 + 15


class Terminated(BaseException):
    """SIGTERM, raised in the main thread (reference.stop_signals) as Python raises KeyboardInterrupt for SIGINT."""


class Parser(argparse.ArgumentParser):
    """argparse with the problem on one line (usage is one --help away) and exit status 2; an option is
    only ever its full name (with abbreviations, --in would be taken for --init where there is no --in)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples and the exit-status table as written."""


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


def memory_size(text: str) -> int:
    """--max-memory's type: 512M, 4G, ... in bytes (reference.memory.parse_size)."""
    from reference.memory import parse_size  # NumPy: only where the option is given, so --help stays quick

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None

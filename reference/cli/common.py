"""What every command shares: argparse with one-line errors, the help layout, SIGTERM as an exception."""

import argparse
import contextlib
import signal

from reference.memory import parse_size

EXIT_BAD_INPUT = 2  # bad options, settings, paths or data: found before any work starts


class Terminated(BaseException):
    """SIGTERM, raised in the main thread as Python raises KeyboardInterrupt for SIGINT."""


class Parser(argparse.ArgumentParser):
    """argparse with the problem on one line (usage is one --help away) and exit status 2."""

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


def memory_size(text: str) -> int:
    """--max-memory's type: 512M, 4G, ... in bytes (reference.memory.parse_size)."""
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None

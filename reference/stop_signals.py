"""What SIGINT and SIGTERM do while a block runs: held back until it ends, or raised as an exception.

    with stop_signals_held():                # a file written whole: a Ctrl-C waits for the rename
        ...
    with stop_signals_raise(Interrupted):    # the signal stops the work as an exception the caller catches
        ...

Python runs signal handlers in the main thread only, between bytecodes, so both swap Python-level
handlers (not the signal mask: any thread, a BLAS pool's, may receive a process's signal) and
restore the previous ones when the block ends.
"""

import contextlib
import signal
import sys
import threading
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_signals_held(note: str | None = None):
    """Hold SIGINT and SIGTERM back while the block runs, so that what it writes stays consistent;
    the first that came is then handled as it would have been (note: said on stderr when one comes).
    In a thread other than the main one, where no handler runs, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []

    def hold(number, frame):
        held.append(number)
        if note:
            print(note, file=sys.stderr)

    try:
        with _handled_by(hold, STOP_SIGNALS) as previous:
            yield
    finally:
        if held:
            handler = previous[held[0]]
            if callable(handler):  # e.g. Python's KeyboardInterrupt, or an outer hold
                handler(held[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(held[0])


@contextlib.contextmanager
def stop_signals_raise(error: Callable[[int], BaseException], signals=STOP_SIGNALS):
    """While the block runs, each of signals raises error(its number) in the main thread, as Python
    raises KeyboardInterrupt for SIGINT: the work stops where it is, and the caller keeps what it has."""
    def stop(number, frame):
        raise error(number)

    with _handled_by(stop, signals):
        yield


@contextlib.contextmanager
def _handled_by(handler, signals):
    """handler for each of signals while the block runs; the previous handlers (given to the block)
    are put back when it ends."""
    previous = {number: signal.signal(number, handler) for number in signals}
    try:
        yield previous
    finally:
        for number, before in previous.items():
            signal.signal(number, before)

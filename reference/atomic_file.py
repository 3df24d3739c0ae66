"""Writing a file so that readers only ever see the old contents or the new, never a part.

The new contents go to a temporary file in the same folder (so the rename stays on one file
system), which then replaces the target with os.replace, an atomic rename on POSIX and Windows.
Two writers at once each rename their own complete file: the last rename wins, and the target
is valid at every moment. While the main thread writes, SIGINT and SIGTERM are held back (they
take effect as soon as the file is in place), so a Ctrl-C cannot leave a half-written file; any
other failure removes the temporary file and leaves the old one as it was.
"""

import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def write_atomically(path, write: Callable[[BinaryIO], None]) -> None:
    """Call write(stream) on a temporary file beside path, then put it in path's place."""
    path = Path(path)
    with stop_signals_held():
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())  # the data is on disk before the name points at it
            os.chmod(temporary, 0o644)  # mkstemp makes 0600; give it the mode open() gives under the usual umask
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


@contextlib.contextmanager
def stop_signals_held(note: str | None = None):
    """Hold SIGINT and SIGTERM back while the block runs, so that what it writes stays consistent;
    the first that came is then handled as it would have been (note: said on stderr when one comes).
    Python-level handlers are swapped
    rather than the signal mask, since any thread (a BLAS pool's) may receive a process's signal.
    Main thread only: Python runs signal handlers there, and only there can they interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []

    def hold(number, frame):
        held.append(number)
        if note:
            print(note, file=sys.stderr)

    previous = {number: signal.signal(number, hold) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if held:
            handler = previous[held[0]]
            if callable(handler):  # e.g. Python's KeyboardInterrupt, or an outer hold
                handler(held[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(held[0])

"""Writing a file so that readers only ever see the old contents or the new, never a part.

The new contents go to a temporary file in the same folder (so the rename stays on one file
system), which then replaces the target with os.replace, an atomic rename on POSIX and Windows.
Two writers at once each rename their own complete file: the last rename wins, and the target
is valid at every moment. While the main thread writes, SIGINT and SIGTERM are held back (they
take effect as soon as the file is in place), so a Ctrl-C cannot leave a half-written file; any
other failure removes the temporary file and leaves the old one as it was.

What is at the path is respected (reference.outputs checks it before a command's work): a regular
file keeps its mode (and, when root writes it, its owner); a new file gets the mode open() gives
under the user's umask; a symbolic link stays, the file it points to is replaced; a character
device (/dev/null, /dev/full) is written in place, never replaced by a file; anything else is an
error (IsADirectoryError, or OSError naming what it is), raised before anything is written.
"""

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from reference.stop_signals import stop_signals_held


def write_atomically(path, write: Callable[[BinaryIO], None]) -> None:
    """Call write(stream) on a temporary file beside path, then put it in path's place."""
    path = Path(os.path.realpath(path))
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISCHR(existing.st_mode):
        with stop_signals_held(), open(path, "wb") as stream:
            write(stream)
        return
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise IsADirectoryError(f"{path} is a folder") if stat.S_ISDIR(existing.st_mode) else OSError(
            f"{path} is not a regular file: it is not replaced")
    with stop_signals_held():
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())  # the data is on disk before the name points at it
                keep_owner_and_mode(stream.fileno(), existing)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def keep_owner_and_mode(descriptor: int, existing: os.stat_result | None) -> None:
    """mkstemp makes 0600: give the new file the old one's mode, or the mode open() would give a new
    file (0666 less the umask). Root replacing another user's file gives it back to its owner."""
    if existing is None:
        os.fchmod(descriptor, 0o666 & ~current_umask())
        return
    if os.geteuid() == 0 and (existing.st_uid, existing.st_gid) != (0, 0):
        os.fchown(descriptor, existing.st_uid, existing.st_gid)
    os.fchmod(descriptor, stat.S_IMODE(existing.st_mode))  # after fchown, which clears set-id bits


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc), else by setting it
    and setting it back."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as status:
            return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

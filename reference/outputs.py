"""Whether a command's output files can be written, checked before any work: one check for every command.

What is at an output's path decides how it is written (reference.atomic_file):
- nothing, or a regular file: a new file is written beside it and renamed into its place, so a reader
  sees the old contents or the new. The rename needs write and search permission on the folder, and in
  a sticky folder (/tmp, a shared folder with chmod +t) the file must be this user's or the folder's:
  otherwise the kernel refuses the rename (EPERM), so such a path is refused here, not after the work.
  A file that is not writable is refused too: its owner made it read-only.
- a character device (/dev/null, /dev/full, a terminal): written in place, as the shell's `>` would;
  renaming a file over it would replace the device node (as root) with a regular file.
- anything else (a folder, a FIFO, a socket, a block device) is refused: a FIFO would block the run
  until a reader came, and the others cannot hold the file.
A symbolic link is followed: the file it points to is written, the link stays.
Two outputs of one run at the same file (after links) are refused: the second would overwrite the first.
"""

import os
import stat
from pathlib import Path
from typing import NamedTuple


class OutputProblem(NamedTuple):
    name: str  # the option that named the path, without dashes: "json", "plot"
    path: str
    problem: str  # what is wrong and what to do, to follow "--name path: "


def output_problems(outputs: dict[str, str | os.PathLike | None]) -> list[OutputProblem]:
    """What stops each named output from being written (None paths are not asked for), then every
    output whose file is another's; empty when every output can be written."""
    problems, seen = [], {}
    for name, path in outputs.items():
        if path is None:
            continue
        problem = output_problem(path)
        if problem:
            problems.append(OutputProblem(name, str(path), problem))
            continue
        identity = _identity(path)
        if identity in seen:
            problems.append(OutputProblem(name, str(path), f"is also the --{seen[identity]} output's file: "
                                                           f"give each output a path of its own"))
        seen.setdefault(identity, name)
    return problems


def output_problem(path) -> str | None:
    """Why path cannot be written as an output, or None when it can."""
    target = Path(os.path.realpath(path))
    try:
        status = os.stat(target)
    except FileNotFoundError:
        status = None
    except OSError as error:
        return f"cannot be looked at ({error.strerror})"
    if status is not None and stat.S_ISDIR(status.st_mode):
        return "is a folder: give a file name in it"
    if status is not None and stat.S_ISCHR(status.st_mode):
        return None if os.access(target, os.W_OK) else "is a device this user cannot write"
    if status is not None and not stat.S_ISREG(status.st_mode):
        return f"is a {_kind(status.st_mode)}, not a file: give the path of a file"
    folder = target.parent
    if not folder.is_dir():
        return f"cannot write in the folder {folder}: it does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in the folder {folder}"
    if status is None:
        return None
    if not os.access(target, os.W_OK):
        return "is read-only: make it writable (chmod u+w) or give another path"
    folder_status = os.stat(folder)
    user = os.geteuid()
    if folder_status.st_mode & stat.S_ISVTX and user not in (0, status.st_uid, folder_status.st_uid):
        return (f"belongs to another user in the sticky folder {folder}, where only its owner may replace it: "
                f"give another path")
    return None


def _identity(path):
    """The same file, whichever of its names (links, relative paths, hard links) the path is."""
    target = os.path.realpath(path)
    try:
        status = os.stat(target)
        return status.st_dev, status.st_ino
    except FileNotFoundError:
        return target


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"

"""A child process that ends when the process that started it ends, however that one ends.

A child that waits on a pipe sees its parent's death as an end of file, but only when it next
reads: one busy in a long epoch, or stuck, would live on as an orphan holding a core. On Linux
the kernel can send the child a signal when its parent dies (prctl PR_SET_PDEATHSIG), SIGKILL
of the parent included. The signal is tied to the thread that forked the child, so the fork must
come from a thread that lives as long as the parent (the main thread, as here). Elsewhere, and
wherever prctl is refused, a daemon thread polls the parent's pid instead.
"""

import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 0.5  # how soon a polling child notices that its parent is gone


def end_with_parent(parent_pid: int) -> None:
    """Call first thing in the child: from now on it is killed when parent_pid ends. If the parent
    already ended before this ran (the race between fork and prctl), the child ends now."""
    if not _kernel_kills_orphan():
        threading.Thread(target=_poll_parent, args=(parent_pid,), daemon=True, name="parent watch").start()
    if os.getppid() != parent_pid:  # reparented already: the parent died before the request
        os._exit(1)


def _kernel_kills_orphan() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _poll_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        threading.Event().wait(POLL_SECONDS)
    os._exit(1)

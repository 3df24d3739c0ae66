"""Where a submission's worker runs: a bubblewrap sandbox, or (asked for explicitly) a bare process.

bubblewrap ("bwrap", Debian's package bubblewrap) gives the worker its own view of the disk: the
system and the Python installation read-only, the site-packages without the modules the course
hides (torch, jax, ...: their files are simply not there), of the project only what the worker
imports (scratch_nn, reference.adapters, the worker and its wire format: no other grading file),
and the submission copied into a private folder, the only place it can write. It has no network
(--unshare-net), its own PID namespace (--unshare-pid: it sees no other process, and when the
sandbox ends every process started inside ends with it) and its own session (--new-session), and
it dies with the grader (--die-with-parent). Run as root, the worker then drops to a uid of its own
(one per judge process, so no two running workers share one): it cannot signal the grader, read what
only root reads, or fork past its process limit (the kernel does not count root's processes).

--isolation process is the weaker fallback where bubblewrap is missing: the worker runs in its own
process group, killed as a whole at the end, with the same resource limits, inherited descriptors
closed and the submission copied into a private folder; it sees the whole disk, the network and the
grader's processes, and the modules are hidden from Python's import only.

Resource limits (LIMITS, set by the worker on itself before it imports the submission): address
space, CPU seconds, file size (what it prints is capped so), open files; processes where the worker
runs under a uid of its own.
"""

import math
import os
import shutil
import signal
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the worker imports of the project: the only project files the sandbox shows.
WORKER_FILES = ("scratch_nn", "reference/__init__.py", "reference/adapters", "reference/choices.py",
                "reference/comparison.py", "reference/loss_names.py", "reference/tolerances.py",
                "reference/grading/__init__.py", "reference/grading/worker.py", "reference/grading/wire.py")
HIDDEN = ("torch", "functorch", "torchgen", "jax", "jaxlib", "tensorflow", "keras", "autograd", "triton", "nvidia")
OUTPUT_LIMIT = 10 * 2**20  # bytes a submission may print; past it, its writes fail (File too large)
PROCESSES = 64             # processes (threads count too) of one worker's uid
TORCH_ADDRESS_SPACE = 16 * 2**30  # bytes: importing torch (CPU) maps about 6 GiB of virtual memory
# Root runs each worker under uid UID_BASE + the pid of the judge that started it: unique among the judges alive,
# whatever runs at once (workers, other grading runs), so that killing every process of that uid kills only it.
UID_BASE = 1_000_000_000
PID_RANGE = 2**22  # Linux's largest pid_max
INSTALL_HINT = ("bubblewrap (bwrap) is not installed: install it (Debian/Ubuntu: apt-get install bubblewrap), "
                "or pass --isolation process to accept the weaker isolation")
BOOT = "import sys; sys.path.insert(0, {root!r}); from reference.grading.worker import main; main()"


@dataclass(frozen=True)
class Isolation:
    """How the workers run: "bwrap" or "process"; the memory (MiB) and CPU seconds each may use; the
    top-level modules hidden from the graded code."""

    kind: str = "bwrap"
    memory_mb: int = 2048
    cpu_seconds: float = 60.0
    hidden: tuple[str, ...] = HIDDEN

    def limits(self, uid) -> dict:
        # torch maps gigabytes of address space it never touches: where it is shown, that much more
        extra = 0 if "torch" in self.hidden else TORCH_ADDRESS_SPACE
        limits = {"RLIMIT_AS": self.memory_mb * 2**20 + extra, "RLIMIT_CPU": math.ceil(self.cpu_seconds) + 1,
                  "RLIMIT_FSIZE": OUTPUT_LIMIT, "RLIMIT_NOFILE": 256, "RLIMIT_CORE": 0}
        return {**limits, "RLIMIT_NPROC": PROCESSES} if uid is not None else limits  # root: a uid of its own


def isolation_for(kind: str = "bwrap", memory_mb: int = Isolation.memory_mb, cpu_seconds: float = 60.0,
                  allowed=()) -> Isolation:
    """The isolation of a run, whatever its kind (build's layers, --network, --engine: the grader judges them
    all): the worker sees the worker's files, and every module of HIDDEN but those allowed is hidden."""
    return Isolation(kind, memory_mb, cpu_seconds, tuple(name for name in HIDDEN if name not in allowed))


def missing_tool(kind: str) -> str | None:
    """The one-line reason where the isolation asked for cannot be had (bwrap missing, or unable to make a
    sandbox here: no user namespaces, say), else None."""
    if kind != "bwrap":
        return None
    if shutil.which("bwrap") is None:
        return INSTALL_HINT
    tried = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-pid", "true"], capture_output=True, text=True)
    if tried.returncode:
        return (f"bubblewrap cannot make a sandbox here ({tried.stderr.strip()[:200]}): allow it (user namespaces, "
                f"or run as root), or pass --isolation process to accept the weaker isolation")
    return None


@dataclass
class Started:
    process: subprocess.Popen
    folder: Path          # the private copy's parent, removed at the end
    inside: str           # the submission's path as the worker sees it
    uid: int | None       # the worker's own uid, where it drops to one


def start(submission: Path, isolation: Isolation, output) -> Started:
    """The worker started on a private copy of the submission; output: the file its prints go to."""
    folder = Path(tempfile.mkdtemp(prefix="grade-"))
    work = folder / "submission"
    work.mkdir()
    source = submission.parent if submission.name in ("__init__.py", "submission.py") else submission
    copy = work / source.name
    if source.is_dir():
        shutil.copytree(source, copy, symlinks=True)
    else:
        shutil.copy2(source, copy, follow_symlinks=False)
    # Root drops to a uid of its own inside bwrap (where the Python installation is bound readable).
    uid = UID_BASE + os.getpid() if os.geteuid() == 0 and isolation.kind == "bwrap" else None
    if uid is not None:
        for path in [work, *work.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
    os.chmod(folder, 0o711)
    inside_root = "/submission" if isolation.kind == "bwrap" else str(work)
    relative = (copy / submission.name if source.is_dir() else copy).relative_to(work)
    env = {"PATH": "/usr/bin:/bin", "HOME": inside_root, "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if isolation.kind == "bwrap":
        command = [*bwrap_arguments(work, isolation.hidden, uid), sys.executable, "-I", "-c",
                   BOOT.format(root="/grader")]
        cwd = None
    else:
        command, cwd = [sys.executable, "-I", "-c", BOOT.format(root=str(ROOT))], str(work)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=output, cwd=cwd,
                               env=env, close_fds=True, start_new_session=True, umask=0o022)
    return Started(process, folder, f"{inside_root}/{relative}", uid)


def bwrap_arguments(work: Path, hidden, uid) -> list[str]:
    """bwrap's command line: the system read-only, site-packages without the hidden modules, the worker's
    project files, the private copy writable, and nothing shared that the worker does not need."""
    arguments = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                 "--unshare-uts", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr",
                 "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    if uid is None:
        arguments += ["--unshare-user"]
    else:  # root: no capability but the one the worker needs to drop to its uid
        arguments += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(name):
            arguments += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            arguments += ["--ro-bind", name, name]
    for prefix in dict.fromkeys((sys.base_prefix, sys.prefix)):
        if not prefix.startswith("/usr/"):
            arguments += ["--ro-bind", prefix, prefix]
    for packages in dict.fromkeys(site.getsitepackages()):
        if os.path.isdir(packages):
            arguments += ["--tmpfs", packages]
            for entry in sorted(os.listdir(packages)):
                if top_name(entry) not in hidden:
                    arguments += ["--ro-bind", f"{packages}/{entry}", f"{packages}/{entry}"]
    for relative in WORKER_FILES:
        arguments += ["--ro-bind", str(ROOT / relative), f"/grader/{relative}"]
    return readable_parents(arguments + ["--bind", str(work), "/submission", "--chdir", "/submission"])


def readable_parents(arguments: list[str]) -> list[str]:
    """The arguments, each bind's missing parent folders first made 0755 (bwrap makes them 0700, which a
    worker that dropped root could not enter)."""
    made, result = {"/", "/usr"}, []
    for i, argument in enumerate(arguments):
        if argument in ("--ro-bind", "--bind", "--ro-bind-try", "--tmpfs", "--symlink"):
            destination = arguments[i + (1 if argument == "--tmpfs" else 2)]
            for parent in reversed(Path(destination).parents):
                if str(parent) not in made:
                    made.add(str(parent))
                    result += ["--perms", "0755", "--dir", str(parent)]
        result.append(argument)
    return result


def top_name(entry: str) -> str:
    """The module a site-packages entry installs: "torch-2.5.dist-info" -> "torch", "jax" -> "jax"."""
    return entry.split("-")[0].split(".")[0].lower()


def stop(started: Started) -> None:
    """Every process of the worker ended (its group; in bwrap, its whole PID namespace; under its own uid,
    every process of that uid), and its private folder removed."""
    process = started.process
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    if started.uid is not None:
        kill_uid(started.uid)
    for stream in (process.stdin, process.stdout):
        stream.close()
    shutil.rmtree(started.folder, ignore_errors=True)


def kill_uid(uid: int) -> None:
    """kill(-1, SIGKILL) as that uid: every process it owns, wherever it went (setsid, double fork)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)

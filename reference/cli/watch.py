"""`compare.py check ... --watch`: check again every time the user's file is saved.

    python compare.py check layer my_layers.py:Linear --twin linear --in 784 --out 128 --watch

The process stays up, so torch and the checker are imported once (seconds) and each check after a
save costs only itself (a fraction of a second for a 784-128-10 network: benchmarks/startup.py).
The files watched are those the options name (--layer, --implementation, --network, --engine,
--mlp, --update-rule, --factory: a .py or .ipynb path, or an importable module's file). Their
modification time and size are polled every POLL seconds (no file-system events: the same on
every OS and editor, including editors that save by writing a new file and renaming it).

Before each check the user's modules are forgotten: every module imported since the watch began
whose file lies in a watched file's folder, so that a file the watched one imports (layers.py
beside my_net.py) is read again too. A save that leaves the file broken (half written, a syntax
error) is one line, as any check that cannot run, and the watch waits for the next save.

Ctrl-C ends the watch: exit status 130, as for any interrupted check.
"""

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

from reference.adapters import loader

POLL = 0.1  # seconds between looks at the files (one stat call a file): a new verdict within POLL + the check
SETTLE = 0.05  # a change must hold this long before the check reads it: an editor may still be writing
FILE_OPTIONS = ("layer", "implementation", "network", "engine", "mlp", "update_rule", "factory")
EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 2, 130


def watched_files(args) -> list[Path]:
    """The user's files the options name, resolved; an importable module name by its file."""
    files = []
    for option in FILE_OPTIONS:
        value = getattr(args, option, None)
        if not isinstance(value, str) or not value:
            continue
        module = value.rpartition(":")[0] if ":" in value else value
        if module.endswith((".py", ".ipynb")) or Path(module).is_dir():
            files.append(Path(module).resolve())
            continue
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and Path(spec.origin).is_file():
            files.append(Path(spec.origin).resolve())
    return list(dict.fromkeys(files))


def stamp(path: Path):
    """What changes when the file is saved: its modification time and size; None while it is missing."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def forget_user_modules(before: set, folders: set) -> None:
    """Drop the modules imported since the watch began that live in the user's folders, and the
    loader's cache, so that the next check imports the user's code as it is now on disk."""
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None)
        if file and Path(file).resolve().parent in folders:
            del sys.modules[name]
    loader.load_module.cache_clear()


def settled(files: list[Path], stamps: list, poll: float) -> None:
    """Return once the files differ from stamps and have stopped changing for SETTLE seconds, so that a
    file being written (truncated, then filled) is read once it is whole."""
    while True:
        now = [stamp(file) for file in files]
        if now != stamps:
            time.sleep(SETTLE)
            if [stamp(file) for file in files] == now:
                return
        time.sleep(poll)


def watch(args, check_once, poll: float = POLL) -> int:
    """check_once(args) now and after every save of the watched files, until Ctrl-C (exit 130)."""
    files = watched_files(args)
    if not files:
        print(f"{args.prog} check {args.kind}: error: --watch watches your code's file: give "
              f"a .py or .ipynb file to check layer, implementation, whole-network, engine or update-rule",
              file=sys.stderr)
        return EXIT_CANNOT_RUN
    once = argparse.Namespace(**{**vars(args), "watch": False})
    folders = {file.parent if file.is_file() or file.suffix else file for file in files}
    before = set(sys.modules)
    names = ", ".join(file.name for file in files)
    try:
        while True:
            stamps = [stamp(file) for file in files]
            forget_user_modules(before, folders)
            started = time.perf_counter()
            code = check_once(once)
            if code == EXIT_INTERRUPTED:
                return EXIT_INTERRUPTED
            print(f"\n[watch] exit {code} after {time.perf_counter() - started:.2f} s; waiting for {names} to be "
                  f"saved (Ctrl-C ends)", flush=True)
            settled(files, stamps, poll)
            print(f"\n[watch] {names} saved: checking again\n", flush=True)
    except KeyboardInterrupt:
        print("\n[watch] stopped", file=sys.stderr)
        return EXIT_INTERRUPTED

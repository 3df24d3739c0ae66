"""The walk of a command through the project's modules: which modules it calls into, in order.

    python tools/walk.py check layer tests/implementations/textbook.py:Linear

Runs `compare.py ARGS` in this process with a profile hook on: every Python call whose code lives
in `reference/`, counted once every module is imported (a first run, untraced, imports them), so
that the trace is the walk and not the imports.
Prints the modules in the order first visited, the command-line ones marked, and the counts: what
docs/architecture.md shows for a user's layer.
"""

import contextlib
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reference"


def module_of(filename: str) -> str | None:
    """reference/cli/check.py -> "cli.check"; None for code outside reference/."""
    path = Path(filename)
    if PACKAGE not in path.parents:
        return None
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "reference"


def run(argv: list[str]) -> int:
    from reference.cli.main import main
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return main(argv) or 0
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else 1


def walk(argv: list[str]) -> list[str]:
    """The modules the command calls into, in the order of their first visit."""
    run(argv)  # imports everything the command needs
    stops = []

    def profile(frame, event, arg):
        if event == "call" and (module := module_of(frame.f_code.co_filename)):
            stops.append(module)

    sys.setprofile(profile)
    try:
        run(argv)
    finally:
        sys.setprofile(None)
    return list(dict.fromkeys(stops))


def main() -> None:
    sys.path.insert(0, str(ROOT))
    modules = walk(sys.argv[1:])
    commands = [module for module in modules if module.startswith("cli")]
    for module in modules:
        print(f"  {module}{'   (command line)' if module in commands else ''}")
    print(f"{len(modules)} modules, {len(commands)} of them command-line modules")


if __name__ == "__main__":
    main()

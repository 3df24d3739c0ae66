"""A Jupyter notebook read as a Python module: its code cells, in order, are the module's source.

    python compare.py check --layer my_work.ipynb:Linear
    python compare.py --implementation my_net.ipynb:build --spec 784-128-10

Cells are read with nbformat (any notebook version it reads, converted to v4). Markdown and raw
cells are not code. IPython's own syntax is not Python: a line magic (`%timeit ...`), a cell magic
(`%%time` and the rest of its cell), a shell line (`!pip install ...`) and a help query
(`np.dot?`) are left out, and a note on stderr lists each by cell and line, so the user sees what
did not run. Everything else runs as a .py file's top level would, so a cell that trains for an
hour trains for an hour: keep what a check loads (classes, functions) free of long work, or put
the long work under `if __name__ == "__main__":`, which is false when the notebook is loaded.

Each skipped line is replaced by an empty one, so a traceback's line numbers are the cells'
lines joined; the loader's errors name the notebook file.
"""

import ast
import importlib.abc
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".ipynb"


@dataclass(frozen=True)
class Skipped:
    cell: int   # 1-based, counting code cells only, as a reader counts In [ ] boxes
    line: int   # 1-based within the cell
    text: str


# What IPython rewrites before Python sees it: a line magic or shell escape, either alone or assigned
# (`files = !ls`), and a help query (`np.dot?`, `??Linear`).
IPYTHON_LINE = re.compile(r"^\s*(\w+\s*=\s*)?[%!]|^\s*(\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$")


def is_python(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def notebook_source(path: Path) -> tuple[str, list[Skipped]]:
    """(the code cells joined into one module's source, what was left out). ValueError if it is no notebook."""
    import nbformat  # here: importing reference.adapters must not need the notebook extra

    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises JSON, schema and key errors alike for a broken file
        raise ValueError(f"{path} is not a readable notebook ({type(error).__name__}: {error}); "
                         f"save it again from Jupyter, or export its code to a .py file") from None
    lines, skipped = [], []
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        cell_lines = cell.source.splitlines()
        # Only a cell that is not Python as it stands is searched, so that a line of a string or an
        # expression continued onto a line that starts with % is never taken for a magic.
        plain = is_python(cell.source)
        cell_magic = not plain and cell_lines[0].lstrip().startswith("%%")
        for index, line in enumerate(cell_lines, start=1):
            if not plain and (cell_magic or IPYTHON_LINE.match(line)):
                skipped.append(Skipped(number, index, line.strip()))
                line = ""
            lines.append(line)
        lines.append("")  # cells are separate blocks: one's last statement never continues into the next
    return "\n".join(lines) + "\n", skipped


def describe(path: Path, skipped: list[Skipped]) -> str:
    """The note printed when lines were left out: one line, each skipped line by cell and line."""
    listed = "; ".join(f"cell {s.cell} line {s.line}: {s.text}" for s in skipped[:8])
    more = f"; and {len(skipped) - 8} more" if len(skipped) > 8 else ""
    return (f"note: {path.name}: skipped {len(skipped)} IPython-only line(s), which plain Python cannot run "
            f"({listed}{more})")


class NotebookLoader(importlib.abc.SourceLoader):
    """importlib's loader for a .ipynb file: get_data gives the code cells' source, so tracebacks,
    inspect.getsource and the loader's error handling work as for a .py file."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def get_filename(self, fullname=None) -> str:
        return str(self.path)

    def get_data(self, path) -> bytes:
        try:
            source, skipped = notebook_source(self.path)
        except ValueError as error:
            raise ImportError(str(error)) from None
        if skipped:
            print(describe(self.path, skipped), file=sys.stderr)
        return source.encode()

    def path_stats(self, path):
        raise OSError("no bytecode cache for a notebook")  # SourceLoader then compiles from get_data each time


def loader_for(file: Path):
    """The loader importlib should use for the user's file: ours for a notebook, None (its own) otherwise."""
    return NotebookLoader(file) if Path(file).suffix == SUFFIX else None
